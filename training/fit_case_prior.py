"""Fits the case prior of an uncased NER model (src/inference/case-prior.ts, docs/inference.md "Case prior").

An uncased encoder cannot see capitals, the strongest cue for a name in English. The engine's
`viterbi` decoding adds it back: at a word start, +upper nats on every entity label for a capital
that does not start a sentence, −lower nats for a small letter, on the lines that use capitals for
names (`cased_lines`: each line judged on its own). This script runs the int8 graph with ONNX
Runtime on CoNLL-2003 testa (the dev portion; testb is held out), decodes as the engine does for
every (upper, lower) on a grid, and writes the best pair with its figures into
`<model>/case-prior.json`:

- f1Viterbi: span F1 with the viterbi decoding and no prior;
- f1CrossFitted: each half of testa (alternate sentences) decoded with the pair chosen on the other
  half, so the figure is not measured on the data the pair was chosen on;
- f1InSample: the chosen pair on all of testa.

    /work/trainvenv/bin/python training/fit_case_prior.py --model models/finsentry-ner \
        --data ../shared/data/conll2003/eng.testa
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from common import NER_LABELS, load_conll, log, span_prf
from eval_joint import bio_viterbi
from train_joint import conll_as_text

UPPER_GRID = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
LOWER_GRID = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0)
TITLE_CASE_SHARE = 0.6  # case-prior.ts TITLE_CASE_SHARE
MAX_LEN = 128
SPECIALS = ("[CLS]", "[SEP]", "[PAD]", "<s>", "</s>", "<pad>", "\u2581")
ENTITY = np.array([lab != "O" for lab in NER_LABELS])


def case_of(ch: str) -> int:
    """+1 capital, −1 small letter, 0 no case (case-prior.ts caseOf)."""
    if ch.upper() == ch.lower():
        return 0
    return 1 if ch == ch.upper() else -1


def is_sentence_start(text: str, start: int) -> bool:
    """case-prior.ts isSentenceStart: the text's start, or after . ! ? 。 ！ ？ or a line break."""
    i = start - 1
    while i >= 0 and re.match(r"[\s\"'“”‘’«»(\[{]", text[i]):
        if text[i] == "\n":
            return True
        i -= 1
    return i < 0 or text[i] in ".!?。！？"


def carries_case(text: str, lo: int = 0, hi: int | None = None) -> bool:
    """case-prior.ts carriesCase: some, but at most TITLE_CASE_SHARE, of the cased words of text[lo:hi]
    that do not start a sentence are capitalised."""
    hi = len(text) if hi is None else hi
    cased = upper = 0
    for m in re.finditer(r"\S+", text[lo:hi]):
        s = lo + m.start()
        c = case_of(text[s])
        if c == 0 or is_sentence_start(text, s):
            continue
        cased += 1
        upper += c > 0
    return upper > 0 and upper / cased <= TITLE_CASE_SHARE


def cased_lines(text: str) -> list[tuple[int, int]]:
    """case-prior.ts casedLines: the lines (split at \\n) that carry case, as [start, end) offsets."""
    out, lo = [], 0
    for line in text.split("\n"):
        if carries_case(text, lo, lo + len(line)):
            out.append((lo, lo + len(line)))
        lo += len(line) + 1
    return out


def token_codes(text: str, starts: list[int]) -> np.ndarray:
    """Per token: +1 where `upper` applies, −1 where `lower` applies, 0 elsewhere (outside the cased lines)."""
    lines = cased_lines(text)
    out = []
    for s in starts:
        word_start = s == 0 or text[s - 1].isspace()
        in_cased = any(lo <= s < hi for lo, hi in lines)
        c = case_of(text[s]) if in_cased and word_start and s < len(text) else 0
        out.append(0 if c > 0 and is_sentence_start(text, s) else c)
    return np.array(out, float)


def run_graph(model: Path, texts: list[str], batch: int = 32):
    """Per text: (token start offsets, log-softmax NER rows) of the non-special tokens, as the engine keeps them."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(model / "model_quantized.onnx"), so, providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}
    ner_out = next(i for i, o in enumerate(sess.get_outputs()) if len(o.shape) == 3)
    tok = Tokenizer.from_file(str(model / "tokenizer.json"))
    pad = next(tok.token_to_id(t) for t in ("[PAD]", "<pad>") if tok.token_to_id(t) is not None)
    encs = [tok.encode(t) for t in texts]
    out: list = [None] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
    for b in range(0, len(order), batch):
        idx = order[b : b + batch]
        seqs = [encs[i].ids[:MAX_LEN] for i in idx]
        ids = np.full((len(idx), max(map(len, seqs))), pad, np.int64)
        mask = np.zeros_like(ids)
        for k, s in enumerate(seqs):
            ids[k, : len(s)], mask[k, : len(s)] = s, 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(ids)
        logits = sess.run(None, feed)[ner_out]
        for k, i in enumerate(idx):
            text, rows, starts = texts[i], [], []
            for t, (tokstr, (s, e)) in enumerate(zip(encs[i].tokens[: len(seqs[k])], encs[i].offsets)):
                if tokstr in SPECIALS or s == e:
                    continue
                while s < e and text[s].isspace():  # a metaspace token's offset includes the space
                    s += 1
                x = logits[k, t].astype(np.float64)
                rows.append(x - x.max() - np.log(np.exp(x - x.max()).sum()))
                starts.append(s)
            out[i] = (starts, np.array(rows).reshape(-1, len(NER_LABELS)))
    return out


def decode(rows: np.ndarray, codes: np.ndarray, upper: float, lower: float) -> list[int]:
    shift = np.where(codes > 0, upper, np.where(codes < 0, -lower, 0.0))
    return bio_viterbi(rows + shift[:, None] * ENTITY[None, :]) if len(rows) else []


def word_tokens(starts: list[int], word_starts: list[int]) -> list[int | None]:
    """Each word's token: the one that starts at or covers its first character (eval_joint.eval_conll)."""
    return [max((j for j, s in enumerate(starts) if s <= w), default=None) for w in word_starts]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--data", required=True, type=Path, help="CoNLL-2003 testa (eng.testa)")
    ap.add_argument("--out", type=Path, help="default: <model>/case-prior.json")
    args = ap.parse_args()
    sents = load_conll(args.data)
    texts, word_starts, gold = [], [], []
    for words, tags in sents:
        text, _, st = conll_as_text(words, tags)
        texts.append(text)
        word_starts.append(st)
        gold.append(tags)
    log(f"running {args.model} on {len(texts)} sentences")
    graph = run_graph(args.model, texts)
    codes = [token_codes(t, starts) for t, (starts, _) in zip(texts, graph)]
    words = [word_tokens(starts, ws) for (starts, _), ws in zip(graph, word_starts)]
    halves = [np.arange(len(texts)) % 2 == h for h in (0, 1)]
    preds: dict = {}
    for up in UPPER_GRID:
        for lo in LOWER_GRID:
            paths = [decode(rows, c, up, lo) for (_, rows), c in zip(graph, codes)]
            preds[(up, lo)] = [["O" if k is None else NER_LABELS[p[k]] for k in w] for p, w in zip(paths, words)]

    def f1(pred, mask=None):
        pick = range(len(gold)) if mask is None else np.where(mask)[0]
        return span_prf([gold[i] for i in pick], [pred[i] for i in pick])["overall"]["f1"]

    best = lambda mask: max(preds, key=lambda g: (f1(preds[g], mask), -g[0] - g[1]))  # noqa: E731
    chosen_on = [best(h) for h in halves]
    crossed = [preds[chosen_on[1 - int(halves[1][i])]][i] for i in range(len(gold))]
    chosen = best(None)
    result = {
        "casePrior": {"upper": chosen[0], "lower": chosen[1]},
        "decoding": "viterbi",
        "fittedOn": "conll2003/eng.testa",
        "n": len(gold),
        "grid": {"upper": list(UPPER_GRID), "lower": list(LOWER_GRID)},
        "f1Viterbi": f1(preds[(0.0, 0.0)]),
        "f1InSample": f1(preds[chosen]),
        "f1CrossFitted": f1(crossed),
        "top": [{"upper": g[0], "lower": g[1], "f1": f1(preds[g])}
                for g in sorted(preds, key=lambda g: -f1(preds[g]))[:5]],
        "chosenOnHalves": [{"upper": g[0], "lower": g[1]} for g in chosen_on],
        "measuredBy": "span F1 (exact type and words) by training/fit_case_prior.py; f1CrossFitted: each half "
        "of testa (alternate sentences) decoded with the pair chosen on the other half",
    }
    out = args.out or args.model / "case-prior.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
