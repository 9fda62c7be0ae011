"""Readers of each benchmark's original file format, giving `[{"question", "answer"}]` in file order.

They build question text the way Zero-shot-CoT (Kojima et al., 2022) did, which is the text the teacher saw:
multiple-choice options are inlined as `Answer Choices: (A) ...`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

from fcot.errors import DataError
from fcot.formats import read_json, read_jsonl, read_text

Rows = list[dict[str, str]]


def _field(record: Any, key: str, where: str) -> Any:
    """record[key], or DataError naming the place (`<file>: line 3`) and the missing field."""
    if not isinstance(record, dict) or key not in record:
        raise DataError(f"{where} has no {key!r} field; is this the benchmark's original file?")
    return record[key]


def _json_lines(path: Path) -> list[dict]:
    """JSON objects one per line; AQuA's file may hold several objects on one line, so decode greedily."""
    decoder = json.JSONDecoder()
    rows = []
    for lineno, line in enumerate(read_text(path).splitlines(), 1):
        if line.strip():
            try:
                rows.append(decoder.raw_decode(line.strip())[0])
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not a JSON line ({exc.msg}); expected one object per line") from exc
    return rows


def _located(records: list, path: Path, unit: str) -> Iterator[tuple[str, Any]]:
    """(place, record) pairs, the place as errors name it: `<file>: line 3` (from 1), `<file>: item 0`."""
    first = 1 if unit == "line" else 0
    return ((f"{path}: {unit} {i}", record) for i, record in enumerate(records, first))


def _examples(path: Path) -> list[dict]:
    return _field(read_json(path), "examples", f"{path}: the top-level object")


def _number_text(value: Any) -> str:
    """A solution as Zero-shot-CoT wrote it: `43.0` -> `43`."""
    text = str(value)
    return text[:-2] if text.endswith(".0") else text


def read_gsm8k(path: Path) -> Rows:
    """GSM8K JSONL: `question`, and `answer` ending in `#### <number>`."""
    rows = []
    for where, rec in _located(read_jsonl(path), path, "line"):
        answer = _field(rec, "answer", where).split("#### ")[-1]
        rows.append({"question": _field(rec, "question", where).strip(), "answer": answer})
    return rows


def read_aqua(path: Path) -> Rows:
    """AQuA-RAT JSON lines: `question`, `options` like `A)21`, `correct` letter."""
    rows = []
    for where, rec in _located(_json_lines(path), path, "line"):
        choices = ("(" + "(".join(_field(rec, "options", where))).replace("(", " (").replace(")", ") ")
        question = _field(rec, "question", where).strip()
        rows.append({"question": f"{question} Answer Choices:{choices}", "answer": _field(rec, "correct", where)})
    return rows


def read_svamp(path: Path) -> Rows:
    """SVAMP JSON: a list of `{Body, Question, Answer}`."""
    rows = []
    for where, rec in _located(read_json(path), path, "item"):
        question = f"{_field(rec, 'Body', where).strip()} {_field(rec, 'Question', where).strip()}"
        rows.append({"question": question, "answer": _number_text(_field(rec, "Answer", where))})
    return rows


def read_mawps(path: Path) -> Rows:
    """MAWPS-style JSON (AddSub, SingleEq, MultiArith): a list of `{sQuestion, lSolutions}`."""
    rows = []
    for where, rec in _located(read_json(path), path, "item"):
        answer = _number_text(_field(rec, "lSolutions", where)[0])
        rows.append({"question": _field(rec, "sQuestion", where).strip(), "answer": answer})
    return rows


def read_commonsense_qa(path: Path) -> Rows:
    """CommonsenseQA JSONL: `question.stem`, `question.choices[{label, text}]`, `answerKey`."""
    rows = []
    for where, rec in _located(read_jsonl(path), path, "line"):
        question = _field(rec, "question", where)
        choices = "".join(f" ({c['label']}) {c['text']}" for c in _field(question, "choices", where))
        stem = _field(question, "stem", where).strip()
        rows.append({"question": f"{stem} Answer Choices:{choices}", "answer": _field(rec, "answerKey", where)})
    return rows


def _bigbench_choices(path: Path, intro: str, letters: str) -> Rows:
    """BIG-bench task.json with `target_scores`; choices lettered in file order."""
    rows = []
    for where, rec in _located(_examples(path), path, "example"):
        choices, answer = intro, None
        for letter, (text, score) in zip(letters, _field(rec, "target_scores", where).items()):
            choices += f" ({letter}) {text}"
            if score == 1:
                answer = letter
        if answer is None:
            raise DataError(f"{where} has no target with score 1; is this the original task.json?")
        rows.append({"question": f"{_field(rec, 'input', where).strip()} {choices}", "answer": answer})
    return rows


def read_bigbench_date(path: Path) -> Rows:
    """BIG-bench date_understanding task.json, choices in file order.

    Zero-shot-CoT shuffled each question's choices without a fixed seed, so the shipped Dataset keeps the
    order the teacher saw; this reader gives the same questions and answers with the file's order.
    """
    return _bigbench_choices(path, "Answer Choices:", "ABCDEF")


def read_bigbench_tracking(path: Path) -> Rows:
    """BIG-bench tracking_shuffled_objects (three objects) task.json."""
    return _bigbench_choices(path, "\nWhich choice is true ? Answer Choices:", "ABC")


def read_bigbench_yes_no(path: Path) -> Rows:
    """BIG-bench StrategyQA task.json: `input` and `target_scores: {"Yes": 0|1, "No": ...}`."""
    rows = []
    for where, rec in _located(_examples(path), path, "example"):
        yes = _field(_field(rec, "target_scores", where), "Yes", f"{where} target_scores")
        rows.append({"question": _field(rec, "input", where).strip(), "answer": "yes" if int(yes) == 1 else "no"})
    return rows


def read_examples(path: Path) -> Rows:
    """Zero-shot-CoT's own sets (coin_flip, last_letters): `{"examples": [{question, answer}]}`."""
    rows = []
    for where, rec in _located(_examples(path), path, "example"):
        rows.append({"question": _field(rec, "question", where), "answer": _field(rec, "answer", where)})
    return rows


READERS: dict[str, Callable[[Path], Rows]] = {
    "gsm8k": read_gsm8k,
    "aqua": read_aqua,
    "svamp": read_svamp,
    "mawps": read_mawps,
    "commonsense_qa": read_commonsense_qa,
    "bigbench_date": read_bigbench_date,
    "bigbench_tracking": read_bigbench_tracking,
    "bigbench_yes_no": read_bigbench_yes_no,
    "examples": read_examples,
}
