"""The paper's prediction templates, one `Template` record each: input and label formats, answer prefix, stop
phrase and token budget. Curation, training, evaluation, serving and the CLI all read them from `TEMPLATES`.

Question, answer and rationale are stripped as in the paper's code, except in `zs_cot`, which reproduces the teacher's recorded prompts byte for byte.
Bump `TEMPLATES_VERSION` on any change to a format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from fcot.errors import ConfigError, DataError
from fcot.tasks import Task, as_task

TEMPLATES_VERSION = 1

MODEL_TYPES = ("decoder", "encoder_decoder")
DEFAULT_TEMPLATE = "ft_cot_token"  # Fine-tune-CoT, as the paper trains it
STOP_PHRASE = "END"  # fine-tuning labels end with " END" (the paper's stop phrase); generation stops there
PROMPT_STOP = "\nQ:"  # a prompted small model goes on to invent the next question

ZS_COT_STEP1 = "Q: {question}\nA: Let's think step by step."
# Zero-shot-CoT built step 2 as x + z + " " + "\nTherefore, ..." (prompt, rationale, space, trigger).
ZS_COT_STEP2 = "{reasoning_prompt}{reasoning_completion} \n{answer_trigger}"
RATIONALE_TOKENS = 128  # generation budget of a rationale (the paper's limit for its teacher's)
ANSWER_TOKENS = 32  # generation budget of an answer alone
ZS_COT_ANSWER_TOKENS = ANSWER_TOKENS  # step 2 of Zero-shot-CoT only states the answer
GENERIC_TRIGGER = "Therefore, the answer is"
CHOICES = "Answer Choices: "  # how the paper's multiple-choice questions list their options
_OPTION = re.compile(r"\(([A-Z])\) (.*?)\s*(?= \([A-Z]\) |$)")  # (letter, text) of each listed option
_LETTER_ENDING = re.compile(r"\s*[^.\n]*\banswer is:? \(?[A-Z]\)?\.?\s*$")  # "Therefore, the answer is (C)."


@dataclass(frozen=True)
class Template:
    """A prediction template: how a sample becomes a model input (and a label), and how its predictions read."""

    name: str
    method: str  # what the template stands for in tables
    inputs: dict[str, str]  # model type -> input format
    labels: dict[str, str] = field(default_factory=dict)  # model type -> label format; none: prompting only
    answer_prefix: str | None = None  # where a prediction's answer starts (None: the first answer-like string)
    strict_prefix: str | None = None  # the prefix strict evaluation reads, when the labels differ from the paper's
    writes_rationale: bool = False  # predictions open with a rationale (a larger token budget)
    echo_choice: bool = False  # options listed text first, "05/02/2021 (C)"; rationales end restating the chosen one
    two_step: bool = False  # a rationale first, then a second prompt that asks for the answer (Zero-shot-CoT)
    gold_labels: bool = False  # trains on the dataset's answers, not on teacher rationales (vanilla fine-tuning)

    @property
    def trainable(self) -> bool:
        return bool(self.labels)

    @property
    def stop(self) -> tuple[str, ...]:
        """Where a completion ends: the stop phrase fine-tuning labels end with, else the next invented question."""
        return (STOP_PHRASE,) if self.trainable else (PROMPT_STOP,)

    @property
    def max_new_tokens(self) -> int:
        """The default generation budget: room for a rationale, or for a short answer."""
        return RATIONALE_TOKENS if self.writes_rationale else ANSWER_TOKENS

    def rationale_of(self, prediction: str) -> str | None:
        """The rationale a prediction opens with (the text before the answer prefix); None when this template's
        predictions carry no rationale, or this one states no answer."""
        if not (self.writes_rationale and self.answer_prefix) or self.answer_prefix not in prediction:
            return None
        return prediction.partition(self.answer_prefix)[0].strip()

    @property
    def separator(self) -> str | None:
        """What the labels put between rationale and answer (e.g. `-->`); None without a rationale."""
        label = self.labels.get("decoder", "")
        if "{rationale}" not in label:
            return None
        return label.partition("{rationale}")[2].partition("{answer}")[0].strip()


# Formats follow the paper's `src/data/format.py`.
TEMPLATES: dict[str, Template] = {t.name: t for t in (
    Template("zs", "zero-shot", {"decoder": "Q: {question}\n\nA:",
                                 "encoder_decoder": "question: {question}"}),  # the SQuAD format T5 was trained on
    Template("zs_cot", "zero-shot-CoT", {"decoder": ZS_COT_STEP1}, writes_rationale=True, two_step=True),
    Template("fs_cot", "few-shot-CoT", dict.fromkeys(MODEL_TYPES, "{few_shot_prompt}\nQ: {question}\nA:"),
             answer_prefix="The answer is", writes_rationale=True),
    Template("ft_token", "vanilla fine-tune", {"decoder": "{question} ###", "encoder_decoder": "{question}"},
             labels={"decoder": " {answer}", "encoder_decoder": "{answer}"}, gold_labels=True),
    Template("ft_cot_token", "Fine-tune-CoT", {"decoder": "{question} ###", "encoder_decoder": "{question}"},
             labels={"decoder": " {rationale} --> {answer}", "encoder_decoder": "{rationale} --> {answer}"},
             answer_prefix="-->", writes_rationale=True),
    # Fine-tune-CoT for multiple choice: the student writes the chosen option's text, then copies the letter that
    # follows that text in its prompt (a small student names the right text far more often than the right letter)
    Template("ft_cot_choice", "Fine-tune-CoT (option text)", {"decoder": "{question} ###", "encoder_decoder": "{question}"},
             labels={"decoder": " {rationale} --> {answer}", "encoder_decoder": "{rationale} --> {answer}"},
             answer_prefix="-->", writes_rationale=True, echo_choice=True),
    Template("ft_cot_natural", "Fine-tune-CoT (natural)",
             {"decoder": "Q: {question}\n\nA: Let's think step by step.\n\n"},
             labels={"decoder": " {rationale}\n\nTherefore the answer is {answer}"},
             answer_prefix="Therefore, the answer is", strict_prefix="Therefore the answer is", writes_rationale=True),
)}
TRAINABLE = tuple(name for name, t in TEMPLATES.items() if t.trainable)


def rationale_template(task: str | Task) -> str:
    """The Fine-tune-CoT template for a task when none is named: ft_cot_choice where the answer is an option's
    letter (`benchmarks/results/quality-recipe/final/`: date understanding 23.42 -> 62.16), else the paper's."""
    return "ft_cot_choice" if as_task(task).answer_type == "choice" else DEFAULT_TEMPLATE


def get_template(template: str, model_type: str = "decoder") -> Template:
    """The named template; ConfigError unless template and model type are known."""
    check_template(template, model_type)
    return TEMPLATES[template]


def check_template(template: str, model_type: str = "decoder") -> None:
    """Raise ConfigError unless template and model_type are known."""
    if template not in TEMPLATES:
        raise ConfigError(f"unknown prediction template {template!r}; use one of {', '.join(TEMPLATES)}")
    if model_type not in MODEL_TYPES:
        raise ConfigError(f"unknown model type {model_type!r}; use one of {', '.join(MODEL_TYPES)}")


def _field(sample: dict, name: str, template: str) -> str:
    value = sample.get(name)
    if value is None:
        raise DataError(f"sample {sample.get('sample_index', '?')}: no {name!r}, which template {template} needs")
    return str(value)


def _rationale(sample: dict, template: str) -> str:
    value = sample.get("reasoning_completion", sample.get("rationale"))
    if value is None:
        raise DataError(f"sample {sample.get('sample_index', '?')}: no 'reasoning_completion' or 'rationale', "
                        f"which template {template} needs; curate teacher completions first")
    return str(value).strip()


def format_input(
    template: str,
    sample: dict,
    model_type: str = "decoder",
    task: str | Task | None = None,
    step: int = 1,
    data_dir: str | Path | None = None,
) -> str:
    """The model input for a sample; `zs_cot` has two steps (rationale, then answer), `fs_cot` needs the task."""
    check_template(template, model_type)
    if template == "zs_cot":
        return _zs_cot_input(sample, model_type, task, step)
    formats = TEMPLATES[template].inputs
    if model_type not in formats:
        raise ConfigError(f"template {template} does not support model type {model_type}; use decoder")
    values = {"question": _field(sample, "question", template).strip()}
    if TEMPLATES[template].echo_choice:
        values["question"] = options_text_first(values["question"])
    if template == "fs_cot":
        if task is None:
            raise ConfigError("template fs_cot needs a task for its few-shot exemplars; pass task=")
        values["few_shot_prompt"] = as_task(task).few_shot_prompt(data_dir)
    return formats[model_type].format(**values)


def _zs_cot_input(sample: dict, model_type: str, task: str | Task | None, step: int) -> str:
    if model_type != "decoder":
        raise ConfigError(f"template zs_cot does not support model type {model_type}; use decoder")
    step1 = ZS_COT_STEP1.format(question=_field(sample, "question", "zs_cot"))
    if step == 1:
        return step1
    if step != 2:
        raise ConfigError(f"template zs_cot has steps 1 and 2, not {step}")
    if task is None:
        trigger = GENERIC_TRIGGER
    else:
        trigger = as_task(task).answer_trigger
    return ZS_COT_STEP2.format(
        reasoning_prompt=sample.get("reasoning_prompt") or step1,
        reasoning_completion=_field(sample, "reasoning_completion", "zs_cot step 2"),
        answer_trigger=trigger,
    )


def format_label(template: str, sample: dict, model_type: str = "decoder", stop_phrase: str | None = None) -> str:
    """The training target for a sample (fine-tuning templates only), ending in ` <stop_phrase>` if given."""
    check_template(template, model_type)
    labels = TEMPLATES[template].labels
    if model_type not in labels:
        if not labels:
            raise ConfigError(f"template {template} is for prompting only and has no label; use ft_cot_token")
        raise ConfigError(f"template {template} does not support model type {model_type}; use decoder")
    values = {"answer": _field(sample, "answer", template).strip()}
    if "{rationale}" in labels[model_type]:
        values["rationale"] = _rationale(sample, template)
        if TEMPLATES[template].echo_choice:
            values["rationale"] = _restate_choice(values["rationale"], _field(sample, "question", template),
                                                  values["answer"])
    label = labels[model_type].format(**values)
    return label if stop_phrase is None else f"{label} {stop_phrase}"


def options_text_first(question: str) -> str:
    """The question with each listed option's letter after its text: "(C) 05/02/2021" -> "05/02/2021 (C)"."""
    head, found, listed = question.partition(CHOICES)
    if not found:
        return question
    return head + CHOICES + " ".join(f"{text} ({letter})" for letter, text in _OPTION.findall(listed))


def _restate_choice(rationale: str, question: str, letter: str) -> str:
    """The rationale ending "So the answer is 05/02/2021 (C).", in place of a last sentence naming only the letter
    or the same ending already there (a student's own rationale, curated again for self-training)."""
    text = dict(_OPTION.findall(question.partition(CHOICES)[2])).get(letter)
    if text is None:
        return rationale
    ending = f"So the answer is {text} ({letter})."
    return f"{_LETTER_ENDING.sub('', rationale.removesuffix(ending).rstrip())} {ending}"


def check_trainable(template: str, model_type: str = "decoder") -> None:
    """Raise ConfigError unless template and model type make a trainable pair."""
    if template not in TRAINABLE:
        raise ConfigError(f"template {template!r} cannot be trained on; use one of {', '.join(TRAINABLE)}")
    if model_type not in MODEL_TYPES:
        raise ConfigError(f"model type {model_type!r} is unknown; use decoder or encoder_decoder")
    if model_type not in TEMPLATES[template].labels:
        raise ConfigError(f"template {template} is decoder-only; use ft_cot_token for encoder-decoder models")
