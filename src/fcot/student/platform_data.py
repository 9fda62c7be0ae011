"""Training files for hosted fine-tuning APIs: chat or prompt/completion JSON lines, with a seeded validation part.

Rows come from curation (`{"input", "label", ...}`) or from the paper's own `finetune_data/P_openai/F_<key>.jsonl`
(`{"prompt", "completion"}`); chat rows are `{"messages": [{"role": "user"}, {"role": "assistant"}]}`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path

from fcot.errors import ConfigError, DataError
from fcot.formats import finetune_data_path, read_json, write_atomic, write_json

log = logging.getLogger(__name__)

FORMATS = ("chat", "completion")
COMPLETION_MODELS = ("babbage-002", "davinci-002", "ada", "babbage", "curie", "davinci")  # prompt/completion bases
MIN_EXAMPLES = 10  # the OpenAI fine-tuning API refuses files with fewer examples
VALIDATION_SUFFIX = ".validation.jsonl"
SIDECAR_SUFFIX = ".curate.json"  # how the samples were curated (template, dataset_key, ...), as `fcot curate` writes


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
    rows, formats = [], set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{lineno}: not a JSON line ({exc.msg}); expected one example per line") from exc
        formats.add(row_pair(row, f"{path}:{lineno}")[2])
        rows.append(row)
    if not rows:
        raise DataError(f"{path}: no examples; curate some training samples first")
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


def sidecar_path(train_path: str | Path) -> Path:
    """`F_<key>.curate.json` next to `F_<key>.jsonl`."""
    train_path = Path(train_path)
    return train_path.with_name(train_path.name.removesuffix(".jsonl") + SIDECAR_SUFFIX)


def read_sidecar(train_path: str | Path) -> dict:
    """The curation config next to a training file ({} when there is none, as for the paper's files)."""
    path = sidecar_path(train_path)
    raw = read_json(path) if path.exists() else {}
    return raw if isinstance(raw, dict) else {}


def jsonl_bytes(rows: list[dict]) -> bytes:
    """The exact bytes uploaded for rows (one compact JSON object per line)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def content_hash(data: bytes) -> str:
    """SHA-256 of file content, the key that avoids uploading the same file twice."""
    return hashlib.sha256(data).hexdigest()


def carve_validation(samples: list[dict], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Split samples into (train, validation) by question, seeded, so one question's rationales stay together."""
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"--validation-fraction {fraction} must be in [0, 1)")
    groups: dict[object, list[dict]] = {}
    for i, sample in enumerate(samples):
        groups.setdefault(sample.get("sample_index", f"row{i}"), []).append(sample)
    keys = list(groups)
    random.Random(seed).shuffle(keys)
    held = set(keys[: round(len(keys) * fraction)])
    train = [s for k in groups if k not in held for s in groups[k]]
    validation = [s for k in groups if k in held for s in groups[k]]
    if validation and (len(validation) < MIN_EXAMPLES or len(train) < MIN_EXAMPLES):
        log.warning("validation part of %d examples is under the API minimum of %d; training without one",
                    len(validation), MIN_EXAMPLES)
        return samples, []
    return train, validation


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

    `info` (the curation config: template, dataset_key, ...) goes to the `F_<key>.curate.json` sidecar.
    """
    check_format(data_format)
    for i, sample in enumerate(samples):
        if not (isinstance(sample.get("input"), str) and isinstance(sample.get("label"), str)):
            raise DataError(f"curated sample {i}: needs string 'input' and 'label'; curate with a fine-tuning template")
    if len(samples) < MIN_EXAMPLES:
        raise DataError(f"{finetune_key}: only {len(samples)} curated examples; the fine-tuning API needs at least "
                        f"{MIN_EXAMPLES}, so curate more samples (another task or a larger split)")
    train, validation = carve_validation(samples, validation_fraction, seed)
    train_path = finetune_data_path(root, platform, finetune_key)
    write_atomic(train_path, jsonl_bytes([to_row(s["input"], s["label"], data_format) for s in train]).decode())
    validation_path = finetune_data_path(root, platform, finetune_key, suffix=VALIDATION_SUFFIX)
    if validation:
        write_atomic(validation_path, jsonl_bytes([to_row(s["input"], s["label"], data_format)
                                                   for s in validation]).decode())
    else:
        validation_path.unlink(missing_ok=True)
    write_json(sidecar_path(train_path), {**(info or {}), "data_format": data_format, "train_examples": len(train),
                                          "validation_examples": len(validation), "validation_seed": seed})
    log.info("wrote %d training and %d validation examples to %s", len(train), len(validation), train_path)
    return FinetuneFiles(train_path, validation_path if validation else None, len(train), len(validation), data_format)
