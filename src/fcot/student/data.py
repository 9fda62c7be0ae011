"""Training data for the student: read and check a curated JSONL, tokenize.

Decoders get `input_ids` + `completion_mask` (TRL builds the label-only loss from the mask); encoder-decoders
get `input_ids` + `labels`. Samples longer than `max_len` tokens are dropped rather than cut, so no
rationale loses its answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fcot.curate import read_sidecar
from fcot.errors import DataError, ModelError
from fcot.formats import read_jsonl
from fcot.templates import TEMPLATES

log = logging.getLogger(__name__)


@dataclass
class TrainData:
    """Curated samples (`input`, `label`) and the curation config next to them, if any."""

    path: Path
    rows: list[dict]
    meta: dict  # the `.curate.json` sidecar ({} without one): template, model_type, stop_phrase, dataset_key, ...


def read_train_file(path: str | Path) -> TrainData:
    """Read a curated JSONL, checking every line has text `input` and `label` (or `prompt` and `completion`)."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; pass a curated .jsonl file (see `fcot curate`)")
    rows = []
    for lineno, raw in enumerate(read_jsonl(path), 1):
        if not isinstance(raw, dict):
            raise DataError(f"{path}:{lineno}: expected a JSON object with 'input' and 'label'")
        text_in, label = raw.get("input", raw.get("prompt")), raw.get("label", raw.get("completion"))
        for name, value in (("input", text_in), ("label", label)):
            if not isinstance(value, str) or not value:
                raise DataError(f"{path}:{lineno}: missing or empty {name!r}; each line needs text 'input' and "
                                "'label' (as written by `fcot curate`)")
        row = {"input": text_in, "label": label}
        if isinstance(raw.get("sample_index"), int):  # lets validation score answers against the task's gold
            row["sample_index"] = raw["sample_index"]
        rows.append(row)
    if not rows:
        raise DataError(f"{path}: no training samples; curate some with `fcot curate`")
    return TrainData(path=path, rows=rows, meta=read_sidecar(path))


def check_model_type(data: TrainData, model_type: str) -> None:
    """Raise ModelError when the data was curated for another kind of model."""
    if not data.meta:
        return
    curated_for, template = data.meta.get("model_type"), data.meta.get("template")
    labels = TEMPLATES[template].labels if template in TEMPLATES else {}
    if labels and model_type not in labels:
        raise ModelError(f"{data.path}: template {template} is {' and '.join(labels)}-only but the model is an "
                         f"{model_type}; curate with --template ft_cot_token --model-type {model_type}")
    if curated_for and curated_for != model_type:
        raise ModelError(f"{data.path}: curated for {curated_for} models but the model is {model_type}; "
                         f"re-curate with --model-type {model_type}")


def tokenize(rows: list[dict], tokenizer: Any, model_type: str, max_len: int) -> tuple[list[dict], int]:
    """(tokenized samples, number dropped as longer than max_len)."""
    if model_type == "decoder":
        encoded = [_decoder_sample(r, tokenizer) for r in rows]
        kept = [e for e in encoded if len(e["input_ids"]) <= max_len]
    else:
        encoded = [_seq2seq_sample(r, tokenizer) for r in rows]
        kept = [e for e in encoded if max(len(e["input_ids"]), len(e["labels"])) <= max_len]
    return kept, len(encoded) - len(kept)


def _decoder_sample(row: dict, tokenizer: Any) -> dict:
    """Prompt and label tokenized apart and joined, so inference on the prompt alone sees the same tokens."""
    prompt = tokenizer(row["input"])["input_ids"]
    label = tokenizer(row["label"], add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None:
        label = label + [tokenizer.eos_token_id]
    return {"input_ids": prompt + label, "completion_mask": [0] * len(prompt) + [1] * len(label)}


def _seq2seq_sample(row: dict, tokenizer: Any) -> dict:
    encoded = tokenizer(row["input"])
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
            "labels": tokenizer(text_target=row["label"])["input_ids"]}


def real_tokens(samples: list[dict]) -> int:
    """Non-padding tokens in tokenized samples (input and label)."""
    return sum(len(s["input_ids"]) + (len(s["labels"]) if "completion_mask" not in s else 0) for s in samples)
