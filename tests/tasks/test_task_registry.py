"""The registry of the 12 benchmarks, their splits, triggers and few-shot prompts."""

from __future__ import annotations

import json

import pytest

from fcot.errors import ConfigError, DataError, TaskNotFound
from fcot.tasks import answer_trigger, get_task, list_tasks, load_dataset, load_split, seeded_split
from fcot.tasks.task import Task, register_task

PAPER_KEYS = [
    "single_eq", "addsub", "multiarith", "gsm8k", "aqua", "svamp", "date_understanding",
    "tracking_shuffled_objects", "last_letter_concatenation", "coin_flip", "commonsense_qa", "strategy_qa",
]


def test_registry_has_the_paper_keys():
    assert [t.key for t in list_tasks()][:12] == PAPER_KEYS


def test_unknown_key_suggests_close_matches():
    with pytest.raises(TaskNotFound, match=r"unknown task 'gsm8kk'; did you mean: gsm8k\? available: single_eq"):
        get_task("gsm8kk")
    with pytest.raises(TaskNotFound, match=r"available: .*strategy_qa"):
        get_task("zzz")


def test_register_twice_is_refused():
    with pytest.raises(ConfigError, match="already registered"):
        register_task(Task("gsm8k", "number"))


def test_triggers_match_recorded_step2_prompts(shared_data):
    for path in sorted((shared_data / "completion_data").glob("*/D_*.json")):
        raw = json.loads(path.read_text())
        first = next(iter(raw["data"].values()))[0]
        assert first["prompt"].endswith(" \n" + answer_trigger(raw["metadata"]["dataset_key"]))
    assert answer_trigger("strategy_qa") == "Therefore, the answer (Yes or No) is"
    assert answer_trigger("svamp") == "Therefore, the answer (arabic numerals) is"


def test_datasets_and_splits_load_from_data_dir(shared_data):
    for key in PAPER_KEYS:
        dataset = load_dataset(key, shared_data)
        split = load_split(key, "default", shared_data)
        assert sorted(split["train"] + split["test"]) == sorted(dataset.indices), key
    assert len(load_split("multiarith", "template", shared_data)["test"]) == 187
    assert len(get_task("date_understanding").load_split("template", shared_data)["train"]) == 261


def test_questions_of_a_split_part(shared_data):
    task = get_task("multiarith")
    test = task.load_split("default", shared_data)["test"]
    assert [s["sample_index"] for s in task.questions("test", shared_data, limit=5)] == test[:5]
    assert len(task.questions("all", shared_data)) == len(task.load_dataset(shared_data))
    with pytest.raises(ConfigError, match="--split 'dev': use one of train, test, all"):
        task.questions("dev", shared_data)


def test_unknown_split_names_the_available_ones(shared_data):
    with pytest.raises(DataError, match="task gsm8k: no split 'template'; available: default"):
        load_split("gsm8k", "template", shared_data)


@pytest.mark.parametrize("key", ["gsm8k", "aqua", "commonsense_qa"])
def test_seeded_split_reproduces_the_shipped_70_30_splits(key, shared_data):
    dataset = load_dataset(key, shared_data)
    assert seeded_split(dataset.indices) == load_split(key, "default", shared_data)


def test_few_shot_prompts(shared_data):
    assert get_task("aqua").few_shot_prompt(shared_data).startswith("Q: John found that the average")
    with pytest.raises(DataError, match="no few-shot CoT exemplars for task tracking_shuffled_objects"):
        get_task("tracking_shuffled_objects").few_shot_prompt(shared_data)


def test_bundled_data_is_used_by_default():
    assert len(load_dataset("single_eq")) == 508
