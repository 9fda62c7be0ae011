"""One measured row per (task, method): accuracy, speed and cost, stored as `results.json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ValidationError, computed_field

from fcot.errors import DataError
from fcot.formats import read_json, write_json
from fcot.stats import wilson_interval

RESULTS_FILE = "results.json"


class Result(BaseModel):
    """What one model scored on one task's test split, and what it cost."""

    task: str
    method: str  # e.g. "Fine-tune-CoT", "vanilla fine-tune", "zero-shot", "teacher (Zero-shot-CoT)"
    model: str
    template: str
    n: int
    accuracy: float  # percent
    role: str = "student"  # "student" | "teacher"
    params: Optional[int] = None  # model parameters; None when unknown (hosted teachers)
    completion_file: Optional[str] = None
    generated_tokens: Optional[int] = None
    wall_s: Optional[float] = None  # generation wall time for the n answers
    train_wall_s: Optional[float] = None
    train_samples: Optional[int] = None
    teacher_tokens: Optional[int] = None  # tokens the teacher read and wrote for the training data
    usd: Optional[float] = None  # money spent producing the n answers (teacher: API price; student: compute)
    precision: Optional[str] = None  # fp32 or bf16 matmuls (students; see fcot.precision)
    note: str = ""
    # what a trained student learnt from, for the paper's analyses (accuracy against D, questions, teacher, size)
    teacher: Optional[str] = None  # backend:model of the rationales
    samples: Optional[int] = None  # D: teacher rationales per training question
    train_questions: Optional[int] = None  # training questions the teacher answered (or gold answers, vanilla)
    teacher_usd: Optional[float] = None  # what those rationales cost at the teacher's price
    seed: Optional[int] = None
    epochs: Optional[float] = None
    point: dict[str, Any] = {}  # the sweep point's axis values, e.g. {"curate.max_questions": 32}

    @computed_field  # stored in results.json next to the accuracy it qualifies
    @property
    def ci95(self) -> tuple[float, float]:
        """95% Wilson interval of the accuracy, in percent."""
        return wilson_interval(self.accuracy, self.n)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What one row measures: (task, method, model, sweep point); a newer row of the same key replaces it."""
        return self.task, self.method, self.model, json.dumps(self.point, sort_keys=True)

    @property
    def s_per_answer(self) -> float | None:
        return self.wall_s / self.n if self.wall_s and self.n else None

    @property
    def usd_per_1k_answers(self) -> float | None:
        return 1000 * self.usd / self.n if self.usd is not None and self.n else None


def load_results(path: str | Path) -> list[Result]:
    """Read results from a `results.json` file, or from every one found below a folder."""
    path = Path(path)
    files = sorted(path.rglob(RESULTS_FILE)) if path.is_dir() else [path]
    if not files:
        raise DataError(f"{path}: no {RESULTS_FILE} below it; run `fcot run` first")
    rows: dict[tuple, Result] = {}  # a sweep's folder holds its points' rows twice: in each point's file and its own
    for file in files:
        raw = read_json(file)
        if not isinstance(raw, list):
            raise DataError(f"{file}: expected a JSON list of results")
        try:
            rows.update((row.key, row) for row in map(Result.model_validate, raw))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise DataError(f"{file}: result field {where!r}: {err['msg']}") from exc
    return list(rows.values())


def save_results(path: str | Path, rows: list[Result]) -> Path:
    """Write results atomically, replacing rows of the same `Result.key`."""
    path = Path(path)
    keep = {r.key: r for r in (load_results(path) if path.exists() else [])}
    keep.update({r.key: r for r in rows})
    return write_json(path, [r.model_dump(exclude_none=True) for r in keep.values()])
