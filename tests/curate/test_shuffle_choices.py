"""`--shuffle-choices`: multiple-choice samples again with their options reordered, answers and rationales following."""

from __future__ import annotations

import random
import re

import pytest

from fcot.curate import curate
from fcot.curate.choices import options, shuffled_copies
from fcot.formats import CompletionDataset
from fcot.tasks import get_task

TEACHER_DIR = "completion_data/B_text-davinci-002__C_zs_cot"


def _option_texts(question: str) -> dict[str, str]:
    question = question.removesuffix(" ###")  # a formatted input
    return {letter: question[start:end] for letter, start, end in options(question)}


@pytest.mark.parametrize("task", ["date_understanding", "aqua", "tracking_shuffled_objects", "commonsense_qa"])
def test_copies_keep_the_gold_option_and_the_rationale_true(shared_data, task):
    completions = CompletionDataset.load(shared_data / TEACHER_DIR / f"D_{task}.json")
    plain = curate(completions, task, data_dir=shared_data)
    result = curate(completions, task, data_dir=shared_data, shuffle_choices=2)
    by_question: dict[int, list[dict]] = {}
    for sample in result.samples:
        by_question.setdefault(sample["sample_index"], []).append(sample)
    assert result.stats.kept == len(result.samples) == plain.stats.kept + result.stats.shuffled
    assert result.stats.shuffled >= plain.stats.kept  # every question has options to shuffle, most more than 2 orders
    assert [s for s in result.samples if s["completion_index"] == 0 and s["sample_index"] in by_question][:3] == \
        plain.samples[:3]  # the teacher's own samples come first, unchanged
    moved = 0
    for samples in by_question.values():
        assert len({s["completion_index"] for s in samples}) == len(samples)
        first = samples[0]
        first_texts = _option_texts(first["input"])
        first_gold = first_texts[first["label"].rsplit("-->", 1)[1].split()[0]]
        for copy in samples[1:]:
            texts = _option_texts(copy["input"])
            gold = copy["label"].rsplit("-->", 1)[1].split()[0]
            assert sorted(texts.values()) == sorted(first_texts.values())  # same options, other order
            assert texts[gold] == first_gold  # the answer letter follows its option
            # the question before the options is untouched
            assert copy["input"][:copy["input"].index("(A) ")] == first["input"][:first["input"].index("(A) ")]
            named = re.findall(r"answer is \(?([A-Z])\)?", copy["label"])
            original = re.findall(r"answer is \(?([A-Z])\)?", first["label"])
            if original and first_texts.get(original[-1]) == first_gold:  # the rationale ends naming the gold letter
                assert named and texts.get(named[-1]) == first_gold
                moved += 1
    assert moved > 0


def test_only_multiple_choice_tasks_are_shuffled(shared_data):
    multiarith = CompletionDataset.load(shared_data / TEACHER_DIR / "D_multiarith.json")
    result = curate(multiarith, "multiarith", data_dir=shared_data, shuffle_choices=3)
    assert result.stats.shuffled == 0 and result.stats.kept == result.stats.correct


def test_vanilla_samples_are_shuffled_too(shared_data):
    dataset = get_task("date_understanding").load_dataset(shared_data)
    plain = curate(dataset, "date_understanding", data_dir=shared_data)
    result = curate(dataset, "date_understanding", data_dir=shared_data, shuffle_choices=1)
    assert result.stats.kept == 2 * plain.stats.kept and result.config["shuffle_choices"] == 1
    assert result.samples[0::2] == plain.samples


def test_letters_the_rationale_names_move_with_their_options():
    source = {"question": "Pick one. Answer Choices: (A) red (B) blue (C) green", "answer": "B",
              "reasoning_completion": "Not option A, not choice (C). The answer is B. Answer is Blue."}
    (copy,) = shuffled_copies(source, 1, random.Random(1))
    texts = _option_texts(copy["question"])
    assert texts[copy["answer"]] == "blue"
    letter = {text: letter for letter, text in texts.items()}
    assert copy["reasoning_completion"] == (f"Not option {letter['red']}, not choice ({letter['green']}). "
                                            f"The answer is {letter['blue']}. Answer is Blue.")


def test_questions_without_options_get_no_copies():
    assert shuffled_copies({"question": "What is 2 + 2?", "answer": "4"}, 3, random.Random(0)) == []
    assert options("Answer Choices: (B) x (A) y") is None  # not listed in order
    two = {"question": "Answer Choices: (A) yes (B) no", "answer": "A"}
    assert len(shuffled_copies(two, 5, random.Random(0))) == 1  # only one other order exists
