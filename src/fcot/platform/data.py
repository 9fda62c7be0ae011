"""Training files for hosted fine-tuning APIs: chat or prompt/completion JSON lines, with a seeded validation part.

Rows come from curation (`{"input", "label", ...}`) or from the paper's own `finetune_data/P_openai/F_<key>.jsonl`
(`{"prompt", "completion"}`); chat rows are `{"messages": [{"role": "user"}, {"role": "assistant"}]}`.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from fcot.curate import hold_out, questions_of, sidecar_path, split_validation
from fcot.errors import ConfigError, DataError
from fcot.formats import finetune_data_path, jsonl_text, read_jsonl, write_jsonl, write_json

log = logging.getLogger(__name__)

FORMATS = ("chat", "completion")
COMPLETION_MODELS = ("babbage-002", "davinci-002", "ada", "babbage", "curie", "davinci")  # prompt/completion bases
MIN_EXAMPLES = 10  # the OpenAI fine-tuning API refuses files with fewer examples
VALIDATION_SUFFIX = ".validation.jsonl"


@dataclass
class FinetuneFiles:
    """The training file and its optional validation file, as written by `write_finetune_files`."""

    train: Path
    validation: Path | None
    train_examples: int
    validation_examples: int
    data_format: str


def format_for_model(base_model: str) -> str:
    """The training-file format a base model needs: "completion" for babbage-002/davinci-002, else "chat"."""
    name = base_model.split("/")[-1]
    return "completion" if name in COMPLETION_MODELS else "chat"


def check_format(data_format: str) -> None:
    """Raise ConfigError unless data_format is chat or completion."""
    if data_format not in FORMATS:
        raise ConfigError(f"unknown fine-tuning data format {data_format!r}; use chat or completion")


def to_row(prompt: str, completion: str, data_format: str) -> dict:
    """One training example in the API's chat or prompt/completion shape."""
    check_format(data_format)
    if data_format == "completion":
        return {"prompt": prompt, "completion": completion}
    return {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion.lstrip()}]}


def row_pair(row: dict, where: str) -> tuple[str, str, str]:
    """(prompt, completion, format) of a chat or prompt/completion row; DataError naming `where` otherwise."""
    if isinstance(row, dict) and isinstance(row.get("prompt"), str) and isinstance(row.get("completion"), str):
        return row["prompt"], row["completion"], "completion"
    messages = row.get("messages") if isinstance(row, dict) else None
    if isinstance(messages, list):
        users = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        answers = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "assistant"]
        if users and answers and isinstance(users[-1], str) and isinstance(answers[-1], str):
            return users[-1], answers[-1], "chat"
    raise DataError(f'{where}: expected {{"prompt", "completion"}} or {{"messages": [user, assistant]}}; '
                    "regenerate it with fcot curate --platform openai")


def read_finetune_file(path: str | Path) -> tuple[list[dict], str]:
    """Rows and format of a fine-tuning JSONL file (ours or the paper's, which has no final newline)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file; write it with fcot curate --platform openai")
    rows = read_jsonl(path)
    if not rows:
        raise DataError(f"{path}: no examples; curate some training samples first")
    formats = {row_pair(row, f"{path}:{lineno}")[2] for lineno, row in enumerate(rows, 1)}
    if len(formats) > 1:
        raise DataError(f"{path}: mixes chat and prompt/completion rows; regenerate it with one --format")
    return rows, formats.pop()


def convert_rows(rows: list[dict], data_format: str) -> list[dict]:
    """Rows in the given format (prompt/completion <-> chat); rows already in it are kept as they are."""
    check_format(data_format)
    out = []
    for i, row in enumerate(rows):
        prompt, completion, fmt = row_pair(row, f"row {i}")
        if fmt == data_format:
            out.append(row)
        elif data_format == "completion":
            out.append(to_row(prompt, completion if completion[:1].isspace() else " " + completion, data_format))
        else:
            out.append(to_row(prompt, completion, data_format))
    return out


def validation_path(train_path: str | Path) -> Path:
    """`F_<key>.validation.jsonl` next to `F_<key>.jsonl`."""
    train_path = Path(train_path)
    return train_path.with_name(train_path.stem + VALIDATION_SUFFIX)


def jsonl_bytes(rows: list[dict]) -> bytes:
    """The exact bytes uploaded for rows."""
    return jsonl_text(rows).encode("utf-8")


def content_hash(data: bytes) -> str:
    """SHA-256 of file content, the key that avoids uploading the same file twice."""
    return hashlib.sha256(data).hexdigest()


def write_finetune_files(
    root: str | Path,
    finetune_key: str,
    samples: list[dict],
    data_format: str = "chat",
    validation_fraction: float = 0.1,
    seed: int = 0,
    platform: str = "openai",
    info: dict | None = None,
) -> FinetuneFiles:
    """Write curated samples (`input`, `label`) as `finetune_data/P_<platform>/F_<key>.jsonl` (+ `.validation.jsonl`).

    Whole questions go to the validation part (seeded); `info` (the curation config: template, dataset_key, ...)
    goes to the `F_<key>.curate.json` sidecar.
    """
    check_format(data_format)
    for i, sample in enumerate(samples):
        if not (isinstance(sample.get("input"), str) and isinstance(sample.get("label"), str)):
            raise DataError(f"curated sample {i}: needs string 'input' and 'label'; curate with a fine-tuning template")
    if len(samples) < MIN_EXAMPLES:
        raise DataError(f"{finetune_key}: only {len(samples)} curated examples; the fine-tuning API needs at least "
                        f"{MIN_EXAMPLES}, so curate more samples (another task or a larger split)")
    if not 0.0 <= validation_fraction < 1.0:
        raise ConfigError(f"--validation-fraction {validation_fraction} must be in [0, 1)")
    train, validation = split_validation(samples, hold_out(questions_of(samples), validation_fraction, seed))
    if validation and (len(validation) < MIN_EXAMPLES or len(train) < MIN_EXAMPLES):
        log.warning("validation part of %d examples is under the API minimum of %d; training without one",
                    len(validation), MIN_EXAMPLES)
        train, validation = samples, []
    train_path = finetune_data_path(root, platform, finetune_key)
    write_jsonl(train_path, [to_row(s["input"], s["label"], data_format) for s in train])
    validation_file = validation_path(train_path)
    if validation:
        write_jsonl(validation_file, [to_row(s["input"], s["label"], data_format) for s in validation])
    else:
        validation_file.unlink(missing_ok=True)
    write_json(sidecar_path(train_path), {**(info or {}), "data_format": data_format, "train_examples": len(train),
                                          "validation_examples": len(validation), "validation_seed": seed})
    log.info("wrote %d training and %d validation examples to %s", len(train), len(validation), train_path)
    return FinetuneFiles(train_path, validation_file if validation else None, len(train), len(validation), data_format)
