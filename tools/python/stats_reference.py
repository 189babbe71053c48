#!/usr/bin/env python3
"""Oracle fixtures for finsentry's fairness and drift statistics (src/stats/fairness.ts, drift.ts).

Generates seeded random count tables and histograms, computes every figure with the reference
libraries (Fairlearn's MetricFrame / demographic_parity_difference / demographic_parity_ratio /
equalized_odds_difference; scipy's ks_2samp, kstwobign, chi2_contingency, jensenshannon, binomtest)
on samples expanded from the counts, and writes test/fixtures/stats/oracle.json. The unit test
test/unit/stats/oracle.test.ts checks the TypeScript figures against it within 1e-9, and re-runs this
script (when .venv-py exists) to check that the committed fixture is up to date.

    .venv-py/bin/python tools/python/stats_reference.py [--out PATH]
"""
from __future__ import annotations

import argparse
import json
import math
import warnings
from pathlib import Path

import numpy as np
# Undefined rates (0/0, a group without an actual member or non-member of a class) are part of the
# random cases: Fairlearn's true_positive_rate / false_positive_rate return 0 for them (scikit-learn's
# normalised confusion matrix), and src/stats/fairness.ts must do the same with minClassSamples 0.
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from scipy import stats
from scipy.spatial.distance import jensenshannon
from sklearn.metrics import accuracy_score

SEED = 20261122
LABELS = ["negative", "neutral", "positive"]
PSI_EPSILON = 1e-4
ROOT = Path(__file__).resolve().parents[2]


def expand_confusions(groups):
    """y_true, y_pred (label indices) and sensitive feature arrays from per-group 3x3 confusion counts."""
    y_true, y_pred, sens = [], [], []
    for g in groups:
        for a in range(3):
            for p in range(3):
                c = g["confusion"][a][p]
                y_true += [a] * c
                y_pred += [p] * c
                sens += [g["group"]] * c
    return np.array(y_true), np.array(y_pred), np.array(sens)


def fairness_case(rng, index):
    k = int(rng.integers(2, 7))
    min_samples = int(rng.choice([5, 20, 30]))
    groups = []
    for gi in range(k):
        small = rng.random() < 0.25
        size_scale = int(rng.integers(1, 4)) if small else int(rng.integers(10, 120))
        # Each group has its own error profile so that rates differ between groups.
        probs = rng.dirichlet(np.ones(9) * 0.8).reshape(3, 3) + np.eye(3) * rng.random()
        probs = probs / probs.sum()
        counts = rng.multinomial(size_scale * 9, probs.ravel()).reshape(3, 3)
        shape = rng.random()
        if shape < 0.5:
            counts = counts + np.eye(3, dtype=int)  # every class present: TPR/FPR defined
        elif shape < 0.75:
            counts[int(rng.integers(0, 3)), :] = 0  # a class never actual in this group: TPR undefined
        elif shape < 0.9:
            keep = int(rng.integers(0, 3))  # only one actual class: FPR of that class undefined
            counts = np.where(np.arange(3)[:, None] == keep, counts, 0) + np.eye(3, dtype=int) * (
                np.arange(3) == keep
            )
        # else: as drawn (small groups often miss a class by chance)
        groups.append({"group": f"g{index}_{gi}", "confusion": counts.tolist()})
    n = {g["group"]: int(np.sum(g["confusion"])) for g in groups}
    judged = [g for g in groups if n[g["group"]] >= min_samples]

    y_true, y_pred, sens = expand_confusions(groups)
    sel_true = (y_true == 0).astype(int)
    sel_pred = (y_pred == 0).astype(int)  # "selection" = predicted negative
    mf = MetricFrame(metrics=selection_rate, y_true=sel_true, y_pred=sel_pred, sensitive_features=sens)
    expected = {
        "negativeShare": {str(g): float(v) for g, v in mf.by_group.items()},
        "wilson": {},
        "zVsRest": {},
    }
    total_n = sum(n.values())
    total_x = int(np.sum(sel_pred))
    for g in groups:
        x = int(sum(g["confusion"][a][0] for a in range(3)))
        ng = n[g["group"]]
        ci = stats.binomtest(x, ng).proportion_ci(confidence_level=0.95, method="wilson")
        expected["wilson"][g["group"]] = [float(ci.low), float(ci.high)]
        rx, rn = total_x - x, total_n - ng
        pooled = (x + rx) / (ng + rn)
        se = math.sqrt(pooled * (1 - pooled) * (1 / ng + 1 / rn))
        z = (x / ng - rx / rn) / se
        expected["zVsRest"][g["group"]] = [z, float(2 * stats.norm.sf(abs(z)))]

    if len(judged) >= 1:
        jt, jp, js = expand_confusions(judged)
        jsel_t, jsel_p = (jt == 0).astype(int), (jp == 0).astype(int)
        expected["demographicParityDifference"] = float(demographic_parity_difference(jsel_t, jsel_p, sensitive_features=js))
        expected["disparateImpactRatio"] = float(demographic_parity_ratio(jsel_t, jsel_p, sensitive_features=js))
        eod = max(
            float(equalized_odds_difference((jt == c).astype(int), (jp == c).astype(int), sensitive_features=js))
            for c in range(3)
        )
        expected["equalizedOddsDifference"] = eod
        acc = MetricFrame(metrics=accuracy_score, y_true=jt, y_pred=jp, sensitive_features=js)
        expected["accuracyGap"] = float(acc.difference())
        expected["accuracy"] = {str(g): float(v) for g, v in acc.by_group.items()}
        tpr, fpr = {}, {}
        for ci_, label in enumerate(LABELS):
            yt, yp = (jt == ci_).astype(int), (jp == ci_).astype(int)
            tpr[label] = {str(g): float(v) for g, v in MetricFrame(metrics=true_positive_rate, y_true=yt, y_pred=yp, sensitive_features=js).by_group.items()}
            fpr[label] = {str(g): float(v) for g, v in MetricFrame(metrics=false_positive_rate, y_true=yt, y_pred=yp, sensitive_features=js).by_group.items()}
        expected["tpr"] = tpr
        expected["fpr"] = fpr
    return {"minSamples": min_samples, "groups": groups, "expected": expected}


def expand_hist(counts):
    """One sample per count, at its bin index: KS on these samples is KS on the binned data."""
    return np.repeat(np.arange(len(counts), dtype=float), counts)


def psi(cur, ref):
    p = np.asarray(cur, float) / np.sum(cur) + PSI_EPSILON
    q = np.asarray(ref, float) / np.sum(ref) + PSI_EPSILON
    return float(np.sum((p - q) * np.log(p / q)))


def numeric_case(rng):
    bins = int(rng.choice([10, 20]))
    def hist(center, spread, size):
        raw = rng.normal(center, spread, size)
        h = np.histogram(np.clip(raw, 0, bins - 1e-9), bins=bins, range=(0, bins))[0]
        return h.astype(int)
    center, spread = rng.uniform(0, bins), rng.uniform(1, bins / 2)
    ref = hist(center, spread, int(rng.integers(50, 3000)))
    # No shift, a small one or a large one: p-values from ~1 down to tiny.
    shift = float(rng.choice([0.0, 0.0, 0.3, 1.0, 3.0]))
    cur = hist(center + shift, spread * float(rng.choice([1.0, 1.0, 1.3])), int(rng.integers(30, 3000)))
    s_cur, s_ref = expand_hist(cur), expand_hist(ref)
    ks = stats.ks_2samp(s_cur, s_ref, method="asymp")
    n, m = len(s_cur), len(s_ref)
    en = n * m / (n + m)
    return {
        "current": cur.tolist(),
        "reference": ref.tolist(),
        "expected": {
            "ksStatistic": float(ks.statistic),
            "ksPValueKolmogorov": float(stats.kstwobign.sf(math.sqrt(en) * float(ks.statistic))),
            "ksPValueScipyAsympInfo": float(ks.pvalue),
            "jensenShannon": float(jensenshannon(cur, ref, base=2)),
            "psi": psi(cur, ref),
        },
    }


def categorical_case(rng):
    k = int(rng.choice([2, 2, 3, 4, 6]))
    probs = rng.dirichlet(np.ones(k))
    ref = rng.multinomial(int(rng.integers(20, 2000)), probs)
    # Half the cases from the same mix (large p-values), half from another one.
    cur_probs = probs if rng.random() < 0.5 else rng.dirichlet(np.ones(k))
    cur = rng.multinomial(int(rng.integers(20, 2000)), cur_probs)
    if k >= 4 and rng.random() < 0.5:  # a category absent from both windows
        ref[1] = 0
        cur[1] = 0
    table = np.array([ref, cur])
    kept = table[:, table.sum(axis=0) > 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.chi2_contingency(kept)
    return {
        "current": cur.tolist(),
        "reference": ref.tolist(),
        "expected": {
            "chi2": float(res.statistic),
            "pValue": float(res.pvalue),
            "dof": int(res.dof),
            "jensenShannon": float(jensenshannon(cur, ref, base=2)),
            "psi": psi(cur, ref),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "test/fixtures/stats/oracle.json"))
    args = parser.parse_args()
    rng = np.random.default_rng(SEED)
    fixture = {
        "generator": "tools/python/stats_reference.py",
        "seed": SEED,
        "psiEpsilon": PSI_EPSILON,
        "fairness": [fairness_case(rng, i) for i in range(40)],
        "numeric": [numeric_case(rng) for _ in range(30)],
        "categorical": [categorical_case(rng) for _ in range(30)],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(fixture, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
