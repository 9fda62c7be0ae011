"""The evaluator reproduces the paper evaluator's accuracy on the recorded teacher completions."""

from __future__ import annotations

import json
import re

import pytest

from fcot.errors import ConfigError, DataError
from fcot.evaluate import Evaluator, evaluate_completions
from fcot.formats import CompletionDataset
from fcot.tasks import get_task

# The "paper evaluator (%)" column of fcot-data/README.md.
PAPER_ACCURACY = {
    "single_eq": 79.53,
    "addsub": 71.39,
    "multiarith": 78.67,
    "gsm8k": 41.02,
    "aqua": 33.46,
    "date_understanding": 67.48,
    "tracking_shuffled_objects": 52.40,
    "last_letter_concatenation": 57.60,
    "coin_flip": 91.40,
    "commonsense_qa": 64.62,
}
TEACHER = "completion_data/B_text-davinci-002__C_zs_cot"


def test_golden_numbers_are_the_readme_column(shared_data):
    readme = (shared_data / "README.md").read_text()
    column = {}
    for row in re.findall(r"^\| (\w+) \|.*\| ([\d.]+|—) \| ([\d.]+|—) \| (yes|no) \|$", readme, flags=re.M):
        if row[3] == "yes":
            column[row[0]] = float(row[2])
    assert column == PAPER_ACCURACY


@pytest.mark.parametrize("key", sorted(PAPER_ACCURACY))
def test_paper_accuracy_on_teacher_completions(key, shared_data):
    cd = CompletionDataset.load(shared_data / TEACHER / f"D_{key}.json")
    evaluation = evaluate_completions(cd)
    assert evaluation.n == len(get_task(key).load_dataset(shared_data))
    assert round(100 * evaluation.accuracy, 2) == pytest.approx(PAPER_ACCURACY[key], abs=0.005)
    assert evaluation.contains_answer >= evaluation.accuracy
    assert evaluation.correct_format == 1.0 and evaluation.complete == 0.0  # finish_reason was not recorded


def test_sample_indices_restrict_to_a_split(shared_data):
    cd = CompletionDataset.load(shared_data / TEACHER / "D_gsm8k.json")
    test = get_task("gsm8k").load_split("default", shared_data)["test"]
    evaluation = evaluate_completions(cd, sample_indices=test)
    assert evaluation.n == 396 and {r["sample_index"] for r in evaluation.records} == set(test)
    assert round(100 * evaluation.accuracy, 2) == 38.64


def test_evaluation_is_json(tmp_path, shared_data):
    cd = CompletionDataset.load(shared_data / TEACHER / "D_coin_flip.json")
    path = evaluate_completions(cd, sample_indices=[0, 1]).save(tmp_path / "eval.json")
    saved = json.loads(path.read_text())
    assert saved["dataset_key"] == "coin_flip" and saved["template"] == "zs_cot" and saved["n"] == 2
    assert set(saved["records"][0]) >= {"sample_index", "completion_index", "correct", "contains_answer",
                                        "correct_format", "complete"}


def _cd(key: str, template: str, completions: list[tuple[str, str]], finish_reason: str | None = "stop"):
    data = {
        i: [{"sample_index": i, "completion_index": 0, "answer": gold, "completion": text, "finish_reason": finish_reason}]
        for i, (text, gold) in enumerate(completions)
    }
    return CompletionDataset(metadata={"dataset_key": key, "prediction_template": template}, data=data)


def _flags(evaluation):
    return [(r["correct"], r["contains_answer"], r["correct_format"]) for r in evaluation.records]


@pytest.mark.parametrize(
    "key, template, completions, expected",
    [
        # no prefix: the first candidate
        ("gsm8k", "zs", [(" 12 or 15", "15"), (" 15", "15")], [(False, True, True), (True, True, True)]),
        ("gsm8k", "ft_token", [(" 1,000", "1000")], [(True, True, True)]),
        ("coin_flip", "zs_cot", [(": no, yes", "yes")], [(False, True, True)]),
        # fs_cot: first candidate after "The answer is", else the last one
        ("aqua", "fs_cot", [("B is wrong. The answer is C.", "C"), ("so (A) or (D)", "D")],
         [(True, True, True), (True, True, False)]),
        # ft_cot_token: after "-->"
        ("single_eq", "ft_cot_token", [("3 + 4 = 7 --> 7.0", "7"), ("3 + 4 = 7", "7"), ("7 --> 8", "7")],
         [(True, True, True), (True, True, False), (False, False, True)]),
        # ft_cot_natural: the paper looks for "Therefore, the answer is" (with a comma)
        ("strategy_qa", "ft_cot_natural",
         [("yes, it is. Therefore, the answer is no", "no"), ("no... Therefore the answer is yes", "yes")],
         [(True, True, True), (True, True, False)]),
        ("last_letter_concatenation", "ft_cot_token", [("a, b --> \"ab\".", "ab")], [(True, True, True)]),
    ],
)
def test_every_template(key, template, completions, expected):
    evaluation = evaluate_completions(_cd(key, template, completions))
    assert _flags(evaluation) == expected
    assert evaluation.accuracy == sum(e[0] for e in expected) / len(expected)
    assert evaluation.complete == 1.0


def test_complete_requires_stop():
    assert evaluate_completions(_cd("gsm8k", "zs", [(" 1", "1")], finish_reason="length")).complete == 0.0


def test_strict_mode_is_opt_in():
    cd = _cd("commonsense_qa", "zs_cot", [(" A bank is not it, so (C).", "C")])
    assert evaluate_completions(cd).accuracy == 0.0  # the paper takes the "A" of "A bank"
    assert evaluate_completions(cd, strict=True).accuracy == 1.0
    natural = _cd("gsm8k", "ft_cot_natural", [("1 + 1 = 2\n\nTherefore the answer is 2.00", "2")])
    assert evaluate_completions(natural).records[0]["correct_format"] is False
    strict = evaluate_completions(natural, strict=True).records[0]
    assert strict["correct_format"] and strict["correct"]
    missing_prefix = _cd("gsm8k", "ft_cot_token", [("the answer is 2", "2")])
    assert evaluate_completions(missing_prefix).accuracy == 1.0
    assert evaluate_completions(missing_prefix, strict=True).records[0]["prediction"] is None


def test_bad_inputs():
    with pytest.raises(ConfigError, match="unknown prediction template 'zs_cott'"):
        Evaluator("gsm8k", "zs_cott")
    with pytest.raises(DataError, match="sample 0: no 'completion' text"):
        Evaluator("gsm8k", "zs").check({"sample_index": 0, "answer": "1"})
    with pytest.raises(DataError, match="nothing to evaluate"):
        evaluate_completions(_cd("gsm8k", "zs", [(" 1", "1")]), sample_indices=[99])


def test_check_returns_the_paper_record():
    record = Evaluator("addsub", "zs_cot").check(
        {"sample_index": 4, "completion_index": 2, "answer": "43", "completion": " 43.", "finish_reason": "stop"})
    assert record == {"sample_index": 4, "completion_index": 2, "answer": "43", "prediction": "43", "correct": True,
                      "contains_answer": True, "correct_format": True, "complete": True}
