"""Checkpoint selection by validation accuracy: the held-out train questions are answered and scored.

Loss keeps falling while a student memorises rationales; what matters is whether its final answers are right,
so at each evaluation point the model answers the held-out train questions (all of them, not only those the
teacher got right; greedy, cut at the stop phrase) and the task's answer extraction scores them, as `fcot eval`
would. `fcot.student.choose` then decides which checkpoint to keep.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fcot.errors import FcotError
from fcot.precision import resolve_precision
from fcot.models.generate import generate
from fcot.tasks import Task
from fcot.templates import TEMPLATES, format_input

log = logging.getLogger(__name__)

ANSWER_SLACK_TOKENS = 16  # generation budget beyond the longest validation label


@dataclass
class ValidationScorer:
    """Answers the held-out questions with the model in training; says which it got right, in `questions` order."""

    task: Task
    template: str
    questions: list[int]  # sample indices of the held-out train questions
    prompts: list[str]
    golds: list[str]
    stop: tuple[str, ...]
    max_new_tokens: int
    model_type: str = "decoder"
    precision: str = "auto"
    batch_size: int = 32
    calculator: bool = False  # answer as the trained run will: with calculator decoding (annotated rationales)

    def __call__(self, model: Any, tokenizer: Any) -> tuple[bool, ...]:
        was_training = model.training
        model.eval()
        try:
            outs, _ = generate(model, tokenizer, self.prompts, model_type=self.model_type,
                               max_new_tokens=self.max_new_tokens, batch_size=self.batch_size, stop=self.stop,
                               compute_dtype=resolve_precision(self.precision).torch_dtype,
                               calculator=self.calculator)
        finally:
            model.train(was_training)
        prefix = TEMPLATES[self.template].answer_prefix
        return tuple(self.task.answers_correctly(o.text, gold, prefix) for o, gold in zip(outs, self.golds))


def validation_scorer(questions: list[int], rows: list[dict], meta: dict, tokenizer: Any, model_type: str,
                      precision: str) -> ValidationScorer | None:
    """A scorer for the held-out questions (sample indices of the task's train split, whether or not the teacher
    answered them correctly), or None when the data does not say which task it holds. The generation budget is the
    longest curated label plus `ANSWER_SLACK_TOKENS`."""
    from fcot.tasks import resolve_task

    template, key = meta.get("template"), meta.get("dataset_key")
    if not questions or template not in TEMPLATES or not key or any("sample_index" not in r for r in rows):
        return None
    try:
        task = resolve_task(key)
        samples = task.load_dataset().select(sorted(questions))
    except FcotError as exc:
        log.warning("validation by accuracy is off (%s); selecting by loss", exc)
        return None
    prompts = [format_input(template, s, model_type, task) for s in samples]
    longest = max(len(tokenizer(r["label"], add_special_tokens=False)["input_ids"]) for r in rows)
    stop = (meta["stop_phrase"],) if meta.get("stop_phrase") else ()
    return ValidationScorer(task=task, template=template, questions=[s["sample_index"] for s in samples],
                            prompts=prompts, golds=[str(s["answer"]) for s in samples], stop=stop,
                            max_new_tokens=longest + ANSWER_SLACK_TOKENS, model_type=model_type, precision=precision,
                            calculator=bool(meta.get("calculator")))
