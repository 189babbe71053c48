"""Per-token activation quantization for a dynamically quantized ONNX graph (issue 15, docs/inference.md).

onnxruntime's dynamic quantization (DynamicQuantizeLinear -> MatMulInteger) takes one scale and zero
point per activation tensor, i.e. per ORT run: a document's int8 inputs, and so its label, depend on
the other documents and the padding of its batch. This rewrite gives every token row its own
symmetric int8 scale (absmax over the hidden axis / 127), so a document's scores no longer depend
on its batch. The int8 values travel as uint8 with zero point 128 (ORT's fast u8s8 GEMM path). The int8 weights, their per-channel scales and the graph's other nodes are kept.

    python training/per_token_quant.py --model models/finsentry-sentiment/model_quantized.onnx --out X.onnx
"""

import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def hidden_width(weights: list[str], g: onnx.GraphProto) -> int:
    """The input width of the MatMulIntegers an activation feeds: their int8 weights' first dimension."""
    dims = {i.name: list(i.dims) for i in g.initializer}
    widths = {dims[w][0] for w in weights}
    if len(widths) != 1:
        raise SystemExit(f'weights {weights}: input widths {widths}, expected one')
    return widths.pop()


def rewrite(model: onnx.ModelProto) -> int:
    """Replaces every DynamicQuantizeLinear by per-token symmetric int8; returns how many.

    The activation scale handed to the graph's own scale product becomes 1; the per-token scale
    multiplies the float result after it, one Mul per MatMulInteger. (ORT then leaves MatMulInteger,
    Cast and Mul apart; one hand-written MatMulIntegerToFloat per chain was no faster.)
    """
    g = model.graph
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    constants = {
        'ptq_eps': np.array(1e-8, dtype=np.float32),
        'ptq_127': np.array(127.0, dtype=np.float32),
        'ptq_one': np.array(1.0, dtype=np.float32),
        'ptq_flat': np.array([-1], dtype=np.int64),
        'ptq_zero_point': np.array(128, dtype=np.uint8),
    }
    g.initializer.extend(numpy_helper.from_array(v, k) for k, v in constants.items())
    # Per output of a MatMulInteger → Cast → Mul chain fed by a rewritten node: the token scale to apply.
    token_scale_after: dict[str, str] = {}
    # Per fused QAttention fed by a rewritten node: its input's token scale (see attention_nodes).
    attention_token_scale: dict[str, str] = {}
    out_nodes: list[onnx.NodeProto] = []
    count = 0
    for n in g.node:
        if n.op_type != 'DynamicQuantizeLinear':
            out_nodes.append(n)
            continue
        x = n.input[0]
        xq, xs, xzp = n.output
        p = f'{n.name}_ptq'
        tok = f'{p}_token_scale'
        mm_weights = []
        for mm in consumers.get(xq, []):
            if mm.op_type == 'QAttention' and mm.input[0] == xq:
                attention_token_scale[mm.name] = tok
                mm_weights.append(mm.input[1])
                continue
            if mm.op_type != 'MatMulInteger' or mm.input[0] != xq:
                raise SystemExit(f'{n.name}: quantized output used by {mm.op_type} other than as MatMulInteger A')
            (cast,) = consumers[mm.output[0]]
            (mul,) = consumers[cast.output[0]]
            if cast.op_type != 'Cast' or mul.op_type != 'Mul':
                raise SystemExit(f'{mm.name}: expected MatMulInteger -> Cast -> Mul')
            token_scale_after[mul.output[0]] = tok
            mm_weights.append(mm.input[1])
        width = hidden_width(mm_weights, g)
        out_nodes += [
            helper.make_node('Abs', [x], [f'{p}_abs']),
            helper.make_node('ReduceMax', [f'{p}_abs'], [f'{p}_absmax'], axes=[-1], keepdims=1),
            helper.make_node('Max', [f'{p}_absmax', 'ptq_eps'], [f'{p}_range']),
            helper.make_node('Div', [f'{p}_range', 'ptq_127'], [tok]),
            # One QuantizeLinear over the rows (tokens) of x, with the row's scale (per-axis, axis 0):
            # round, saturate and shift in one kernel.
            helper.make_node('Constant', [], [f'{p}_rows_shape'], value=numpy_helper.from_array(np.array([-1, width], dtype=np.int64))),
            helper.make_node('Reshape', [x, f'{p}_rows_shape'], [f'{p}_rows']),
            helper.make_node('Reshape', [tok, 'ptq_flat'], [f'{p}_row_scale']),
            helper.make_node('Shape', [f'{p}_row_scale'], [f'{p}_row_count']),
            helper.make_node('Expand', ['ptq_zero_point', f'{p}_row_count'], [f'{p}_row_zero_point']),
            helper.make_node('QuantizeLinear', [f'{p}_rows', f'{p}_row_scale', f'{p}_row_zero_point'], [f'{p}_rows_q'], axis=0),
            helper.make_node('Shape', [x], [f'{p}_shape']),
            helper.make_node('Reshape', [f'{p}_rows_q', f'{p}_shape'], [xq]),
            helper.make_node('Identity', ['ptq_zero_point'], [xzp]),
            helper.make_node('Identity', ['ptq_one'], [xs]),
        ]
        count += 1
    nodes: list[onnx.NodeProto] = []
    for n in out_nodes:
        if n.op_type == 'QAttention' and n.name in attention_token_scale:
            nodes += attention_nodes(n, attention_token_scale[n.name], g)
            continue
        nodes.append(n)
        if n.op_type == 'Mul' and n.output[0] in token_scale_after:
            y = n.output[0]
            n.output[0] = f'{y}_before_token_scale'
            nodes.append(helper.make_node('Mul', [n.output[0], token_scale_after[y]], [y]))
    del g.node[:]
    g.node.extend(nodes)
    # Scales and zero points changed shape and type: let ORT infer the intermediate shapes again.
    keep = {i.name for i in g.input} | {o.name for o in g.output}
    vi = [v for v in g.value_info if v.name in keep]
    del g.value_info[:]
    g.value_info.extend(vi)
    opset = next(o.version for o in model.opset_import if o.domain in ('', 'ai.onnx'))
    if opset >= 18:
        raise SystemExit('opset >= 18: ReduceMax takes its axes as an input there; extend this rewrite')
    return count


def attention_nodes(qa: onnx.NodeProto, token_scale: str, g: onnx.GraphProto) -> list[onnx.NodeProto]:
    """A fused QAttention, whose input scale is one per tensor, as per-token int8 projection + fp32 attention.

    QAttention(x_q, W, bias, x_scale, W_scale, mask_index, x_zp, W_zp) projects Q|K|V with one int8
    GEMM and attends. Here: MatMulInteger(x_q, W) -> Cast -> Mul(W_scale) -> Mul(token scale) ->
    Add(bias), Split into Q, K, V, then
    com.microsoft.MultiHeadAttention with the lengths (mask_index) as key padding mask.
    """
    x_q, w, bias, _x_scale, w_scale, mask_index = qa.input[:6]
    x_zp, w_zp = qa.input[6], qa.input[7]
    attrs = {a.name: helper.get_attribute_value(a) for a in qa.attribute}
    if attrs.get('unidirectional', 0) != 0 or (len(qa.input) > 8 and qa.input[8]):
        raise SystemExit(f'{qa.name}: unidirectional or past state: not supported by this rewrite')
    width = {i.name: list(i.dims) for i in g.initializer}[w][1] // 3
    p = f'{qa.name}_ptq'
    split = f'{p}_split_sizes'
    g.initializer.append(numpy_helper.from_array(np.array([width] * 3, dtype=np.int64), split))
    return [
        helper.make_node('MatMulInteger', [x_q, w, x_zp, w_zp], [f'{p}_qkv_int']),
        helper.make_node('Cast', [f'{p}_qkv_int'], [f'{p}_qkv_float'], to=TensorProto.FLOAT),
        helper.make_node('Mul', [f'{p}_qkv_float', w_scale], [f'{p}_qkv_weight_scaled']),
        helper.make_node('Mul', [f'{p}_qkv_weight_scaled', token_scale], [f'{p}_qkv_scaled']),
        helper.make_node('Add', [f'{p}_qkv_scaled', bias], [f'{p}_qkv']),
        helper.make_node('Split', [f'{p}_qkv', split], [f'{p}_q', f'{p}_k', f'{p}_v'], axis=-1),
        helper.make_node(
            'MultiHeadAttention',
            [f'{p}_q', f'{p}_k', f'{p}_v', '', mask_index],
            [qa.output[0]],
            domain='com.microsoft',
            num_heads=attrs['num_heads'],
            name=f'{p}_attention',
        ),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', required=True)
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    model = onnx.load(a.model)
    n = rewrite(model)
    onnx.checker.check_model(model)
    onnx.save(model, a.out)
    print(f'{n} DynamicQuantizeLinear nodes made per token: {a.out}')


if __name__ == '__main__':
    main()
