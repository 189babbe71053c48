"""Fine-tune all-MiniLM-L6-v2 for CoNLL-2003 English NER (BIO, PER/ORG/LOC/MISC).

Train on eng.train, evaluate on eng.testa (span-level, seqeval-style P/R/F1).
The files are IOB1; they are converted to IOB2 (BIO) in common.iob1_to_bio.
Only the first sub-token of each word carries a label; the others get -100.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from pathlib import Path

from common import (
    NER_LABELS,
    OUT_DIR,
    base_model_dir,
    data_dir,
    load_conll,
    log,
    set_seed,
    set_threads,
    span_prf,
    write_json,
)

import numpy as np
import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer

L2I = {l: i for i, l in enumerate(NER_LABELS)}


def continuation(tag: str) -> str:
    """Label of a word's later sub-tokens: inside the same entity (B-X -> I-X), O stays O."""
    return "I-" + tag[2:] if tag != "O" else "O"


def encode(tok, sents, max_len, label_all=False):
    """Returns per sentence: input_ids, label ids, word index of each word's first token.

    label_all=False: only the first sub-token of a word is labelled (-100 elsewhere).
    label_all=True: later sub-tokens are labelled too (I-X inside an entity). finsentry reads raw text, where
    the tokenizer splits CoNLL words at punctuation ("S.AFRICA" -> s . africa) and Hugging Face pipeline
    aggregation treats each piece as a word of its own, so every sub-token needs a trained label.
    Evaluation always uses the first sub-token of each word."""
    enc = tok([w for w, _ in sents], is_split_into_words=True, truncation=True, max_length=max_len)
    items = []
    n_trunc = 0
    for k, (words, tags) in enumerate(sents):
        wids = enc.word_ids(k)
        labels = []
        first = []
        prev = None
        for w in wids:
            if w is None:
                labels.append(-100)
                first.append(-1)
            elif w == prev:
                labels.append(L2I[continuation(tags[w])] if label_all else -100)
                first.append(-1)
            else:
                labels.append(L2I[tags[w]])
                first.append(w)
            prev = w if w is not None else prev
        if len({w for w in wids if w is not None}) < len(words):
            n_trunc += 1
        items.append((enc["input_ids"][k], labels, first))
    return items, n_trunc


def collate(items, ids, pad_id=0, with_labels=True):
    L = max(len(items[i][0]) for i in ids)
    input_ids = torch.full((len(ids), L), pad_id, dtype=torch.long)
    att = torch.zeros((len(ids), L), dtype=torch.long)
    lab = torch.full((len(ids), L), -100, dtype=torch.long)
    for r, i in enumerate(ids):
        n = len(items[i][0])
        input_ids[r, :n] = torch.tensor(items[i][0])
        att[r, :n] = 1
        lab[r, :n] = torch.tensor(items[i][1])
    out = {"input_ids": input_ids, "attention_mask": att, "token_type_ids": torch.zeros_like(input_ids)}
    if with_labels:
        out["labels"] = lab
    return out


def make_batches(lengths, batch, rng, chunk_mult=50):
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    batches = []
    chunk = batch * chunk_mult
    for s in range(0, len(idx), chunk):
        c = sorted(idx[s : s + chunk], key=lambda i: lengths[i])
        batches += [c[j : j + batch] for j in range(0, len(c), batch)]
    rng.shuffle(batches)
    return batches


def word_predictions(logits_list, items, sents):
    """Word-level BIO tags from first-sub-token logits; words lost to truncation are tagged O."""
    preds = []
    for logits, (ids, _, first), (words, _) in zip(logits_list, items, sents):
        tags = ["O"] * len(words)
        am = logits.argmax(-1)
        for t, w in enumerate(first):
            if w >= 0:
                tags[w] = NER_LABELS[int(am[t])]
        preds.append(tags)
    return preds


@torch.no_grad()
def predict_logits(model, items, pad_id, batch=64):
    model.eval()
    order = sorted(range(len(items)), key=lambda i: len(items[i][0]))
    out = [None] * len(items)
    for s in range(0, len(order), batch):
        ids = order[s : s + batch]
        lg = model(**collate(items, ids, pad_id, with_labels=False)).logits.float().numpy()
        for r, i in enumerate(ids):
            out[i] = lg[r, : len(items[i][0])]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=None)
    ap.add_argument("--epochs", type=float, default=3)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--eval-max-len", type=int, default=256)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=float, default=0.06)
    ap.add_argument("--label-all-subtokens", action="store_true",
                    help="train every sub-token (I-X after a word's first piece), not only the first")
    ap.add_argument("--bench-steps", type=int, default=0)
    ap.add_argument("--time-budget-min", type=float, default=0,
                    help="shrink the planned steps so that training fits this wall time (re-planned at steps 20 and 100)")
    ap.add_argument("--max-minutes", type=float, default=0)
    ap.add_argument("--out", default=str(OUT_DIR / "ner"))
    args = ap.parse_args()

    set_threads(args.threads)
    set_seed(args.seed)
    t0 = time.time()
    ddir = data_dir(args.data)
    train_s = load_conll(ddir / "conll2003" / "eng.train")
    dev_s = load_conll(ddir / "conll2003" / "eng.testa")
    log(f"train {len(train_s)} sentences, dev {len(dev_s)}")

    bdir = base_model_dir()
    tok = AutoTokenizer.from_pretrained(str(bdir))
    id2label = {i: l for i, l in enumerate(NER_LABELS)}
    model = AutoModelForTokenClassification.from_pretrained(
        str(bdir), num_labels=len(NER_LABELS), id2label=id2label, label2id=L2I
    )
    items, n_trunc = encode(tok, train_s, args.max_len, label_all=args.label_all_subtokens)
    dev_items, dev_trunc = encode(tok, dev_s, args.eval_max_len)
    lengths = [len(it[0]) for it in items]
    log(f"mean tokens {np.mean(lengths):.1f}; truncated train {n_trunc}, dev {dev_trunc}")

    rng = random.Random(args.seed)
    steps_per_epoch = math.ceil(len(items) / args.batch)
    total = args.bench_steps or int(round(steps_per_epoch * args.epochs))
    no_decay = ["bias", "LayerNorm.weight"]
    params = [
        {"params": [p for n, p in model.named_parameters() if not any(nd in n for nd in no_decay)], "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters() if any(nd in n for nd in no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(params, lr=args.lr)
    plan = {"total": total, "warmup": max(1, int(args.warmup * total))}

    def lr_lambda(st):  # linear warmup then linear decay to 0 at plan["total"] (re-plannable)
        if st < plan["warmup"]:
            return st / plan["warmup"]
        return max(0.0, (plan["total"] - st) / max(1, plan["total"] - plan["warmup"]))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
    log(f"steps/epoch {steps_per_epoch}, total steps {total}")

    step = 0
    epoch = 0
    history = []
    t_train = time.time()
    planned_total = total
    mark = [0, t_train]
    stopped_early = False
    while step < total:
        model.train()
        run_loss = 0.0
        for b in make_batches(lengths, args.batch, rng):
            if step >= total:
                break
            out = model(**collate(items, b, tok.pad_token_id))
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            run_loss += out.loss.item()
            if args.time_budget_min and (step == 20 or step % 100 == 0):
                # re-plan from the recent speed so that training ends within the budget (CPU is shared)
                now = time.time()
                per = (now - mark[1]) / (step - mark[0])
                mark[:] = [step, now]
                fit = step + int((args.time_budget_min * 60 - (now - t_train)) / per)
                new_total = max(step + 1, min(planned_total, fit))
                if new_total != plan["total"] and plan["total"] > step:
                    plan["total"] = total = new_total
                    log(f"re-planned to {total} steps ({per:.2f} s/step recently, budget {args.time_budget_min} min)")
            if step % 50 == 0 or (args.bench_steps and step % 5 == 0):
                el = time.time() - t_train
                log(f"step {step}/{total} loss {run_loss / 50 if step % 50 == 0 else out.loss.item():.4f} "
                    f"{el / step:.3f}s/step eta {(total - step) * el / step / 60:.1f} min")
                if step % 50 == 0:
                    run_loss = 0.0
            if args.max_minutes and (time.time() - t_train) > args.max_minutes * 60:
                log("max-minutes reached, stopping early")
                stopped_early = True
                total = step
                break
        epoch += 1
        if args.bench_steps:
            el = time.time() - t_train
            log(f"BENCH {el / step:.3f} s/step -> {el / step * steps_per_epoch / 60:.1f} min/epoch")
            return
        preds = word_predictions(predict_logits(model, dev_items, tok.pad_token_id), dev_items, dev_s)
        m = span_prf([t for _, t in dev_s], preds)
        history.append({"epoch": epoch, "step": step, "minutes": round((time.time() - t_train) / 60, 1), "testa": m})
        log(f"epoch {epoch}: overall {m['overall']} " + " ".join(f"{k}={v['f1']}" for k, v in m.items() if k != "overall"))

    train_minutes = (time.time() - t_train) / 60
    out = Path(args.out)
    hf = out / "hf"
    model.save_pretrained(str(hf))
    tok.save_pretrained(str(hf))
    write_json(
        out / "train_metrics.json",
        {
            "settings": {
                "epochs": round(step / steps_per_epoch, 2),
                "steps": step,
                "lr": args.lr,
                "batch": args.batch,
                "max_len": args.max_len,
                "eval_max_len": args.eval_max_len,
                "label_all_subtokens": args.label_all_subtokens,
                "seed": args.seed,
                "warmup": args.warmup,
                "weight_decay": 0.01,
                "threads": args.threads,
                "stopped_early": stopped_early,
                "time_budget_min": args.time_budget_min,
                "train_sentences": len(items),
                "train_truncated_sentences": n_trunc,
                "dev_truncated_sentences": dev_trunc,
                "train_wall_minutes": round(train_minutes, 1),
                "total_wall_minutes": round((time.time() - t0) / 60, 1),
            },
            "history": history,
            "final": history[-1] if history else None,
        },
    )
    log(f"saved to {hf}; train {train_minutes:.1f} min")


if __name__ == "__main__":
    main()
