"""The paper's prediction templates, including byte-exact teacher prompts for zs_cot."""

from __future__ import annotations

import pytest

from fcot.errors import ConfigError, DataError
from fcot.formats import CompletionDataset
from fcot.tasks import get_task
from fcot.templates import (STOP_PHRASE, TEMPLATES, TRAINABLE, check_trainable, format_input, format_label, get_template,
                             rationale_template)

SAMPLE = {"sample_index": 7, "question": " What is 2 + 3? ", "answer": " 5 ", "reasoning_completion": " 2 + 3 = 5. "}


def test_zs_cot_reproduces_every_recorded_teacher_prompt(shared_data):
    for path in sorted((shared_data / "completion_data").glob("*/D_*.json")):
        cd = CompletionDataset.load(path)
        task = get_task(cd.dataset_key)
        for c in cd.select():
            assert format_input("zs_cot", c, task=task, step=1) == c["reasoning_prompt"], path.name
            assert format_input("zs_cot", c, task=task, step=2) == c["prompt"], path.name


def test_zs_cot_step2_builds_reasoning_prompt_and_uses_trigger():
    text = format_input("zs_cot", SAMPLE, task="gsm8k", step=2)
    assert text == ("Q:  What is 2 + 3? \nA: Let's think step by step. 2 + 3 = 5.  \n"
                    "Therefore, the answer (arabic numerals) is")
    assert format_input("zs_cot", SAMPLE, step=2).endswith("\nTherefore, the answer is")


@pytest.mark.parametrize(
    "template, model_type, expected_input, expected_label",
    [
        ("ft_token", "decoder", "What is 2 + 3? ###", " 5"),
        ("ft_token", "encoder_decoder", "What is 2 + 3?", "5"),
        ("ft_cot_token", "decoder", "What is 2 + 3? ###", " 2 + 3 = 5. --> 5"),
        ("ft_cot_token", "encoder_decoder", "What is 2 + 3?", "2 + 3 = 5. --> 5"),
        ("ft_cot_natural", "decoder", "Q: What is 2 + 3?\n\nA: Let's think step by step.\n\n",
         " 2 + 3 = 5.\n\nTherefore the answer is 5"),
    ],
)
def test_fine_tuning_templates(template, model_type, expected_input, expected_label):
    assert format_input(template, SAMPLE, model_type) == expected_input
    assert format_label(template, SAMPLE, model_type) == expected_label
    assert format_label(template, SAMPLE, model_type, stop_phrase="END") == expected_label + " END"


CHOICE = {"sample_index": 2, "question": "Today is May 1, 2021. What is the date today? Answer Choices: (A) 04/29/2021 "
          "(B) 05/01/2021", "answer": "B", "reasoning_completion": " Today is May 1. Therefore, the answer is (B). "}


@pytest.mark.parametrize("model_type, opens", [("decoder", " "), ("encoder_decoder", "")])
def test_choice_template_puts_each_letter_after_its_option_and_restates_the_choice(model_type, opens):
    text_in = format_input("ft_cot_choice", CHOICE, model_type)
    assert text_in.startswith("Today is May 1, 2021. What is the date today? Answer Choices: 04/29/2021 (A) 05/01/2021 (B)")
    label = format_label("ft_cot_choice", CHOICE, model_type)
    assert label == opens + "Today is May 1. So the answer is 05/01/2021 (B). --> B"
    own = {**CHOICE, "reasoning_completion": label.removesuffix(" --> B")}  # a student's rationale, curated again
    assert format_label("ft_cot_choice", own, model_type) == label
    # questions without listed options read as in ft_cot_token
    assert format_input("ft_cot_choice", SAMPLE, model_type) == format_input("ft_cot_token", SAMPLE, model_type)
    assert format_label("ft_cot_choice", SAMPLE, model_type) == format_label("ft_cot_token", SAMPLE, model_type)


@pytest.mark.parametrize("task", ["date_understanding", "tracking_shuffled_objects", "commonsense_qa", "aqua"])
def test_choice_template_lets_the_student_copy_the_letter_after_the_text_it_names(task, shared_data):
    for s in get_task(task).load_dataset(shared_data).select():
        sample = {**s, "rationale": "Because."}
        text_in, label = format_input("ft_cot_choice", sample), format_label("ft_cot_choice", sample)
        named = label.removeprefix(" Because. So the answer is ").removesuffix(f". --> {s['answer']}")
        assert named.endswith(f" ({s['answer']})") and f" {named} " in text_in, (task, s["sample_index"])
        assert text_in.count(" Answer Choices: ") == 1 and text_in.endswith(") ###")


def test_multiple_choice_tasks_default_to_ft_cot_choice():
    assert [rationale_template(t) for t in ("date_understanding", "aqua", "multiarith", "coin_flip")] == [
        "ft_cot_choice", "ft_cot_choice", "ft_cot_token", "ft_cot_token"]


def test_rationale_field_is_accepted_for_dataset_samples():
    sample = {"sample_index": 1, "question": "Q", "answer": "A", "rationale": "because"}
    assert format_label("ft_cot_token", sample) == " because --> A"


def test_zero_shot_inputs():
    assert format_input("zs", SAMPLE) == "Q: What is 2 + 3?\n\nA:"
    assert format_input("zs", SAMPLE, "encoder_decoder") == "question: What is 2 + 3?"


def test_fs_cot_prepends_task_exemplars(shared_data):
    text = format_input("fs_cot", SAMPLE, task="gsm8k", data_dir=shared_data)
    assert text.startswith("Q: There are 15 trees in the grove.")
    assert text.endswith("The answer is 8.\nQ: What is 2 + 3?\nA:")


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: format_input("zs_cot", SAMPLE, "encoder_decoder"), "does not support model type"),
        (lambda: format_input("ft_cot_natural", SAMPLE, "encoder_decoder"), "does not support model type"),
        (lambda: format_input("zs_cot", SAMPLE, step=3), "steps 1 and 2"),
        (lambda: format_input("fs_cot", SAMPLE), "needs a task"),
        (lambda: format_input("cot", SAMPLE), "unknown prediction template 'cot'"),
        (lambda: format_input("zs", SAMPLE, "encoder"), "unknown model type 'encoder'"),
        (lambda: format_label("zs_cot", SAMPLE), "has no label"),
    ],
)
def test_unsupported_combinations_raise_config_error(call, match):
    with pytest.raises(ConfigError, match=match):
        call()


def test_missing_fields_raise_data_error():
    with pytest.raises(DataError, match="sample 3: no 'reasoning_completion' or 'rationale'"):
        format_label("ft_cot_token", {"sample_index": 3, "question": "Q", "answer": "A"})
    with pytest.raises(DataError, match="no 'question'"):
        format_input("ft_token", {"sample_index": 3, "answer": "A"})


def test_registry_records_what_each_template_does():
    assert TRAINABLE == ("ft_token", "ft_cot_token", "ft_cot_choice", "ft_cot_natural")
    cot = get_template("ft_cot_token")
    assert (cot.answer_prefix, cot.separator, cot.stop, cot.max_new_tokens) == ("-->", "-->", (STOP_PHRASE,), 128)
    vanilla = get_template("ft_token")
    assert (vanilla.separator, vanilla.writes_rationale, vanilla.max_new_tokens) == (None, False, 32)
    assert get_template("fs_cot").answer_prefix == "The answer is"
    assert get_template("zs").stop == ("\nQ:",) and not get_template("zs").trainable
    natural = get_template("ft_cot_natural")
    assert natural.strict_prefix in format_label("ft_cot_natural", {"question": "q", "answer": "a", "rationale": "r"})
    assert all(t.method for t in TEMPLATES.values())


@pytest.mark.parametrize("template, model_type, message", [
    ("zs", "decoder", "cannot be trained on"),
    ("ft_cot_token", "rnn", "model type 'rnn' is unknown"),
    ("ft_cot_natural", "encoder_decoder", "decoder-only"),
])
def test_check_trainable_rejects_with_one_clear_reason(template, model_type, message):
    with pytest.raises(ConfigError, match=message):
        check_trainable(template, model_type)
    check_trainable("ft_cot_token", "encoder_decoder")
