"""Scores completions the way the Fine-tune-CoT repository's `Evaluator` does, per sample and overall.

Per completion: `correct` (the chosen candidate equals the gold answer), `contains_answer` (any candidate
does), `correct_format` (the template's answer prefix is present), `complete` (`finish_reason == "stop"`).
`strict=True` is an opt-in stricter reading; the default reproduces the paper's numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from fcot.errors import DataError
from fcot.formats import CompletionDataset, write_json
from fcot.tasks import EXTRACTION_VERSION, Task, as_task
from fcot.templates import get_template


class Evaluator:
    """Checks completions of one task made with one prediction template."""

    def __init__(self, task: str | Task, template: str, strict: bool = False) -> None:
        spec = get_template(template)
        self.task = as_task(task)
        self.template = template
        self.strict = strict
        self.prefix = (spec.strict_prefix or spec.answer_prefix) if strict else spec.answer_prefix

    def check(self, completion: dict) -> dict:
        """The paper's per-completion record: correct, contains_answer, correct_format, complete."""
        where = f"sample {completion.get('sample_index', '?')}"
        if not isinstance(completion.get("completion"), str):
            raise DataError(f"{where}: no 'completion' text to evaluate; regenerate the completion file")
        if completion.get("answer") is None:
            raise DataError(f"{where}: no gold 'answer'; regenerate the completion file from its Dataset")
        text, gold = completion["completion"], str(completion["answer"])
        prediction, found = self.task.answer_candidates(text, self.prefix, self.strict)
        return {
            "sample_index": completion["sample_index"],
            "completion_index": completion.get("completion_index", 0),
            "answer": gold,
            "prediction": prediction,
            "correct": self.task.is_correct(prediction, gold, self.strict),
            "contains_answer": any(self.task.is_correct(p, gold, self.strict) for p in found),
            "correct_format": self.prefix is None or self.prefix in text,
            "complete": completion.get("finish_reason") == "stop",
        }


@dataclass
class Evaluation:
    """Scores of one CompletionDataset: overall rates and one record per completion."""

    dataset_key: str
    template: str
    n: int
    accuracy: float  # share of completions whose prediction is correct, 0..1
    contains_answer: float
    correct_format: float
    complete: float
    strict: bool = False
    extraction_version: int = EXTRACTION_VERSION
    records: list[dict] = field(default_factory=list)

    def to_json(self, records: bool = True) -> dict:
        out = asdict(self)
        if not records:
            out.pop("records")
        return out

    def save(self, path: str | Path) -> Path:
        return write_json(path, self.to_json())


def evaluate_completions(
    cd: CompletionDataset,
    sample_indices: Iterable[int] | None = None,
    completion_indices: Iterable[int] | None = None,
    task: str | Task | None = None,
    strict: bool = False,
) -> Evaluation:
    """Score every completion (or those of the given samples) with the paper's rules."""
    evaluator = Evaluator(task or cd.dataset_key, cd.prediction_template, strict=strict)
    records = [evaluator.check(c) for c in cd.select(sample_indices, completion_indices)]
    if not records:
        raise DataError(f"completions of {cd.dataset_key}: nothing to evaluate for the selected samples; "
                        "check the file and the split")

    def rate(name: str) -> float:
        return sum(bool(r[name]) for r in records) / len(records)

    return Evaluation(
        dataset_key=cd.dataset_key,
        template=cd.prediction_template,
        n=len(records),
        accuracy=rate("correct"),
        contains_answer=rate("contains_answer"),
        correct_format=rate("correct_format"),
        complete=rate("complete"),
        strict=strict,
        records=records,
    )
