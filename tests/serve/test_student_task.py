"""StudentTask: trained prompts, readable replies, and stream prefixes that never take back what they showed."""

from __future__ import annotations

import pytest

from fcot.errors import ConfigError
from fcot.serve import StudentTask
from fcot.tasks import get_task
from fcot.templates import format_input, format_label

SAMPLE = {"question": "Tom has 3 apples and buys 5 more. How many?", "answer": "8",
          "rationale": "Tom has 3 apples. 3 + 5 = 8."}


@pytest.mark.parametrize("template", ["ft_cot_token", "ft_cot_choice", "ft_cot_natural", "ft_token"])
def test_a_trained_completion_reads_as_rationale_and_answer(template):
    student = StudentTask(get_task("multiarith"), template, "END")
    assert student.prompt(SAMPLE["question"]) == format_input(template, SAMPLE)
    completion = format_label(template, SAMPLE, stop_phrase="END").removesuffix("END")  # generation stops there
    reply = student.reply(completion)
    rationale = SAMPLE["rationale"] if template != "ft_token" else ""
    assert reply.fcot == {"task": "multiarith", "answer": "8", "rationale": rationale, "completion": completion}
    assert reply.content == (f"{rationale}\n\nAnswer: 8" if rationale else "Answer: 8")
    for end in range(len(completion) + 1):  # what a stream shows is always the start of the final content
        assert reply.content.startswith(student.partial(completion[:end])), completion[:end]
    assert student.partial(completion) == rationale


def test_a_choice_student_gets_its_options_text_first_and_answers_a_letter():
    student = StudentTask(get_task("date_understanding"), "ft_cot_choice", "END")
    question = "Today is May 1, 2021. What is the date today? Answer Choices: (A) 04/29/2021 (B) 05/01/2021"
    assert student.prompt(question).endswith("Answer Choices: 04/29/2021 (A) 05/01/2021 (B) ###")
    reply = student.reply(" Today is May 1. So the answer is 05/01/2021 (B). --> B ")
    assert reply.fcot["answer"] == "B" and reply.content.endswith("05/01/2021 (B).\n\nAnswer: B")


def test_without_an_answer_the_reply_is_the_text():
    student = StudentTask(get_task("coin_flip"), "ft_cot_token", "END")
    reply = student.reply(" the coin was flipped and then")
    assert reply.fcot["answer"] is None and reply.content == "the coin was flipped and then"


def test_only_fine_tuning_templates_can_be_served():
    with pytest.raises(ConfigError, match="zs_cot"):
        StudentTask(get_task("multiarith"), "zs_cot")
