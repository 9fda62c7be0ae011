"""Custom tasks from JSONL and CSV files behave like built-in ones."""

from __future__ import annotations

import json

import pytest

from fcot.errors import ConfigError, DataError, TaskNotFound
from fcot.tasks import get_task, load_custom_task, resolve_task
from fcot.templates import format_input


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_custom_jsonl_number_task(tmp_path):
    path = _jsonl(tmp_path / "My Sums.jsonl", [{"question": f"What is {i} + {i}?", "answer": str(2 * i)} for i in range(20)])
    task = load_custom_task(path, "number")
    assert task.key == "my_sums" and get_task("my_sums") is task
    assert task.answer_trigger == "Therefore, the answer (arabic numerals) is"
    dataset = task.load_dataset()
    assert len(dataset) == 20 and dataset[3] == {"sample_index": 3, "question": "What is 3 + 3?", "answer": "6"}
    split = task.load_split()
    assert (len(split["train"]), len(split["test"])) == (14, 6)
    assert sorted(split["train"] + split["test"]) == list(range(20))
    assert task.load_split() == split  # seeded
    assert task.is_correct(task.extract_answer(" 6.0 apples"), "6")
    assert format_input("zs_cot", {"question": "Q", "reasoning_completion": " R"}, task=task, step=2).endswith(
        "R \nTherefore, the answer (arabic numerals) is")
    with pytest.raises(DataError, match="no few-shot CoT exemplars"):
        task.few_shot_prompt()


def test_custom_csv_choice_task_with_own_columns(tmp_path):
    path = tmp_path / "quiz.csv"
    path.write_text("prompt,gold\n\"Pick one: (A) x (B) y (C) z\",C\n\"Pick: (A) p (B) q (C) r\",A\n", encoding="utf-8")
    task = load_custom_task(path, "choice", question_field="prompt", answer_field="gold", key="quiz")
    assert task.choices == "ABC"
    assert task.answer_trigger == "Therefore, among A through C, the answer is"
    assert task.load_dataset()[0]["question"] == "Pick one: (A) x (B) y (C) z"
    assert task.extract_answer(" (C).") == "C" and task.extract_answer(" E or D") is None


def test_custom_json_dataset_file_and_binary_file(tmp_path, shared_data):
    task = load_custom_task(shared_data / "dataset" / "coin_flip.json", "yes_no", key="my_coins")
    assert len(task.load_dataset()) == 500 and task.answer_trigger.endswith("(Yes or No) is")
    binary = tmp_path / "blob.jsonl"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(DataError, match="blob.jsonl: not a UTF-8 text file"):
        load_custom_task(binary, "text")


def test_resolve_task(tmp_path):
    assert resolve_task("gsm8k").key == "gsm8k"
    path = _jsonl(tmp_path / "yn.jsonl", [{"question": "Is it?", "answer": "Yes"}])
    task = resolve_task(str(path), "yes_no")
    assert task.is_correct(task.extract_answer(" yes."), "Yes")
    with pytest.raises(ConfigError, match="needs --answer-type"):
        resolve_task(str(path))
    with pytest.raises(ConfigError, match="applies only to a task file"):
        resolve_task("gsm8k", "number")
    with pytest.raises(TaskNotFound, match="did you mean: aqua"):
        resolve_task("aqau")


@pytest.mark.parametrize(
    "name, content, answer_type, match",
    [
        ("a.csv", "q,a\nWhat?,1\n", "number", r"a\.csv: row 1: no 'question' or 'answer' \(has 'q', 'a'\)"),
        ("b.jsonl", "", "number", r"b\.jsonl: the file has no rows"),
        ("c.jsonl", '{"question": "Q", "answer": "many"}\n', "number", "answer 'many' is not a number"),
        ("d.jsonl", '{"question": "Q", "answer": "maybe"}\n', "yes_no", "answer 'maybe' is not yes/no"),
        ("e.jsonl", '{"question": "Q", "answer": "b"}\n', "choice", "answer 'b' is not a choice letter"),
        ("f.txt", "Q\tA\n", "text", "unsupported file type '.txt'"),
        ("h.json", '{"metadata": {}}', "text", 'expected a JSON list of rows or a Dataset with a "data" list'),
        ("g.jsonl", "{not json\n", "text", r"g\.jsonl:1: not a JSON line"),
    ],
)
def test_bad_custom_files(tmp_path, name, content, answer_type, match):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError, match=match):
        load_custom_task(path, answer_type)


def test_custom_task_checks_answer_type_and_key(tmp_path):
    path = _jsonl(tmp_path / "gsm8k.jsonl", [{"question": "Q", "answer": "1"}])
    with pytest.raises(ConfigError, match="unknown answer type 'float'"):
        load_custom_task(path, "float")
    with pytest.raises(ConfigError, match="'gsm8k' is a built-in task"):
        load_custom_task(path, "number")
    with pytest.raises(DataError, match="no such file"):
        load_custom_task(tmp_path / "missing.jsonl", "number")
