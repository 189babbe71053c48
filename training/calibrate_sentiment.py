"""Calibration of the English sentiment model (issue #19 item 3), chosen by cross-fitted ECE on dev.

Input: the engine's own window logits over the dev sets, written by
`finsentry models calibrate --model models/finsentry-sentiment --phrasebank <DATA>/financial_phrasebank/dev.tsv
--twitter <DATA>/twitter_financial_news/train.csv --dump-logits /tmp/sentiment-dev-logits.json`
(PhraseBank dev = news, the 10% hash-split Twitter dev part = chat; no test portion is read).

Candidates (Guo et al. 2017): one temperature; one temperature per kind (news, chat); vector scaling
(z·a + b per class, the logits in the model's id2label order). Each is fitted by minimising the mean
negative log-likelihood of the document probabilities the engine computes (token-weighted mean of the
windows' softmax). The choice is the lowest ECE measured 2-fold cross-fitted (fit on one half of dev,
ECE on the other, both ways, as training/eval_joint.py does), so a flexible candidate cannot win by
fitting the noise. Then the CBPE estimator's error: dev in chunks (Twitter dev in 4, PhraseBank dev in
2, file order); each chunk is estimated with the calibration refitted on the rest of dev, from the
service's 20-bin confidence histogram (bin midpoints) and from the exact mean.

Writes calibration.json into the model directory (`--out`); the engine applies it
(src/inference/calibration.ts). A per-kind candidate is not applicable by the engine (it does not
know the kind at inference) and is reported only.

    /work/trainvenv/bin/python training/calibrate_sentiment.py --logits /tmp/sentiment-dev-logits.json \
        --out models/finsentry-sentiment/calibration.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

BINS = 15
HIST_BINS = 20
LABELS = ["negative", "neutral", "positive"]


def load(path: Path):
    rows = json.loads(path.read_text())
    id2label = rows[0]["id2label"]
    w_max = max(len(r["windows"]) for r in rows)
    z = np.zeros((len(rows), w_max, len(id2label)))
    w = np.zeros((len(rows), w_max))
    for i, r in enumerate(rows):
        weights = np.array([max(x["w"], 0) for x in r["windows"]], float)
        weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(weights), 1 / len(weights))
        for k, x in enumerate(r["windows"]):
            z[i, k] = x["l"]
            w[i, k] = weights[k]
    y = np.array([id2label.index(r["label"]) for r in rows])
    kind = np.array([0 if r["kind"] == "news" else 1 for r in rows])
    return id2label, torch.tensor(z), torch.tensor(w), y, kind


def doc_probs(z, w, scale, bias):
    """Token-weighted mean of the windows' softmax(z·scale + bias); padding windows weigh 0."""
    return (torch.softmax(z * scale + bias, dim=-1) * w[..., None]).sum(1)


def params_for(method: str, p: dict, kind: np.ndarray):
    n = len(kind)
    if method == "temperature":
        return (1 / p["t"]) * torch.ones(n, 1, 3, dtype=torch.float64), torch.zeros(n, 1, 3, dtype=torch.float64)
    if method == "temperature_per_kind":
        t = torch.tensor([p["t_news"], p["t_chat"]], dtype=torch.float64)[torch.tensor(kind)]
        return (1 / t)[:, None, None] * torch.ones(n, 1, 3, dtype=torch.float64), torch.zeros(n, 1, 3, dtype=torch.float64)
    scale = torch.tensor(p["scale"], dtype=torch.float64)
    bias = torch.tensor(p["bias"], dtype=torch.float64)
    return scale.expand(n, 1, 3), bias.expand(n, 1, 3)


def fit(method: str, z, w, y, kind) -> dict:
    y_t = torch.tensor(y)
    if method == "vector":
        log_a = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        b = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        free = [log_a, b]
        current = lambda: (torch.exp(log_a).expand(len(y), 1, 3), b.expand(len(y), 1, 3))  # noqa: E731
    else:
        log_inv_t = torch.zeros(2 if method == "temperature_per_kind" else 1, dtype=torch.float64, requires_grad=True)
        free = [log_inv_t]
        idx = torch.tensor(kind) if method == "temperature_per_kind" else torch.zeros(len(y), dtype=torch.long)
        current = lambda: (torch.exp(log_inv_t)[idx][:, None, None].expand(len(y), 1, 3), torch.zeros(len(y), 1, 3, dtype=torch.float64))  # noqa: E731
    opt = torch.optim.LBFGS(free, max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        scale, bias = current()
        p = doc_probs(z, w, scale, bias)
        loss = -torch.log(p[torch.arange(len(y)), y_t].clamp_min(1e-12)).mean()
        loss.backward()
        return loss

    opt.step(closure)
    if method == "vector":
        return {"scale": torch.exp(log_a).tolist(), "bias": b.tolist()}
    inv = torch.exp(log_inv_t).tolist()
    return {"t": 1 / inv[0]} if method == "temperature" else {"t_news": 1 / inv[0], "t_chat": 1 / inv[1]}


def probs(method, p, z, w, kind) -> np.ndarray:
    scale, bias = params_for(method, p, kind)
    with torch.no_grad():
        return doc_probs(z, w, scale, bias).numpy()


def ece(p: np.ndarray, y: np.ndarray, bins: int = BINS) -> float:
    conf, correct = p.max(1), p.argmax(1) == y
    b = np.minimum(bins - 1, np.floor(conf * bins).astype(int))
    return float(sum((b == k).mean() * abs(correct[b == k].mean() - conf[b == k].mean()) for k in range(bins) if (b == k).any()))


def nll(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(np.maximum(p[np.arange(len(y)), y], 1e-12)).mean())


def cross_fitted(method, z, w, y, kind) -> dict:
    """2-fold cross-fit on interleaved halves (as training/eval_joint.py): ECE, NLL and accuracy of unseen halves."""
    halves = [np.arange(len(y)) % 2 == k for k in (0, 1)]
    p = np.zeros((len(y), 3))
    for train, test in (halves, halves[::-1]):
        tr, te = np.where(train)[0], np.where(test)[0]
        p[te] = probs(method, fit(method, z[tr], w[tr], y[tr], kind[tr]), z[te], w[te], kind[te])
    return {"ece": ece(p, y), "nll": nll(p, y), "accuracy": float((p.argmax(1) == y).mean())}


def estimator_chunks(method, z, w, y, kind) -> list[dict]:
    chunks = [("twitter dev", c) for c in np.array_split(np.where(kind == 1)[0], 4)]
    chunks += [("phrasebank dev", c) for c in np.array_split(np.where(kind == 0)[0], 2)]
    out = []
    for name, c in chunks:
        rest = np.setdiff1d(np.arange(len(y)), c)
        p = probs(method, fit(method, z[rest], w[rest], y[rest], kind[rest]), z[c], w[c], kind[c])
        conf = p.max(1)
        realised = float((p.argmax(1) == y[c]).mean())
        hist = float(((np.minimum(HIST_BINS - 1, np.floor(conf * HIST_BINS)) + 0.5) / HIST_BINS).mean())
        out.append({"data": name, "n": int(len(c)), "realisedAccuracy": realised,
                    "estimatedAccuracy": float(conf.mean()), "histogramEstimatedAccuracy": hist,
                    "error": float(conf.mean()) - realised, "histogramError": hist - realised,
                    "samplingSE": float(np.sqrt(realised * (1 - realised) / len(c)))})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--logits", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    torch.set_num_threads(1)
    id2label, z, w, y, kind = load(args.logits)
    candidates = {m: cross_fitted(m, z, w, y, kind) for m in ("temperature", "temperature_per_kind", "vector")}
    uncal = probs("temperature", {"t": 1.0}, z, w, kind)
    # The engine applies one transform to every document: per-kind candidates are reported, not chosen.
    chosen = min(("temperature", "vector"), key=lambda m: candidates[m]["ece"])
    params = fit(chosen, z, w, y, kind)
    temperature = fit("temperature", z, w, y, kind)["t"]
    p = probs(chosen, params, z, w, kind)
    chunks = estimator_chunks(chosen, z, w, y, kind)
    cal = {
        "method": chosen,
        "temperature": temperature,
        **({"labels": id2label, "scale": params["scale"], "bias": params["bias"]} if chosen == "vector" else {}),
        "fittedOn": ["financial_phrasebank/dev.tsv", "twitter_financial_news/train.csv --split dev"],
        "eceBefore": ece(uncal, y),
        "eceAfter": ece(p, y),
        "eceCrossFitted": candidates[chosen]["ece"],
        "eceMeasuredBy": "eceAfter in-sample; eceCrossFitted: 2-fold cross-fit on interleaved halves of dev",
        "bins": BINS,
        "n": int(len(y)),
        "nllBefore": nll(uncal, y),
        "nllAfter": nll(p, y),
        "accuracyBefore": float((uncal.argmax(1) == y).mean()),
        "accuracyCrossFitted": candidates[chosen]["accuracy"],
        "candidates": candidates,
        "estimator": {
            "chunks": chunks,
            "histogramMaxAbsError": max(abs(c["histogramError"]) for c in chunks),
            "maxAbsError": max(abs(c["error"]) for c in chunks),
            "meanAbsError": float(np.mean([abs(c["error"]) for c in chunks])),
        },
    }
    args.out.write_text(json.dumps(cal, indent=2) + "\n")
    print(json.dumps(cal, indent=2))


if __name__ == "__main__":
    main()
