"""Answer extraction per answer kind, as in the paper's evaluator."""

from __future__ import annotations

import pytest

from fcot.errors import ConfigError
from fcot.tasks import extract_answer, get_task, is_correct
from fcot.tasks.answers import candidates, extract


@pytest.mark.parametrize(
    "key, text, expected",
    [
        ("gsm8k", " $1,200.50 and then 3", "1200.50"),
        ("gsm8k", " -7 apples", "-7"),
        ("aqua", " (C).", "C"),
        ("commonsense_qa", " among A through E", "A"),
        ("tracking_shuffled_objects", " Dave's D, then B", "B"),
        ("date_understanding", " (F) 01/02/2020", "F"),
        ("coin_flip", ": Yes, it is.", "yes"),
        ("strategy_qa", " \"No\".", "no"),
        ("last_letter_concatenation", " \"yajo\".", "yajo"),
        ("gsm8k", " no number here", None),
    ],
)
def test_extract_answer(key, text, expected):
    assert extract_answer(key, text) == expected


def test_prefix_rule_first_after_prefix_else_last():
    assert extract("number", "so 3 and 4 --> 5 or 6", prefix="-->") == ("5", ["5", "6"])
    assert extract("number", "so 3 and 4", prefix="-->") == ("4", ["3", "4"])
    assert extract("number", "so 3 and 4") == ("3", ["3", "4"])


def test_float_compare_only_where_the_paper_uses_it():
    assert is_correct("single_eq", "43.0", "43")
    assert not is_correct("gsm8k", "18.00", "18")  # the paper compares GSM8K answers as strings
    assert is_correct("gsm8k", "1000", "1,000")
    assert not is_correct("gsm8k", None, "18")
    assert is_correct("strategy_qa", "yes", "Yes")


def test_unknown_answer_type():
    with pytest.raises(ConfigError, match="unknown answer type 'float'; use one of number, choice, yes_no, text"):
        candidates("float", "1")


def test_task_answer_types():
    assert {get_task(k).answer_type for k in ("aqua", "gsm8k", "coin_flip", "last_letter_concatenation")} == {
        "choice", "number", "yes_no", "text"}


def test_strict_extraction():
    assert candidates("choice", "All of (C) and B") == ["A", "C", "B"]
    assert candidates("choice", "All of (C) and B", strict=True) == ["C"]
    assert candidates("choice", "All of C and B", strict=True) == ["C", "B"]
    assert extract("number", "so 3 and 4", prefix="-->", strict=True) == (None, [])
    assert get_task("gsm8k").is_correct("18.00", "18", strict=True)
