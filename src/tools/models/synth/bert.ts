import {
  AttributeType,
  TensorDataType,
  type AttributeMessage,
  type ModelMessage,
  type NodeMessage,
  type TensorMessage,
  type ValueInfoMessage,
} from './onnx-proto.js';
import { SeededRandom } from './random.js';

export interface BertShape {
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  maxPositions: number;
  typeVocabSize: number;
  numLabels: number;
  task: 'sentiment' | 'ner';
  /** Add BERT's pooler (dense + tanh on [CLS]) before the sequence classifier. */
  pooler: boolean;
}

export const OPSET = 17;
const LAYER_NORM_EPS = 1e-12;
/** Additive attention bias for padding positions. */
const MASK_BIAS = -10000;

/** Builds an ONNX graph node by node; initializers hold the weights. */
class GraphBuilder {
  readonly nodes: NodeMessage[] = [];
  readonly initializers: TensorMessage[] = [];
  private counter = 0;

  constructor(private readonly random: SeededRandom) {}

  private fresh(prefix: string): string {
    this.counter++;
    return `${prefix}_${this.counter}`;
  }

  node(opType: string, inputs: string[], attributes: AttributeMessage[] = [], output?: string): string {
    const out = output ?? this.fresh(opType.toLowerCase());
    this.nodes.push({
      name: `${opType}_${this.nodes.length}`,
      opType,
      input: inputs,
      output: [out],
      attribute: attributes,
    });
    return out;
  }

  floatTensor(name: string, dims: number[], values: Float32Array): string {
    this.initializers.push({
      name,
      dims,
      dataType: TensorDataType.FLOAT,
      rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    });
    return name;
  }

  int64Tensor(name: string, dims: number[], values: number[]): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({
      name,
      dims,
      dataType: TensorDataType.INT64,
      rawData: new Uint8Array(data.buffer),
    });
    return name;
  }

  /** Weights drawn from N(0, std²), as BERT's initializer does. */
  normal(name: string, dims: number[], std: number): string {
    return this.floatTensor(
      name,
      dims,
      this.random.normalArray(
        dims.reduce((a, b) => a * b, 1),
        std,
      ),
    );
  }

  constant(name: string, dims: number[], value: number): string {
    return this.floatTensor(name, dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(value));
  }

  linear(input: string, prefix: string, inDim: number, outDim: number, std: number): string {
    const w = this.normal(`${prefix}.weight`, [inDim, outDim], std);
    const b = this.constant(`${prefix}.bias`, [outDim], 0);
    return this.node('Add', [this.node('MatMul', [input, w]), b]);
  }

  layerNorm(input: string, prefix: string, hidden: number): string {
    const scale = this.constant(`${prefix}.weight`, [hidden], 1);
    const bias = this.constant(`${prefix}.bias`, [hidden], 0);
    return this.node(
      'LayerNormalization',
      [input, scale, bias],
      [
        { name: 'axis', type: AttributeType.INT, i: -1 },
        { name: 'epsilon', type: AttributeType.FLOAT, f: LAYER_NORM_EPS },
      ],
    );
  }
}

const intsAttr = (name: string, ints: number[]): AttributeMessage => ({
  name,
  type: AttributeType.INTS,
  ints,
});

function tensorInput(name: string, elemType: number, dims: Array<string | number>): ValueInfoMessage {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** Constants shared by every encoder layer. */
interface LayerConstants {
  maskBias: string;
  headsShape: string;
  mergedShape: string;
  scale: string;
  sqrt2: string;
  half: string;
  onef: string;
}

/**
 * A BERT encoder with a classification head, in plain ONNX opset-17 operators (the same math as
 * transformers' BertModel: embeddings + LayerNorm, post-LN transformer layers with erf-GELU).
 * Weights are seeded random; classifier weights are drawn wider than BERT's 0.02 so that an
 * untrained model still makes decisive, input-dependent predictions for tests and benchmarks.
 * The builders below draw weights in graph order: reordering them changes every weight (and sha256).
 */
export function buildBertModel(shape: BertShape, seed: number, producerVersion: string): ModelMessage {
  const { hidden: H, heads: A } = shape;
  if (H % A !== 0) throw new Error(`hidden size ${H} is not divisible by heads ${A}`);
  const g = new GraphBuilder(new SeededRandom(seed));
  const { x: embedded, zero } = embeddings(g, shape);
  const constants = layerConstants(g, shape);
  let x = embedded;
  for (let l = 0; l < shape.layers; l++) x = encoderLayer(g, shape, constants, x, `encoder.layer.${l}`);
  const { logits, outputDims } = classifierHead(g, shape, x, zero);

  const dyn = ['batch_size', 'sequence_length'];
  return {
    irVersion: 8,
    producerName: 'finsentry-synth',
    producerVersion,
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: `bert_${shape.task}`,
      node: g.nodes,
      initializer: g.initializers,
      input: [
        tensorInput('input_ids', TensorDataType.INT64, dyn),
        tensorInput('attention_mask', TensorDataType.INT64, dyn),
        tensorInput('token_type_ids', TensorDataType.INT64, dyn),
      ],
      output: [tensorInput(logits, TensorDataType.FLOAT, outputDims)],
    },
    metadataProps: [{ key: 'finsentry.seed', value: String(seed) }],
  };
}

/** Embeddings: word + position + token type, then LayerNorm. */
function embeddings(g: GraphBuilder, shape: BertShape): { x: string; zero: string } {
  const H = shape.hidden;
  const wordEmb = g.normal('embeddings.word_embeddings.weight', [shape.vocabSize, H], 1.0);
  const posEmb = g.normal('embeddings.position_embeddings.weight', [shape.maxPositions, H], 0.1);
  const typeEmb = g.normal('embeddings.token_type_embeddings.weight', [shape.typeVocabSize, H], 0.1);
  const one = g.int64Tensor('const.one', [], [1]);
  const zero = g.int64Tensor('const.zero', [], [0]);
  const seqLen = g.node(
    'Gather',
    [g.node('Shape', ['input_ids']), one],
    [{ name: 'axis', type: AttributeType.INT, i: 0 }],
  );
  const positionIds = g.node('Range', [zero, seqLen, one]);
  const x = g.node('Add', [
    g.node('Add', [g.node('Gather', [wordEmb, 'input_ids']), g.node('Gather', [posEmb, positionIds])]),
    g.node('Gather', [typeEmb, 'token_type_ids']),
  ]);
  return { x: g.layerNorm(x, 'embeddings.LayerNorm', H), zero };
}

/** The padding mask as an additive bias [B, 1, 1, S], and the reshape/scale constants of attention and GELU. */
function layerConstants(g: GraphBuilder, shape: BertShape): LayerConstants {
  const { hidden: H, heads: A } = shape;
  const D = H / A;
  const maskFloat = g.node(
    'Cast',
    ['attention_mask'],
    [{ name: 'to', type: AttributeType.INT, i: TensorDataType.FLOAT }],
  );
  const inverted = g.node('Sub', [g.constant('const.onef', [], 1), maskFloat]);
  const bias = g.node('Mul', [inverted, g.constant('const.mask_bias', [], MASK_BIAS)]);
  const maskBias = g.node('Unsqueeze', [bias, g.int64Tensor('const.mask_axes', [2], [1, 2])]);
  return {
    maskBias,
    headsShape: g.int64Tensor('const.heads_shape', [4], [0, 0, A, D]),
    mergedShape: g.int64Tensor('const.merged_shape', [3], [0, 0, H]),
    scale: g.constant('const.attention_scale', [], 1 / Math.sqrt(D)),
    sqrt2: g.constant('const.sqrt2', [], Math.SQRT2),
    half: g.constant('const.half', [], 0.5),
    onef: 'const.onef',
  };
}

/** One post-LN transformer layer: multi-head self-attention, then the erf-GELU feed-forward block. */
function encoderLayer(g: GraphBuilder, shape: BertShape, c: LayerConstants, input: string, p: string): string {
  const { hidden: H, intermediate: I } = shape;
  const std = 0.02;
  const split = (t: string, perm: number[]): string =>
    g.node('Transpose', [g.node('Reshape', [t, c.headsShape])], [intsAttr('perm', perm)]);
  const q = split(g.linear(input, `${p}.attention.self.query`, H, H, std * 5), [0, 2, 1, 3]);
  const k = split(g.linear(input, `${p}.attention.self.key`, H, H, std * 5), [0, 2, 3, 1]);
  const v = split(g.linear(input, `${p}.attention.self.value`, H, H, std * 5), [0, 2, 1, 3]);
  const scores = g.node('Add', [g.node('Mul', [g.node('MatMul', [q, k]), c.scale]), c.maskBias]);
  const probs = g.node('Softmax', [scores], [{ name: 'axis', type: AttributeType.INT, i: -1 }]);
  const context = g.node('Reshape', [
    g.node('Transpose', [g.node('MatMul', [probs, v])], [intsAttr('perm', [0, 2, 1, 3])]),
    c.mergedShape,
  ]);
  const attnOut = g.linear(context, `${p}.attention.output.dense`, H, H, std);
  const x = g.layerNorm(g.node('Add', [attnOut, input]), `${p}.attention.output.LayerNorm`, H);
  const h = g.linear(x, `${p}.intermediate.dense`, H, I, std * 5);
  // GELU, erf form: 0.5 · h · (1 + erf(h / √2))
  const gelu = g.node('Mul', [
    g.node('Mul', [h, c.half]),
    g.node('Add', [g.node('Erf', [g.node('Div', [h, c.sqrt2])]), c.onef]),
  ]);
  const ffnOut = g.linear(gelu, `${p}.output.dense`, I, H, std);
  return g.layerNorm(g.node('Add', [ffnOut, x]), `${p}.output.LayerNorm`, H);
}

/** Sequence head on [CLS] (with BERT's pooler when asked) or a per-token head, named `logits`. */
function classifierHead(
  g: GraphBuilder,
  shape: BertShape,
  x: string,
  zero: string,
): { logits: string; outputDims: Array<string | number> } {
  const H = shape.hidden;
  const classifierStd = 1 / Math.sqrt(H);
  if (shape.task === 'sentiment') {
    let cls = g.node('Gather', [x, zero], [{ name: 'axis', type: AttributeType.INT, i: 1 }]);
    if (shape.pooler) cls = g.node('Tanh', [g.linear(cls, 'pooler.dense', H, H, classifierStd)]);
    const logits = g.node(
      'Identity',
      [g.linear(cls, 'classifier', H, shape.numLabels, classifierStd * 2)],
      [],
      'logits',
    );
    return { logits, outputDims: ['batch_size', shape.numLabels] };
  }
  const logits = g.node(
    'Identity',
    [g.linear(x, 'classifier', H, shape.numLabels, classifierStd * 2)],
    [],
    'logits',
  );
  return { logits, outputDims: ['batch_size', 'sequence_length', shape.numLabels] };
}
