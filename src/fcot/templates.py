"""The paper's prediction templates: how a sample becomes a model input, and a training label.

Formats follow the Fine-tune-CoT repository (`src/data/format.py`). Question, answer and rationale are
stripped as there, except in `zs_cot`, which reproduces the teacher's recorded prompts byte for byte.
Bump `TEMPLATES_VERSION` on any change to a format.
"""

from __future__ import annotations

from pathlib import Path

from fcot.errors import ConfigError, DataError
from fcot.tasks import Task, as_task

TEMPLATES_VERSION = 1

TEMPLATES = ("zs", "zs_cot", "fs_cot", "ft_token", "ft_cot_token", "ft_cot_natural")
MODEL_TYPES = ("decoder", "encoder_decoder")

ZS_COT_STEP1 = "Q: {question}\nA: Let's think step by step."
# Zero-shot-CoT built step 2 as x + z + " " + "\nTherefore, ..." (prompt, rationale, space, trigger).
ZS_COT_STEP2 = "{reasoning_prompt}{reasoning_completion} \n{answer_trigger}"
GENERIC_TRIGGER = "Therefore, the answer is"

INPUTS: dict[tuple[str, str], str] = {
    ("zs", "decoder"): "Q: {question}\n\nA:",
    ("zs", "encoder_decoder"): "question: {question}",  # the SQuAD format T5 was trained on
    ("fs_cot", "decoder"): "{few_shot_prompt}\nQ: {question}\nA:",
    ("fs_cot", "encoder_decoder"): "{few_shot_prompt}\nQ: {question}\nA:",
    ("ft_token", "decoder"): "{question} ###",
    ("ft_token", "encoder_decoder"): "{question}",
    ("ft_cot_token", "decoder"): "{question} ###",
    ("ft_cot_token", "encoder_decoder"): "{question}",
    ("ft_cot_natural", "decoder"): "Q: {question}\n\nA: Let's think step by step.\n\n",
}

LABELS: dict[tuple[str, str], str] = {
    ("ft_token", "decoder"): " {answer}",
    ("ft_token", "encoder_decoder"): "{answer}",
    ("ft_cot_token", "decoder"): " {rationale} --> {answer}",
    ("ft_cot_token", "encoder_decoder"): "{rationale} --> {answer}",
    ("ft_cot_natural", "decoder"): " {rationale}\n\nTherefore the answer is {answer}",
}

# Where a prediction's answer starts (None: the first answer-like string); the paper's evaluator's table.
ANSWER_PREFIXES: dict[str, str | None] = {
    "zs": None,
    "zs_cot": None,
    "fs_cot": "The answer is",
    "ft_token": None,
    "ft_cot_token": "-->",
    "ft_cot_natural": "Therefore, the answer is",
}


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
    key = (template, model_type)
    if key not in INPUTS:
        raise ConfigError(f"template {template} does not support model type {model_type}; use decoder")
    values = {"question": _field(sample, "question", template).strip()}
    if template == "fs_cot":
        if task is None:
            raise ConfigError("template fs_cot needs a task for its few-shot exemplars; pass task=")
        values["few_shot_prompt"] = as_task(task).few_shot_prompt(data_dir)
    return INPUTS[key].format(**values)


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
    key = (template, model_type)
    if key not in LABELS:
        if template in ("zs", "zs_cot", "fs_cot"):
            raise ConfigError(f"template {template} is for prompting only and has no label; use ft_cot_token")
        raise ConfigError(f"template {template} does not support model type {model_type}; use decoder")
    values = {"answer": _field(sample, "answer", template).strip()}
    if "{rationale}" in LABELS[key]:
        values["rationale"] = _rationale(sample, template)
    label = LABELS[key].format(**values)
    return label if stop_phrase is None else f"{label} {stop_phrase}"


def answer_prefix(template: str) -> str | None:
    """Where the answer starts in a prediction made with this template (None: anywhere)."""
    check_template(template)
    return ANSWER_PREFIXES[template]
