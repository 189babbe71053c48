"""The Chinese training rows (../shared/data/zh_translated, read its SOURCES.md) and the project's dev split.

Sentiment rows keep their English label; NER rows carry inline markup `[TYPE entity]`, stripped here
into the text and character spans. The dev split is 10% by a hash of the row id; the English originals
of dev rows are left out of English training too (`held_out_english`), so the Chinese dev figure is
not flattered by the model having seen the same sentence in English.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from common import SENTIMENT_LABELS, stable_hash

MARKUP = re.compile(r"\[(PER|ORG|LOC|MISC) ([^\[\]]+)\]")


def strip_markup(marked: str) -> tuple[str, list[tuple[str, int, int]]]:
    """Text without markup and its entity spans (type, start, end) in characters."""
    out, spans, pos = [], [], 0
    length = 0
    for m in MARKUP.finditer(marked):
        before = marked[pos : m.start()]
        out.append(before)
        length += len(before)
        ent = m.group(2)
        spans.append((m.group(1), length, length + len(ent)))
        out.append(ent)
        length += len(ent)
        pos = m.end()
    out.append(marked[pos:])
    return "".join(out), spans


def zh_is_dev(row_id: str, pct: int = 10) -> bool:
    return stable_hash("zh:" + row_id) % 100 < pct


def load_zh_rows(ddir: Path) -> list[dict]:
    rows = []
    for path in sorted((ddir / "zh_translated").glob("train-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            row = {"id": r["id"], "task": r["task"], "en": r["en"], "dev": zh_is_dev(r["id"]), "source": "zh"}
            if r["task"] == "sentiment":
                row.update(text=r["zh"], label=SENTIMENT_LABELS.index(r["label"]))
            else:
                row["text"], row["spans"] = strip_markup(r["zh"])
                row["en_text"], _ = strip_markup(r["en"])
            rows.append(row)
    return rows


def held_out_english(rows: list[dict]) -> set[str]:
    """English texts whose Chinese rendering is in the dev split (normalised by whitespace)."""
    out = set()
    for r in rows:
        if r["dev"]:
            en = r.get("en_text") or r["en"]
            out.add(" ".join(en.split()))
    return out
