"""Your own task from a JSONL, CSV or JSON file of questions and answers, usable wherever a built-in task is."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from fcot.errors import ConfigError, DataError
from fcot.formats import Dataset, read_json, read_jsonl
from fcot.tasks import answers
from fcot.tasks.task import DEFAULT_SPLIT, TASKS, Task, get_task, register_task, seeded_split

SUFFIXES = (".jsonl", ".csv", ".json")
_LETTER_OPTION = re.compile(r"\(([A-Z])\)")


@dataclass
class CustomTask(Task):
    """A task whose questions come from a user's file; its default split is a seeded 70/30 one."""

    path: Path | None = None
    rows: list[dict] = field(default_factory=list, repr=False)

    def dataset_path(self, data_dir: str | Path | None = None) -> Path:
        return Path(str(self.path))

    def load_dataset(self, data_dir: str | Path | None = None) -> Dataset:
        """The file's rows as a Dataset (sample_index = row position)."""
        return Dataset(dataset_key=self.key, data=[dict(r) for r in self.rows])

    def load_split(self, name: str = DEFAULT_SPLIT, data_dir: str | Path | None = None) -> dict[str, list[int]]:
        """A seeded 70/30 train/test split of the rows (the only split a custom task has)."""
        if name != DEFAULT_SPLIT:
            raise DataError(f"task {self.key} ({self.path}): no split {name!r}; a custom task has only 'default'")
        return seeded_split([int(r["sample_index"]) for r in self.rows])

    def load_raw(self, path: str | Path | None = None, data_dir: str | Path | None = None) -> Dataset:
        return self.load_dataset()

    def few_shot_prompt(self, data_dir: str | Path | None = None) -> str:
        raise DataError(f"task {self.key} ({self.path}): a custom task has no few-shot CoT exemplars; use zs_cot")


def _read_rows(path: Path) -> list:
    """Rows of a .jsonl, .csv or .json file (a list of objects, or a paper Dataset with "data")."""
    if not path.is_file():
        raise DataError(f"{path}: no such file; pass a .jsonl, .csv or .json file of questions and answers")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path}: unsupported file type {path.suffix or '(none)'!r}; use .jsonl, .csv or .json")
    try:
        if suffix == ".jsonl":
            rows = read_jsonl(path)
        elif suffix == ".json":
            raw = read_json(path)
            rows = raw.get("data") if isinstance(raw, dict) else raw
            if not isinstance(rows, list):
                raise DataError(f'{path}: expected a JSON list of rows or a Dataset with a "data" list')
        else:
            with path.open(encoding="utf-8-sig", newline="") as f:
                rows = list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a UTF-8 text file ({exc}); save it as UTF-8 {suffix[1:].upper()}") from exc
    if not rows:
        raise DataError(f"{path}: the file has no rows; add one question and answer per row")
    return rows


def _check_gold(answer_type: str, gold: str, where: str) -> None:
    if answer_type == "number":
        try:
            float(gold.replace(",", ""))
        except ValueError as exc:
            raise DataError(f"{where}: answer {gold!r} is not a number; fix it or use --answer-type text") from exc
    elif answer_type == "yes_no" and gold.lower() not in ("yes", "no"):
        raise DataError(f"{where}: answer {gold!r} is not yes/no; fix it or use --answer-type text")
    elif answer_type == "choice" and not re.fullmatch(r"[A-Z]", gold):
        raise DataError(f"{where}: answer {gold!r} is not a choice letter A-Z; fix it or use --answer-type text")


def _choice_letters(rows: list[dict]) -> str:
    """Letters A..X, X being the last letter any gold answer or `(X)` option in the questions uses."""
    used = {r["answer"] for r in rows}
    for r in rows:
        used.update(_LETTER_OPTION.findall(r["question"]))
    return "".join(chr(c) for c in range(ord("A"), ord(max(max(used), "B")) + 1))


def _default_key(path: Path) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", path.stem.lower()).strip("_") or "custom"


def load_custom_task(
    path: str | Path,
    answer_type: str,
    question_field: str = "question",
    answer_field: str = "answer",
    key: str | None = None,
) -> CustomTask:
    """A Task from a JSONL, CSV or JSON file of questions and answers; it is also registered under its key."""
    path = Path(path)
    answers.check_answer_type(answer_type, where=f"{path}: --answer-type")
    key = key or _default_key(path)
    if key in TASKS and not isinstance(TASKS[key], CustomTask):
        raise ConfigError(f"{path}: task key {key!r} is a built-in task; rename the file (or pass key=...)")
    rows = []
    for i, rec in enumerate(_read_rows(path)):
        where = f"{path}: row {i + 1}"
        missing = [f for f in (question_field, answer_field) if not isinstance(rec, dict) or rec.get(f) in (None, "")]
        if missing:
            have = ", ".join(map(repr, rec)) if isinstance(rec, dict) else type(rec).__name__
            raise DataError(f"{where}: no {' or '.join(map(repr, missing))} (has {have}); "
                            "name the columns with --question-field/--answer-field")
        gold = str(rec[answer_field]).strip()
        _check_gold(answer_type, gold, where)
        rows.append({"sample_index": i, "question": str(rec[question_field]), "answer": gold})
    choices = _choice_letters(rows) if answer_type == "choice" else None
    task = CustomTask(key=key, answer_type=answer_type, choices=choices, float_compare=True,
                      description=f"custom task from {path}", path=path, rows=rows)
    return register_task(task, replace=True)


def resolve_task(key_or_path: str, answer_type: str | None = None, question_field: str = "question",
                 answer_field: str = "answer") -> Task:
    """A built-in task by key, or a custom task from a .jsonl/.csv/.json path (which needs answer_type)."""
    looks_like_file = Path(key_or_path).suffix.lower() in SUFFIXES or Path(key_or_path).is_file()
    if not looks_like_file:
        if answer_type is not None and key_or_path in TASKS and not isinstance(TASKS[key_or_path], CustomTask):
            raise ConfigError(f"--answer-type applies only to a task file, not to built-in {key_or_path!r}; drop it")
        return get_task(key_or_path)
    if answer_type is None:
        raise ConfigError(f"{key_or_path}: a task file needs --answer-type ({', '.join(answers.ANSWER_TYPES)})")
    return load_custom_task(key_or_path, answer_type, question_field=question_field, answer_field=answer_field)
