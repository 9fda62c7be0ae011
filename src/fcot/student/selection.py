"""Checkpoint selection by validation accuracy: the held-out train questions are answered and scored.

Loss keeps falling while a student memorises rationales; what matters is whether its final answers are right,
so at each evaluation point the model generates answers to the validation questions (greedy, cut at the
stop phrase) and the task's answer extraction scores them, as `fcot eval` would.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fcot.errors import FcotError
from fcot.precision import resolve_precision
from fcot.models.generate import generate
from fcot.tasks import Task
from fcot.templates import TEMPLATES

log = logging.getLogger(__name__)

ANSWER_SLACK_TOKENS = 16  # generation budget beyond the longest validation label


@dataclass
class ValidationScorer:
    """Answers validation prompts with the model in training and returns the share answered correctly."""

    task: Task
    template: str
    prompts: list[str]
    golds: list[str]
    stop: tuple[str, ...]
    max_new_tokens: int
    model_type: str = "decoder"
    precision: str = "auto"
    batch_size: int = 32

    def __call__(self, model: Any, tokenizer: Any) -> float:
        was_training = model.training
        model.eval()
        try:
            outs, _ = generate(model, tokenizer, self.prompts, model_type=self.model_type,
                               max_new_tokens=self.max_new_tokens, batch_size=self.batch_size, stop=self.stop,
                               compute_dtype=resolve_precision(self.precision).torch_dtype)
        finally:
            model.train(was_training)
        prefix = TEMPLATES[self.template].answer_prefix
        right = sum(self.task.answers_correctly(o.text, gold, prefix) for o, gold in zip(outs, self.golds))
        return right / len(self.golds)


def validation_scorer(rows: list[dict], meta: dict, tokenizer: Any, model_type: str,
                      precision: str) -> ValidationScorer | None:
    """A scorer for the validation rows, or None when the data does not say which task and answers it holds."""
    from fcot.tasks import resolve_task

    template, key = meta.get("template"), meta.get("dataset_key")
    if not rows or template not in TEMPLATES or not key or any("sample_index" not in r for r in rows):
        return None
    try:
        task = resolve_task(key)
        samples = {s["sample_index"]: s for s in task.load_dataset().select(sorted({r["sample_index"] for r in rows}))}
    except FcotError as exc:
        log.warning("validation by accuracy is off (%s); selecting by loss", exc)
        return None
    questions = {}
    for row in rows:  # one prompt per question, however many rationales it has
        questions.setdefault(row["input"], samples[row["sample_index"]]["answer"])
    longest = max(len(tokenizer(r["label"], add_special_tokens=False)["input_ids"]) for r in rows)
    stop = (meta["stop_phrase"],) if meta.get("stop_phrase") else ()
    return ValidationScorer(task=task, template=template, prompts=list(questions), golds=[str(g) for g in
                            questions.values()], stop=stop, max_new_tokens=longest + ANSWER_SLACK_TOKENS,
                            model_type=model_type, precision=precision)
