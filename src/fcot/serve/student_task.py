"""The task a served `fcot train` run was trained on: questions go in the trained prompt format, and replies
come back split into rationale and answer, the answer extracted the way `fcot eval` scores it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fcot.errors import ConfigError
from fcot.evaluate.generate import DEFAULT_MAX_NEW_TOKENS, stop_phrases
from fcot.tasks import Task
from fcot.templates import LABELS, answer_prefix, format_input


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
        if (self.template, "decoder") not in LABELS:
            raise ConfigError(f"template {self.template!r} is not a fine-tuning template; serve a run trained "
                              f"with one of {', '.join(t for t, kind in LABELS if kind == 'decoder')}")

    @property
    def stop(self) -> tuple[str, ...]:
        return (self.stop_phrase,) if self.stop_phrase else stop_phrases(self.template)

    @property
    def max_tokens(self) -> int:
        return DEFAULT_MAX_NEW_TOKENS[self.template]

    @property
    def separator(self) -> str | None:
        """What the trained labels put between rationale and answer (e.g. `-->`); None without a rationale."""
        label = LABELS[(self.template, "decoder")]
        if "{rationale}" not in label:
            return None
        return label.partition("{rationale}")[2].partition("{answer}")[0].strip()

    def describe(self) -> dict:
        return {"task": self.task.key, "template": self.template, "stop": list(self.stop)}

    def prompt(self, question: str) -> str:
        """The model input for a plain question, exactly as in training."""
        return format_input(self.template, {"question": question}, task=self.task)

    def reply(self, completion: str) -> Reply:
        """The finished completion (cut at the stop phrase) as rationale and extracted answer."""
        rationale = completion.partition(self.separator)[0].strip() if self.separator else ""
        answer = self.task.extract_answer(completion, answer_prefix(self.template))
        parts = [rationale, f"Answer: {answer}" if answer is not None else ""]
        return Reply("\n\n".join(p for p in parts if p) or completion.strip(),
                     {"task": self.task.key, "answer": answer, "rationale": rationale, "completion": completion})

    def partial(self, text: str) -> str:
        """The start of `reply(...).content` that is certain while the completion is still growing."""
        if not self.separator:
            return ""
        cut = text.find(self.separator)
        return (text[:cut] if cut >= 0 else text[:max(0, len(text) - len(self.separator) + 1)]).strip()
