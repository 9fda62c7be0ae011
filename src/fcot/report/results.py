"""One measured row per (task, method): accuracy, speed and cost, stored as `results.json`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

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

    @computed_field  # stored in results.json next to the accuracy it qualifies
    @property
    def ci95(self) -> tuple[float, float]:
        """95% Wilson interval of the accuracy, in percent."""
        return wilson_interval(self.accuracy, self.n)

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
    rows: list[Result] = []
    for file in files:
        raw = read_json(file)
        if not isinstance(raw, list):
            raise DataError(f"{file}: expected a JSON list of results")
        try:
            rows += [Result.model_validate(r) for r in raw]
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise DataError(f"{file}: result field {where!r}: {err['msg']}") from exc
    return rows


def save_results(path: str | Path, rows: list[Result]) -> Path:
    """Write results atomically, replacing rows of the same (task, method, model)."""
    path = Path(path)
    keep = {(r.task, r.method, r.model): r for r in (load_results(path) if path.exists() else [])}
    keep.update({(r.task, r.method, r.model): r for r in rows})
    return write_json(path, [r.model_dump(exclude_none=True) for r in keep.values()])
