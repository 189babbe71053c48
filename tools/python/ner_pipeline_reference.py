"""Reference NER output of the Hugging Face transformers TokenClassificationPipeline.

Runs a token-classification ONNX model (HF layout: model.onnx, tokenizer.json, config.json) with
onnxruntime and feeds the logits to transformers' own TokenClassificationPipeline.postprocess for
every aggregation strategy (simple, first, max, average). PyTorch is not needed: only the pipeline's
post-processing is used, which is exactly the logic the Node implementation must match.

usage: python tools/python/ner_pipeline_reference.py MODEL_DIR TEXTS_JSON OUT_JSON
"""
import hashlib
import json
import sys
import types

import numpy as np
import onnxruntime as ort
import transformers
from transformers import PreTrainedTokenizerFast
from transformers.pipelines import token_classification as tc
from transformers.pipelines.token_classification import AggregationStrategy, TokenClassificationPipeline


class _Tensor:
    """What postprocess expects of a torch tensor: indexing, .dtype and .numpy()."""

    def __init__(self, array):
        self.array = array
        self.dtype = array.dtype

    def __getitem__(self, index):
        return _Tensor(self.array[index])

    def numpy(self):
        return self.array


def utf16_index(text: str, code_point_index: int) -> int:
    return len(text[:code_point_index].encode("utf-16-le")) // 2


def main() -> None:
    model_dir, texts_path, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(f"{model_dir}/config.json", encoding="utf-8") as f:
        config = json.load(f)
    id2label = {int(k): v for k, v in config["id2label"].items()}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=f"{model_dir}/tokenizer.json",
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    # postprocess() looks up torch dtypes; without torch installed give it stand-ins.
    if not hasattr(tc, "torch"):
        tc.torch = types.SimpleNamespace(bfloat16=object(), float16=object())
    pipe = TokenClassificationPipeline.__new__(TokenClassificationPipeline)
    pipe.tokenizer = tokenizer
    pipe.model = types.SimpleNamespace(config=types.SimpleNamespace(id2label=id2label))

    with open(f"{model_dir}/model.onnx", "rb") as f:
        model_bytes = f.read()
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    input_names = {i.name for i in session.get_inputs()}

    with open(texts_path, encoding="utf-8") as f:
        texts = json.load(f)
    strategies = ["simple", "first", "max", "average"]
    results = {s: [] for s in strategies}
    for text in texts:
        enc = tokenizer(text, return_offsets_mapping=True, return_special_tokens_mask=True, return_tensors="np")
        ids = enc["input_ids"].astype(np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "token_type_ids" in input_names:
            feeds["token_type_ids"] = enc["token_type_ids"].astype(np.int64) if "token_type_ids" in enc else np.zeros_like(ids)
        logits = session.run(["logits"], feeds)[0]
        outputs = {
            "logits": _Tensor(logits),
            "input_ids": enc["input_ids"],
            "offset_mapping": enc["offset_mapping"],
            "special_tokens_mask": _Tensor(enc["special_tokens_mask"]),
            "sentence": text,
        }
        for strategy in strategies:
            entities = pipe.postprocess([outputs], aggregation_strategy=AggregationStrategy(strategy))
            results[strategy].append(
                [
                    {
                        "type": e["entity_group"],
                        "score": float(e["score"]),
                        "word": e["word"],
                        "start": utf16_index(text, int(e["start"])),
                        "end": utf16_index(text, int(e["end"])),
                    }
                    for e in entities
                ]
            )
    out = {
        "generator": "tools/python/ner_pipeline_reference.py",
        "transformers_version": transformers.__version__,
        "model_sha256": hashlib.sha256(model_bytes).hexdigest(),
        "texts": texts,
        "results": results,
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=0)
        f.write("\n")


if __name__ == "__main__":
    main()
