"""The run folder `fcot train` writes, and what `fcot eval`, `fcot serve` and `fcot export` read from it.

    runs/<finetune key>/
        config.json, model.safetensors, tokenizer files   the final model (LoRA adapters merged)
        fcot.yaml                                        the resolved student config and the data it trained on
        train_metrics.json                               losses, the validation learning curve, timings
        train_curve.png                                  the same curves as a picture
        checkpoints/checkpoint-N/                        the checkpoints the final model was picked from
        checkpoints/.saving/                             a checkpoint being written, renamed into place when whole
        .fcot-complete                                   written last: a folder without it is unfinished
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from fcot.errors import ConfigError
from fcot.formats import read_json, write_atomic
from fcot.models.loading import DONE_MARKER
from fcot.models.runinfo import RUN_RECORD
from fcot.student.config import StudentConfig

CHECKPOINTS = "checkpoints"
CONFIG_FILE = RUN_RECORD
METRICS_FILE = "train_metrics.json"
CURVE_FILE = "train_curve.png"
PROGRESS_FILE = "fcot_progress.json"  # in each checkpoint: tokens and seconds so far
STAGING = ".saving"  # under checkpoints/: where a checkpoint is written before it is renamed into place
VALIDATION = "validation"  # `fcot eval --split validation`: the run's held-out train questions


def is_complete(out_dir: str | Path) -> bool:
    """Whether a run dir holds a finished run."""
    return (Path(out_dir) / DONE_MARKER).exists()


def checkpoints(out_dir: str | Path) -> list[Path]:
    """The `checkpoints/checkpoint-N` folders of a run dir, oldest first, finished or not."""
    found = [p for p in (Path(out_dir) / CHECKPOINTS).glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


def is_saved(checkpoint: Path) -> bool:
    """Whether a checkpoint is whole (one left by a version that saved in place may not be)."""
    return (checkpoint / "trainer_state.json").is_file() and (checkpoint / PROGRESS_FILE).is_file()


def last_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest checkpoint of a run dir whose save finished, if any."""
    return next((p for p in reversed(checkpoints(out_dir)) if is_saved(p)), None)


def sha256(path: Path) -> str:
    """The file's SHA-256 (a run is tied to the exact train file)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_record(config: StudentConfig, train_file: Path, meta: dict, model_type: str, out_dir: Path) -> dict:
    """What `fcot.yaml` records: the resolved config, the train file (relative to the run folder, which may move;
    its hash ties the run to it) and what curation said of it."""
    return {
        "student": config.resolved().model_dump(mode="json"),
        "data": {"train_file": os.path.relpath(train_file.resolve(), out_dir.resolve()), "sha256": sha256(train_file),
                 **{k: meta.get(k) for k in ("dataset_key", "template", "stop_phrase", "teacher", "calculator")}},
        "model_type": model_type,
        "lora_merged": config.lora,
    }


def same_run(a: dict, b: dict) -> bool:
    """Whether two records train the same config on the same data (settings added since compare as defaults)."""
    return _student(a) == _student(b) and a.get("data", {}).get("sha256") == b.get("data", {}).get("sha256")


def _student(record: dict) -> Any:
    try:
        return StudentConfig.model_validate(record.get("student")).model_dump(mode="json")
    except ValidationError:
        return record.get("student")


def write_record(out_dir: Path, record: dict, header: str) -> None:
    """Write `fcot.yaml` (atomically), headed by the command that made the run."""
    write_atomic(out_dir / CONFIG_FILE, f"# {header}\n" + yaml.safe_dump(record, sort_keys=False))


def read_record(out_dir: Path) -> dict:
    """The run folder's record ({} when there is none), to resume or refuse a different run."""
    path = out_dir / CONFIG_FILE
    if not path.exists():
        return {}
    try:
        record = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML; use another --out, or delete the folder to start over") from exc
    return record if isinstance(record, dict) else {}


def validation_questions(path: Path) -> list[int]:
    """The held-out train questions a finished run chose its checkpoint on (sample indices)."""
    metrics = path / METRICS_FILE
    if not metrics.is_file():
        raise ConfigError(f"--split {VALIDATION}: {path} is no finished training run (no {METRICS_FILE}); "
                          "pass a run folder of fcot train, or use --split test")
    raw = read_json(metrics)
    questions = raw.get("val_questions") if isinstance(raw, dict) else None
    if not questions or not all(isinstance(q, int) for q in questions):
        raise ConfigError(f"{metrics}: the run validated on no task questions (trained without validation or "
                          "before it was recorded); use --split test or train")
    return questions
