"""Fine-tune multilingual-e5-small (converted by e5_convert.py) for sentiment and NER in one encoder.

One encoder, two heads: a sentence head on the masked mean of the last hidden states (e5 was trained
with mean pooling) and a token head (BIO over PER/ORG/LOC/MISC). Steps alternate between a sentiment
batch and a NER batch. Data: PhraseBank + Twitter (English) and their Chinese renderings; CoNLL-2003
train and its Chinese renderings (zh_data.py; the Chinese dev split and the English originals of its
rows are held out). NER labels are given to every sub-token from character spans, so the same code
serves text with spaces and text without (Chinese); English evaluation takes each CoNLL word's first
sub-token, Chinese evaluation compares character spans.

The word-embedding matrix (250k x 384) is frozen: it is most of the parameters and e5's multilingual
vocabulary is what must survive fine-tuning on two languages. A wall-time budget fixes the number of
steps from the measured speed, and the learning rate decays linearly to zero over exactly those steps.
Checkpoints (training/out/joint/ckpt.pt) make the run resumable. docs/models.md "Multilingual".
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from common import NER_LABELS, OUT_DIR, data_dir, load_conll, load_sentiment, log, set_seed, set_threads
from zh_data import held_out_english, load_zh_rows

L2I = {l: i for i, l in enumerate(NER_LABELS)}
JOINT_DIR = OUT_DIR / "joint"


class JointModel(nn.Module):
    def __init__(self, encoder, n_sent: int = 3, n_ner: int = len(NER_LABELS), dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.sentiment = nn.Linear(hidden, n_sent)
        self.ner = nn.Linear(hidden, n_ner)

    def forward(self, input_ids, attention_mask):
        h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.sentiment(self.dropout(pooled)), self.ner(self.dropout(h))


def char_span_labels(tokens, offsets, spans) -> list[int]:
    """BIO label per token from character spans (type, start, end). Special tokens and a bare metaspace
    "▁" (the word-start marker before text without spaces, whose offset overlaps the next token's) get
    -100: they are never trained, and the engine's decoder skips them too."""
    labels = []
    for token, (start, end) in zip(tokens, offsets):
        if start == end or token == "\u2581":
            labels.append(-100)
            continue
        tag = "O"
        for typ, s, e in spans:
            if start < e and end > s:
                tag = ("B-" if start <= s else "I-") + typ
                break
        labels.append(L2I[tag])
    return labels


def conll_as_text(words, tags):
    """A CoNLL sentence as raw text (words joined by spaces), its char spans and word start offsets."""
    text, starts, spans, pos = [], [], [], 0
    for w in words:
        starts.append(pos)
        text.append(w)
        pos += len(w) + 1
    cur = None
    for i, t in enumerate(list(tags) + ["O"]):
        if cur and (t == "O" or t.startswith("B-") or t[2:] != cur[0]):
            spans.append((cur[0], cur[1], starts[i - 1] + len(words[i - 1])))
            cur = None
        if t != "O" and cur is None:
            cur = (t[2:], starts[i])
    return " ".join(text), spans, starts


def load_data(ddir: Path):
    zh = load_zh_rows(ddir)
    held = held_out_english(zh)
    pb_train, pb_dev, tw_train, tw_dev = load_sentiment(ddir)
    keep = lambda r: " ".join(r["text"].split()) not in held  # noqa: E731
    sent_train = [r for r in pb_train + tw_train if keep(r)]
    sent_train += [r for r in zh if r["task"] == "sentiment" and not r["dev"]]
    ner_train = []
    for words, tags in load_conll(ddir / "conll2003" / "eng.train"):
        if " ".join(words) in held:
            continue
        text, spans, _ = conll_as_text(words, tags)
        ner_train.append({"text": text, "spans": spans})
    zh_ner = [r for r in zh if r["task"] == "ner" and not r["dev"]]
    ner_train += zh_ner * 3  # 1.4k Chinese sentences against 14k English: seen three times as often
    dev = {
        "pb": pb_dev,
        "tw": tw_dev,
        "zh_sent": [r for r in zh if r["task"] == "sentiment" and r["dev"]],
        "conll": load_conll(ddir / "conll2003" / "eng.testa"),
        "zh_ner": [r for r in zh if r["task"] == "ner" and r["dev"]],
    }
    log(f"train: sentiment {len(sent_train)}, ner {len(ner_train)} (zh ner {len(zh_ner)} x3); held-out en {len(held)}")
    return sent_train, ner_train, dev


def encode_rows(tok, rows, max_len, task):
    items = []
    for r in rows:
        enc = tok.encode(r["text"])
        ids = enc.ids[: max_len - 1] + ([enc.ids[-1]] if len(enc.ids) > max_len - 1 else [])
        if task == "sentiment":
            items.append((ids, r["label"]))
        else:
            labels = char_span_labels(enc.tokens, enc.offsets, r["spans"])
            labels = labels[: max_len - 1] + ([-100] if len(labels) > max_len - 1 else [])
            items.append((ids, labels))
    return items


def batches(items, batch_size, rng, pad_id):
    """Length-bucketed batches (sorted chunks of 50 batches, shuffled), forever."""
    while True:
        order = list(range(len(items)))
        rng.shuffle(order)
        chunk = batch_size * 50
        groups = []
        for c in range(0, len(order), chunk):
            part = sorted(order[c : c + chunk], key=lambda i: len(items[i][0]))
            groups += [part[b : b + batch_size] for b in range(0, len(part), batch_size)]
        rng.shuffle(groups)
        for g in groups:
            yield collate([items[i] for i in g], pad_id)


def collate(group, pad_id):
    width = max(len(ids) for ids, _ in group)
    ids = torch.full((len(group), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(group), width), dtype=torch.long)
    token_labels = isinstance(group[0][1], list)
    labels = torch.full((len(group), width), -100, dtype=torch.long) if token_labels else torch.zeros(len(group), dtype=torch.long)
    for i, (seq, lab) in enumerate(group):
        ids[i, : len(seq)] = torch.tensor(seq)
        mask[i, : len(seq)] = 1
        if token_labels:
            labels[i, : len(lab)] = torch.tensor(lab)
        else:
            labels[i] = lab
    return ids, mask, labels


def train(args) -> None:
    from tokenizers import Tokenizer
    from transformers import BertModel

    set_seed(args.seed)
    set_threads(args.threads)
    tok = Tokenizer.from_file(str(Path(args.base) / "tokenizer.json"))
    pad_id = json.loads((Path(args.base) / "specials.json").read_text())["pad"]
    sent_rows, ner_rows, _ = load_data(data_dir(args.data))
    sent_items = encode_rows(tok, sent_rows, args.max_len, "sentiment")
    ner_items = encode_rows(tok, ner_rows, args.max_len, "ner")
    model = JointModel(BertModel.from_pretrained(args.base, add_pooling_layer=False))
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    JOINT_DIR.mkdir(parents=True, exist_ok=True)
    ckpt = JOINT_DIR / "ckpt.pt"
    step, total, spent = 0, None, 0.0
    if args.init:
        # A second round (a warm restart): start from a finished model's weights with a fresh optimizer
        # and schedule, so that a run cut short by its time budget can be continued on another day.
        model.load_state_dict(torch.load(args.init, weights_only=True))
        log(f"initialised from {args.init}")
    elif ckpt.exists() and args.resume:
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, total, spent = state["step"], state["total"], state["spent"]
        log(f"resumed at step {step}/{total}")
    rng = random.Random(args.seed + step)
    sent_it = batches(sent_items, args.batch, rng, pad_id)
    ner_it = batches(ner_items, args.batch, rng, pad_id)
    ce = nn.CrossEntropyLoss(ignore_index=-100)
    model.train()
    t0 = time.time() - spent
    losses = {"sentiment": [], "ner": []}
    recent: list[float] = []
    while total is None or step < total:
        for task, it in (("sentiment", sent_it), ("ner", ner_it)):
            ids, mask, labels = next(it)
            sent_logits, ner_logits = model(ids, mask)
            if task == "sentiment":
                loss = ce(sent_logits, labels)
            else:
                loss = ce(ner_logits.reshape(-1, ner_logits.shape[-1]), labels.reshape(-1))
            loss.backward()
            losses[task].append(loss.item())
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        lr = schedule(step, total, args)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        opt.zero_grad()
        step += 1
        elapsed = time.time() - t0
        if total is None and step == 30:
            per_step = elapsed / step
            total = max(60, int(args.time_budget_min * 60 / per_step)) if args.time_budget_min else int(
                args.epochs * max(len(sent_items), len(ner_items)) / args.batch)
            log(f"{per_step:.2f} s/step -> {total} steps")
        if step % 50 == 0 and args.deadline:
            total = replan(step, total, args.deadline, recent)
        recent.append(time.time())
        if step % 50 == 0:
            log(f"step {step}/{total} lr {lr:.2e} loss sent {np.mean(losses['sentiment'][-50:]):.4f} "
                f"ner {np.mean(losses['ner'][-50:]):.4f} ({elapsed / 60:.1f} min)")
        if step % 300 == 0:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "total": total,
                        "spent": elapsed}, ckpt)
    torch.save(model.state_dict(), JOINT_DIR / "model.pt")
    minutes = (time.time() - t0) / 60
    log(f"trained {step} steps in {minutes:.1f} min")
    settings = {k: v for k, v in vars(args).items() if k not in ("data", "base")}
    earlier = json.loads((JOINT_DIR / "train.json").read_text()) if args.init and (JOINT_DIR / "train.json").exists() else None
    summary = {"earlier_round": earlier, "steps": step, "minutes": round(minutes, 1), "sentiment_examples": len(sent_items),
               "ner_examples": len(ner_items), "settings": settings, "torch": torch.__version__}
    (JOINT_DIR / "train.json").write_text(json.dumps(summary, indent=2) + "\n")


def replan(step, total, deadline, recent) -> int:
    """Steps that fit before the wall-clock deadline (HH:MM UTC) at the recent speed: on a shared
    machine the speed changes, and the learning rate must still reach zero when time is up."""
    import datetime as dt

    if len(recent) < 20:
        return total
    per_step = (recent[-1] - recent[-20]) / 19
    now = dt.datetime.now(dt.timezone.utc)
    hh, mm = map(int, deadline.split(":"))
    end = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
    left = max(0.0, (end - now).total_seconds())
    return max(step + 1, step + int(left / per_step))


def schedule(step, total, args):
    warm = args.warmup
    if step < warm:
        return args.lr * (step + 1) / warm
    if total is None:
        return args.lr
    return args.lr * max(0.0, (total - step) / max(1, total - warm))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=None)
    ap.add_argument("--base", default=str(OUT_DIR / "e5" / "base"))
    ap.add_argument("--lr", type=float, default=8e-5)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--epochs", type=float, default=2)
    ap.add_argument("--time-budget-min", type=float, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init", default="", help="model.pt of an earlier round to continue from (fresh schedule)")
    ap.add_argument("--deadline", default="", help="HH:MM UTC by which training must end (replans the steps)")
    train(ap.parse_args())


if __name__ == "__main__":
    main()
