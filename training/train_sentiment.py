"""Fine-tune all-MiniLM-L6-v2 for 3-class financial sentiment (negative / neutral / positive).

Train: Financial PhraseBank train.tsv + Twitter Financial News train.csv (minus a 10% hash dev split).
Dev:   PhraseBank dev.tsv (overall and agreement=100) and the Twitter hash dev split.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from pathlib import Path

from common import (
    OUT_DIR,
    SENTIMENT_LABELS,
    base_model_dir,
    data_dir,
    load_sentiment,
    log,
    set_seed,
    set_threads,
    write_json,
)

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer


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


def collate(enc, ids, labels=None, pad_id=0):
    L = max(len(enc[i]) for i in ids)
    input_ids = torch.full((len(ids), L), pad_id, dtype=torch.long)
    att = torch.zeros((len(ids), L), dtype=torch.long)
    for r, i in enumerate(ids):
        input_ids[r, : len(enc[i])] = torch.tensor(enc[i])
        att[r, : len(enc[i])] = 1
    out = {"input_ids": input_ids, "attention_mask": att, "token_type_ids": torch.zeros_like(input_ids)}
    if labels is not None:
        out["labels"] = torch.tensor([labels[i] for i in ids], dtype=torch.long)
    return out


@torch.no_grad()
def predict(model, tok, texts, max_len, batch=64):
    model.eval()
    enc = tok(texts, truncation=True, max_length=max_len)["input_ids"]
    order = sorted(range(len(texts)), key=lambda i: len(enc[i]))
    logits = np.zeros((len(texts), len(SENTIMENT_LABELS)), dtype=np.float32)
    for s in range(0, len(order), batch):
        ids = order[s : s + batch]
        out = model(**collate(enc, ids, pad_id=tok.pad_token_id)).logits
        logits[ids] = out.float().numpy()
    return logits


def macro_f1(y, p, k=3):
    f1s = []
    for c in range(k):
        tp = sum(1 for a, b in zip(y, p) if a == c and b == c)
        fp = sum(1 for a, b in zip(y, p) if a != c and b == c)
        fn = sum(1 for a, b in zip(y, p) if a == c and b != c)
        pr = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * pr * rc / (pr + rc) if pr + rc else 0.0)
    return float(np.mean(f1s))


def sentiment_metrics(pb_dev, tw_dev, pb_pred, tw_pred) -> dict:
    def acc(rows, pred):
        return float(np.mean([r["label"] == p for r, p in zip(rows, pred)])) if rows else float("nan")

    a100 = [(r, p) for r, p in zip(pb_dev, pb_pred) if r["agreement"] == 100]
    y_all = [r["label"] for r in pb_dev] + [r["label"] for r in tw_dev]
    p_all = list(pb_pred) + list(tw_pred)
    return {
        "phrasebank_dev_accuracy": round(acc(pb_dev, pb_pred), 4),
        "phrasebank_dev_agree100_accuracy": round(acc([r for r, _ in a100], [p for _, p in a100]), 4),
        "phrasebank_dev_macro_f1": round(macro_f1([r["label"] for r in pb_dev], list(pb_pred)), 4),
        "twitter_dev_accuracy": round(acc(tw_dev, tw_pred), 4),
        "twitter_dev_macro_f1": round(macro_f1([r["label"] for r in tw_dev], list(tw_pred)), 4),
        "combined_dev_macro_f1": round(macro_f1(y_all, p_all), 4),
        "n_phrasebank_dev": len(pb_dev),
        "n_phrasebank_dev_agree100": len(a100),
        "n_twitter_dev": len(tw_dev),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=None, help="data dir (default ../shared/data relative to repo root)")
    ap.add_argument("--epochs", type=float, default=3)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=float, default=0.06)
    ap.add_argument("--bench-steps", type=int, default=0, help="only time this many steps and exit")
    ap.add_argument("--time-budget-min", type=float, default=0,
                    help="shrink the planned steps so that training fits this wall time (re-planned at steps 20 and 100)")
    ap.add_argument("--max-minutes", type=float, default=0, help="safety stop after this wall time (0 = none)")
    ap.add_argument("--out", default=str(OUT_DIR / "sentiment"))
    args = ap.parse_args()

    set_threads(args.threads)
    set_seed(args.seed)
    t0 = time.time()
    ddir = data_dir(args.data)
    pb_train, pb_dev, tw_train, tw_dev = load_sentiment(ddir)
    train = pb_train + tw_train
    log(f"train {len(train)} (phrasebank {len(pb_train)}, twitter {len(tw_train)}); dev phrasebank {len(pb_dev)}, twitter {len(tw_dev)}")

    bdir = base_model_dir()
    tok = AutoTokenizer.from_pretrained(str(bdir))
    id2label = {i: l for i, l in enumerate(SENTIMENT_LABELS)}
    model = AutoModelForSequenceClassification.from_pretrained(
        str(bdir), num_labels=3, id2label=id2label, label2id={l: i for i, l in id2label.items()}
    )
    enc = tok([r["text"] for r in train], truncation=True, max_length=args.max_len)["input_ids"]
    labels = [r["label"] for r in train]
    lengths = [len(e) for e in enc]
    log(f"mean tokens {np.mean(lengths):.1f}, truncated {sum(l >= args.max_len for l in lengths)}")

    rng = random.Random(args.seed)
    steps_per_epoch = math.ceil(len(train) / args.batch)
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
        batches = make_batches(lengths, args.batch, rng)
        run_loss = 0.0
        for b in batches:
            if step >= total:
                break
            out = model(**collate(enc, b, labels, pad_id=tok.pad_token_id))
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
        pb_pred = predict(model, tok, [r["text"] for r in pb_dev], args.max_len).argmax(-1)
        tw_pred = predict(model, tok, [r["text"] for r in tw_dev], args.max_len).argmax(-1)
        m = sentiment_metrics(pb_dev, tw_dev, pb_pred, tw_pred)
        m.update(epoch=epoch, step=step, minutes=round((time.time() - t_train) / 60, 1))
        history.append(m)
        log(f"epoch {epoch}: {m}")

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
                "seed": args.seed,
                "warmup": args.warmup,
                "weight_decay": 0.01,
                "threads": args.threads,
                "stopped_early": stopped_early,
                "time_budget_min": args.time_budget_min,
                "train_examples": len(train),
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
