"""Calibration of the English sentiment model (issue #19 item 3), chosen by cross-fitted ECE on dev.

Input: the engine's own window logits over the dev sets, written by
`finsentry models calibrate --model models/finsentry-sentiment --phrasebank <DATA>/financial_phrasebank/dev.tsv
--twitter <DATA>/twitter_financial_news/train.csv --dump-logits /tmp/sentiment-dev-logits.json`
(PhraseBank dev = news, the 10% hash-split Twitter dev part = chat; no test portion is read). For a
multilingual model add `--zh <DATA>/zh_translated`: the Chinese dev split's sentiment rows join as two
more sets (PhraseBank renderings = news, Twitter renderings = chat); chunks and `fittedOn` follow the
sets of the dump.

Candidates (Guo et al. 2017): one temperature; one temperature per kind (news, chat); vector scaling
(z·a + b per class, the logits in the model's id2label order). Each is fitted by minimising the mean
negative log-likelihood of the document probabilities the engine computes (token-weighted mean of the
windows' softmax). Top-label candidates (issue #19): the temperature, then a monotone map of the
document's confidence (max-probability) fitted on whether the arg-max was right: a piecewise-linear map
with 3, 4 or 5 knots (strictly increasing, Bernoulli NLL), isotonic regression and 10-bin histogram
binning (both piecewise constant: reported, not chosen). The other classes are rescaled to sum to 1 and
the top class is clamped to at least the runner-up, so no arg-max label changes (top_label()).

The choice is the lowest ECE measured 2-fold cross-fitted (fit on one half of dev, ECE on the other,
both ways, as training/eval_joint.py does) among the candidates the engine applies that change no
label, so a flexible candidate cannot win by fitting the noise; the same ECE over 10 random 2-fold
splits is reported beside it (spread of the measure). Then the CBPE estimator's error: dev in chunks
in file order, of ~220 (Twitter dev in 4, PhraseBank dev in 2) and of ~440 (Twitter dev in 2,
PhraseBank dev whole); each chunk is estimated with the calibration refitted on the rest of dev, from
the service's 20-bin confidence histogram (bin midpoints) and from the exact mean.

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
TOP_LABEL = ("top_label_3", "top_label_4", "top_label_5", "top_label_isotonic", "top_label_histogram_10")
# Candidates the engine applies (src/inference/calibration.ts); top-label steps are reported only.
APPLICABLE = ("temperature", "vector", "top_label_3", "top_label_4", "top_label_5")
RANDOM_SPLITS = 10
ENGLISH_SETS = {"news": "financial_phrasebank/dev.tsv", "chat": "twitter_financial_news/train.csv --split dev"}
# Estimator chunks of about these sizes: each dev set in round(n / size) chunks (at least one).
CHUNK_SIZES = (220, 440)
# A clamped top class sits this far above the runner-up's share: a strict arg-max, never a tie.
TIE_MARGIN = 1e-9


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
    # Dumps from before the set field: PhraseBank dev is the news, Twitter dev the chat.
    sets = np.array([r.get("set", ENGLISH_SETS[r["kind"]]) for r in rows])
    return id2label, torch.tensor(z), torch.tensor(w), y, kind, sets


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


def fit_logits(method: str, z, w, y, kind) -> dict:
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


def logit_probs(method, p, z, w, kind) -> np.ndarray:
    scale, bias = params_for(method, p, kind)
    with torch.no_grad():
        return doc_probs(z, w, scale, bias).numpy()


def knot_map(c: np.ndarray, ok: np.ndarray, k: int) -> dict:
    """Strictly increasing piecewise-linear map: k knots at confidence quantiles (ends 1/3 and 1), Bernoulli NLL."""
    x = np.quantile(c, np.linspace(0, 1, k))
    x[0], x[-1] = 1 / 3, 1.0
    u = torch.zeros(k, dtype=torch.float64)
    u[1:] = -2.0
    u.requires_grad_(True)
    xt, ct, t = torch.tensor(x), torch.tensor(c), torch.tensor(ok, dtype=torch.float64)

    def values():
        y0 = 0.999 * torch.sigmoid(u[0])
        cum = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(torch.nn.functional.softplus(u[1:]), 0)])
        return y0 + (1 - y0) * (1 - torch.exp(-cum))

    i = torch.clamp(torch.searchsorted(xt, ct, right=True) - 1, 0, k - 2)
    f = (ct - xt[i]) / (xt[i + 1] - xt[i])
    opt = torch.optim.LBFGS([u], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        v = values()
        q = (v[i] + f * (v[i + 1] - v[i])).clamp(1e-9, 1 - 1e-9)
        loss = -(t * torch.log(q) + (1 - t) * torch.log(1 - q)).mean()
        loss.backward()
        return loss

    opt.step(closure)
    return {"x": x.tolist(), "y": values().detach().tolist()}


def step_map(c: np.ndarray, ok: np.ndarray, method: str) -> dict:
    """Piecewise-constant map: isotonic regression (pool adjacent violators) or 10 equal-mass bins."""
    o = np.argsort(c, kind="stable")
    if method == "top_label_histogram_10":
        groups = np.array_split(o, 10)
    else:
        groups = []
        for j in o:
            groups.append(np.array([j]))
            while len(groups) > 1 and ok[groups[-2]].mean() >= ok[groups[-1]].mean():
                last = groups.pop()
                groups[-1] = np.concatenate([groups[-1], last])
    edges = [0.0] + [float(c[g].min()) for g in groups[1:]]
    return {"edges": edges, "values": [float(ok[g].mean()) for g in groups]}


def apply_map(m: dict, c: np.ndarray) -> np.ndarray:
    if "x" in m:
        return np.interp(c, m["x"], m["y"])
    return np.array(m["values"])[np.searchsorted(m["edges"], c, side="right") - 1]


def top_label(p: np.ndarray, m: dict) -> tuple[np.ndarray, np.ndarray]:
    """Top-label map on document probabilities: the arg-max keeps its label (its value at least the
    runner-up's rescaled value + TIE_MARGIN); the others share the rest pro rata (equally if all 0)."""
    n = len(p)
    lab = p.argmax(1)
    top = p[np.arange(n), lab]
    others = p.copy()
    others[np.arange(n), lab] = 0
    rest = others.sum(1)
    second = others.max(1)
    floor = np.where(rest > 0, second / np.where(rest > 0, rest + second, 1), 1 / p.shape[1])
    g = np.maximum(apply_map(m, top), floor + TIE_MARGIN)
    share = np.where(rest[:, None] > 0, others / np.where(rest > 0, rest, 1)[:, None], 1 / (p.shape[1] - 1))
    q = share * (1 - g)[:, None]
    q[np.arange(n), lab] = g
    return q, lab


def fit(method: str, z, w, y, kind) -> dict:
    if method not in TOP_LABEL:
        return fit_logits(method, z, w, y, kind)
    t = fit_logits("temperature", z, w, y, kind)["t"]
    p = logit_probs("temperature", {"t": t}, z, w, kind)
    c, ok = p.max(1), (p.argmax(1) == y).astype(float)
    m = step_map(c, ok, method) if method in TOP_LABEL[3:] else knot_map(c, ok, int(method.rsplit("_", 1)[1]))
    return {"t": t, "map": m}


def predict(method, p, z, w, kind) -> tuple[np.ndarray, np.ndarray]:
    """Document probabilities and labels (a top-label clamp can tie: the label is the pre-map arg-max)."""
    if method not in TOP_LABEL:
        q = logit_probs(method, p, z, w, kind)
        return q, q.argmax(1)
    return top_label(logit_probs("temperature", {"t": p["t"]}, z, w, kind), p["map"])


def ece(p: np.ndarray, y: np.ndarray, bins: int = BINS, labels: np.ndarray | None = None) -> float:
    lab = p.argmax(1) if labels is None else labels
    conf, correct = p[np.arange(len(y)), lab], lab == y
    b = np.minimum(bins - 1, np.floor(conf * bins).astype(int))
    return float(sum((b == k).mean() * abs(correct[b == k].mean() - conf[b == k].mean()) for k in range(bins) if (b == k).any()))


def nll(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(np.maximum(p[np.arange(len(y)), y], 1e-12)).mean())


def fit_halves(method, z, w, y, kind, halves) -> tuple[np.ndarray, np.ndarray]:
    p, lab = np.zeros((len(y), 3)), np.zeros(len(y), int)
    for train, test in (halves, halves[::-1]):
        tr, te = np.where(train)[0], np.where(test)[0]
        p[te], lab[te] = predict(method, fit(method, z[tr], w[tr], y[tr], kind[tr]), z[te], w[te], kind[te])
    return p, lab


def cross_fitted(method, z, w, y, kind, plain_labels) -> dict:
    """2-fold cross-fit on interleaved halves (as training/eval_joint.py): ECE, NLL and accuracy of unseen halves.
    Beside it the ECE over RANDOM_SPLITS random 2-fold splits (seed 0), and how many labels differ from T = 1."""
    halves = [np.arange(len(y)) % 2 == k for k in (0, 1)]
    p, lab = fit_halves(method, z, w, y, kind, halves)
    rng = np.random.default_rng(0)
    spread = []
    for _ in range(RANDOM_SPLITS):
        first = np.isin(np.arange(len(y)), rng.permutation(len(y))[: len(y) // 2])
        q, lq = fit_halves(method, z, w, y, kind, [first, ~first])
        spread.append(ece(q, y, labels=lq))
    return {"ece": ece(p, y, labels=lab), "nll": nll(p, y), "accuracy": float((lab == y).mean()),
            "labelChanges": int((lab != plain_labels).sum()),
            "eceRandomSplits": {"mean": float(np.mean(spread)), "min": float(np.min(spread)), "max": float(np.max(spread))}}


def chunk_sets(sets: np.ndarray) -> dict:
    """Dev chunks in file order, each set in chunks of about 220 and 440 (Twitter dev 4 and 2, PhraseBank dev 2 and 1)."""
    names = list(dict.fromkeys(sets.tolist()))
    return {
        str(size): [(short_name(name), c) for name in names
                    for c in np.array_split(np.where(sets == name)[0], max(1, round((sets == name).sum() / size)))]
        for size in CHUNK_SIZES
    }


def short_name(set_name: str) -> str:
    """twitter dev, phrasebank dev, zh dev (phrasebank rows), ..."""
    if set_name.startswith("zh_translated"):
        return "zh dev " + set_name[set_name.index("("):]
    return ("twitter" if set_name.startswith("twitter") else "phrasebank") + " dev"


def estimator_chunks(method, z, w, y, kind, chunks) -> list[dict]:
    out = []
    for name, c in chunks:
        rest = np.setdiff1d(np.arange(len(y)), c)
        p, lab = predict(method, fit(method, z[rest], w[rest], y[rest], kind[rest]), z[c], w[c], kind[c])
        conf = p[np.arange(len(c)), lab]
        realised = float((lab == y[c]).mean())
        hist = float(((np.minimum(HIST_BINS - 1, np.floor(conf * HIST_BINS)) + 0.5) / HIST_BINS).mean())
        out.append({"data": name, "n": int(len(c)), "realisedAccuracy": realised,
                    "estimatedAccuracy": float(conf.mean()), "histogramEstimatedAccuracy": hist,
                    "error": float(conf.mean()) - realised, "histogramError": hist - realised,
                    "samplingSE": float(np.sqrt(realised * (1 - realised) / len(c)))})
    return out


def estimator(method, z, w, y, kind, sets) -> dict:
    out = {}
    for size, chunks in chunk_sets(sets).items():
        c = estimator_chunks(method, z, w, y, kind, chunks)
        out[size] = {
            "chunks": c,
            "histogramMaxAbsError": max(abs(x["histogramError"]) for x in c),
            "maxAbsError": max(abs(x["error"]) for x in c),
            "meanAbsError": float(np.mean([abs(x["error"]) for x in c])),
            "within003": sum(abs(x["error"]) <= 0.03 for x in c),
        }
    return out


def clamped(p: np.ndarray, m: dict) -> int:
    """Documents whose mapped confidence is raised to the runner-up's (a tie, the label kept)."""
    top, second = np.sort(p, 1)[:, -1], np.sort(p, 1)[:, -2]
    return int((apply_map(m, top) < second / (1 - top + second) + TIE_MARGIN).sum())


def method_fields(chosen: str, params: dict, id2label) -> dict:
    if chosen == "vector":
        return {"labels": id2label, "scale": params["scale"], "bias": params["bias"]}
    if chosen in TOP_LABEL:
        return {"method": "temperature_top_label", "candidate": chosen, "temperature": params["t"],
                "topLabel": {"confidence": params["map"]["x"], "calibrated": params["map"]["y"]}}
    return {}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--logits", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    torch.set_num_threads(1)
    id2label, z, w, y, kind, sets = load(args.logits)
    uncal = logit_probs("temperature", {"t": 1.0}, z, w, kind)
    methods = ("temperature", "temperature_per_kind", "vector", *TOP_LABEL)
    candidates = {m: cross_fitted(m, z, w, y, kind, uncal.argmax(1)) for m in methods}
    # The engine applies one transform to every document and must keep every arg-max label.
    chosen = min((m for m in APPLICABLE if candidates[m]["labelChanges"] == 0), key=lambda m: candidates[m]["ece"])
    params = fit(chosen, z, w, y, kind)
    temperature = fit("temperature", z, w, y, kind)["t"]
    p, lab = predict(chosen, params, z, w, kind)
    cal = {
        "method": chosen,
        "temperature": temperature,
        **method_fields(chosen, params, id2label),
        "fittedOn": list(dict.fromkeys(sets.tolist())),
        "eceBefore": ece(uncal, y),
        "eceAfter": ece(p, y, labels=lab),
        "eceCrossFitted": candidates[chosen]["ece"],
        "eceMeasuredBy": "eceAfter in-sample; eceCrossFitted: 2-fold cross-fit on interleaved halves of dev",
        "bins": BINS,
        "n": int(len(y)),
        "nllBefore": nll(uncal, y),
        "nllAfter": nll(p, y),
        "accuracyBefore": float((uncal.argmax(1) == y).mean()),
        "accuracyCrossFitted": candidates[chosen]["accuracy"],
        "topLabelClamped": clamped(logit_probs("temperature", params, z, w, kind), params["map"]) if chosen in TOP_LABEL else 0,
        "candidates": candidates,
        "estimator": estimator(chosen, z, w, y, kind, sets),
        "estimatorTemperature": estimator("temperature", z, w, y, kind, sets),
    }
    args.out.write_text(json.dumps(cal, indent=2) + "\n")
    print(json.dumps(cal, indent=2))


if __name__ == "__main__":
    main()
