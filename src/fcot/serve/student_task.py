"""The task a served `fcot train` run was trained on: questions go in the trained prompt format, and replies
come back split into rationale and answer, the answer extracted the way `fcot eval` scores it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fcot.errors import ConfigError
from fcot.tasks import Task
from fcot.templates import TEMPLATES, TRAINABLE, Template, format_input


@dataclass(frozen=True)
class Reply:
    """A completion in readable form, and the `fcot` field of a chat choice."""

    content: str  # the rationale, a blank line, and `Answer: <answer>`
    fcot: dict  # task, answer (None if none was found), rationale, completion (the raw text, as trained)


@dataclass(frozen=True)
class StudentTask:
    """A task, the template the student learnt it in, and the stop phrase its labels end with."""

    task: Task
    template: str
    stop_phrase: str | None = None

    def __post_init__(self) -> None:
        if self.template not in TRAINABLE or "decoder" not in TEMPLATES[self.template].labels:
            raise ConfigError(f"template {self.template!r} is not a fine-tuning template; serve a run trained "
                              f"with one of {', '.join(TRAINABLE)}")

    @property
    def spec(self) -> Template:
        return TEMPLATES[self.template]

    @property
    def stop(self) -> tuple[str, ...]:
        return (self.stop_phrase,) if self.stop_phrase else self.spec.stop

    @property
    def max_tokens(self) -> int:
        return self.spec.max_new_tokens

    @property
    def separator(self) -> str | None:
        return self.spec.separator

    def describe(self) -> dict:
        return {"task": self.task.key, "template": self.template, "stop": list(self.stop)}

    def prompt(self, question: str) -> str:
        """The model input for a plain question, exactly as in training."""
        return format_input(self.template, {"question": question}, task=self.task)

    def reply(self, completion: str) -> Reply:
        """The finished completion (cut at the stop phrase) as rationale and extracted answer."""
        rationale = completion.partition(self.separator)[0].strip() if self.separator else ""
        answer = self.task.extract_answer(completion, self.spec.answer_prefix)
        parts = [rationale, f"Answer: {answer}" if answer is not None else ""]
        return Reply("\n\n".join(p for p in parts if p) or completion.strip(),
                     {"task": self.task.key, "answer": answer, "rationale": rationale, "completion": completion})

    def partial(self, text: str) -> str:
        """The start of `reply(...).content` that is certain while the completion is still growing."""
        if not self.separator:
            return ""
        cut = text.find(self.separator)
        return (text[:cut] if cut >= 0 else text[:max(0, len(text) - len(self.separator) + 1)]).strip()
