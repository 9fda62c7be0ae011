"""What a trained student says of itself, in one schema whether it is an `fcot train` run folder or an fcot export:
its base model, task, template, stop phrase, finetune key and whether it answers with a calculator (`read_run_info`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from fcot.errors import DataError, ModelError
from fcot.formats import read_yaml
from fcot.models.edge import export_info
from fcot.models.loading import DONE_MARKER

RUN_RECORD = "fcot.yaml"  # a run folder's record: the resolved student config and the data it trained on


@dataclass(frozen=True)
class RunInfo:
    """A trained student's own account; every field None for a plain model folder or name."""

    base_model: str | None = None
    task: str | None = None
    template: str | None = None
    stop_phrase: str | None = None
    finetune_key: str | None = None
    export: str | None = None  # the export's format and quantisation (e.g. gguf-q8_0); None for a run folder
    calculator: bool = False  # trained on calculator-annotated rationales: answers with calculator decoding

    @property
    def stop(self) -> tuple[str, ...] | None:
        """The stop sequence the student was trained to end on (None: the template's)."""
        return (self.stop_phrase,) if self.stop_phrase else None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> RunInfo:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in names})


def read_run_info(path: str | Path) -> RunInfo:
    """The info an fcot export stores, or a finished run folder's `fcot.yaml`; empty for a plain model.

    ModelError for an unfinished run; DataError for a record that is no mapping.
    """
    path = Path(path).expanduser()
    stored = export_info(path)
    if stored is not None:
        return RunInfo.from_json(stored)
    record = path / RUN_RECORD
    if not record.is_file():
        return RunInfo()
    if not (path / DONE_MARKER).exists():
        raise ModelError(f"{path}: training run is unfinished (no {DONE_MARKER}); finish it with fcot train first")
    raw = read_yaml(record) or {}
    if not isinstance(raw, dict):
        raise DataError(f"{record}: expected a mapping with student: and data: sections; fix or remove it")
    student = raw.get("student") if isinstance(raw.get("student"), dict) else {}
    data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
    return RunInfo(base_model=student.get("model"), task=data.get("dataset_key"), template=data.get("template"),
                   stop_phrase=data.get("stop_phrase"), finetune_key=path.name,
                   calculator=bool(data.get("calculator")))
