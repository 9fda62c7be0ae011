"""A benchmark as a small dataclass (data files, answer kind, answer trigger), and the registry of them."""

from __future__ import annotations

import difflib
import random
from dataclasses import dataclass
from pathlib import Path

from fcot.errors import ConfigError, DataError, TaskNotFound
from fcot.formats import Dataset, load_split as read_split_file, read_json
from fcot.resources import data_dir as resolve_data_dir
from fcot.tasks import answers
from fcot.tasks.loaders import READERS

DEFAULT_SPLIT = "default"  # split/<key>__default.json: the split every stage uses unless told otherwise
SPLITS = ("train", "test", "all")  # the parts of a task's default split a stage may answer (all: every sample)

# Zero-shot-CoT's step-2 answer triggers (Kojima et al., 2022), by answer kind; the teacher appends
# " \n" + trigger to its step-1 rationale.
NUMBER_TRIGGER = "Therefore, the answer (arabic numerals) is"
YES_NO_TRIGGER = "Therefore, the answer (Yes or No) is"
TEXT_TRIGGER = "Therefore, the answer is"


def choice_trigger(letters: str) -> str:
    """`Therefore, among A through E, the answer is` for letters `ABCDE`."""
    return f"Therefore, among {letters[0]} through {letters[-1]}, the answer is"


def default_trigger(answer_type: str, choices: str | None = None) -> str:
    """The Zero-shot-CoT answer trigger for an answer kind."""
    if answer_type == "choice":
        return choice_trigger(choices or "ABCDE")
    return {"number": NUMBER_TRIGGER, "yes_no": YES_NO_TRIGGER}.get(answer_type, TEXT_TRIGGER)


def seeded_split(indices: list[int], train_ratio: float = 0.7, seed: int = 0) -> dict[str, list[int]]:
    """A random train/test split (Python `random.Random(seed).shuffle`, the fcot-data GSM8K/AQuA/CSQA splits)."""
    shuffled = list(indices)
    random.Random(seed).shuffle(shuffled)
    n_train = round(len(shuffled) * train_ratio)
    return {"train": sorted(shuffled[:n_train]), "test": sorted(shuffled[n_train:])}


@dataclass
class Task:
    """One benchmark: where its data lives, how answers look, and how the teacher asked for them."""

    key: str
    answer_type: str  # number | choice | yes_no | text
    choices: str | None = None  # choice letters, e.g. "ABCDE"; None unless answer_type is choice
    float_compare: bool = False  # the paper compares AddSub/SingleEq/SVAMP answers as floats, others as strings
    raw_format: str | None = None  # a key of fcot.tasks.loaders.READERS
    raw_path: str | None = None  # the original file, relative to <data_dir>/raw
    splits: tuple[str, ...] = (DEFAULT_SPLIT,)  # split files split/<key>__<name>.json
    description: str = ""
    answer_trigger: str = ""  # empty: the Zero-shot-CoT trigger for answer_type
    version: int = 1  # bump when this task's prompt, trigger or extraction changes

    def __post_init__(self) -> None:
        answers.check_answer_type(self.answer_type, where=f"task {self.key}")
        if self.answer_type == "choice" and not self.choices:
            self.choices = "ABCDE"
        self.answer_trigger = self.answer_trigger or default_trigger(self.answer_type, self.choices)

    # --- data --------------------------------------------------------------------------------------

    def dataset_path(self, data_dir: str | Path | None = None) -> Path:
        return resolve_data_dir(data_dir) / "dataset" / f"{self.key}.json"

    def load_dataset(self, data_dir: str | Path | None = None) -> Dataset:
        """The task's questions and gold answers (`dataset/<key>.json` under the data root)."""
        return Dataset.load(self.dataset_path(data_dir))

    def load_split(self, name: str = DEFAULT_SPLIT, data_dir: str | Path | None = None) -> dict[str, list[int]]:
        """`{"train": [sample_index...], "test": [...]}` of the named split."""
        if name not in self.splits:
            raise DataError(f"task {self.key}: no split {name!r}; available: {', '.join(self.splits)}")
        return read_split_file(resolve_data_dir(data_dir) / "split" / f"{self.key}__{name}.json")

    def questions(self, split: str = "test", data_dir: str | Path | None = None, limit: int | None = None
                  ) -> list[dict]:
        """The samples of one part of the default split (or all of them), in split order, the first `limit`."""
        if split not in SPLITS:
            raise ConfigError(f"--split {split!r}: use one of {', '.join(SPLITS)}")
        dataset = self.load_dataset(data_dir)
        samples = dataset.select() if split == "all" else dataset.select(self.load_split(DEFAULT_SPLIT, data_dir)[split])
        return samples[:limit] if limit else samples

    def load_raw(self, path: str | Path | None = None, data_dir: str | Path | None = None) -> Dataset:
        """The task's Dataset rebuilt from the benchmark's original file (default: `<data_dir>/raw/<raw_path>`)."""
        if self.raw_format is None:
            raise DataError(f"task {self.key}: no original-format reader; load its Dataset file instead")
        if path is None:
            path = resolve_data_dir(data_dir) / "raw" / str(self.raw_path)
        rows = READERS[self.raw_format](Path(path))
        data = [{"sample_index": i, "question": r["question"], "answer": r["answer"]} for i, r in enumerate(rows)]
        return Dataset(dataset_key=self.key, data=data)

    def few_shot_prompt(self, data_dir: str | Path | None = None) -> str:
        """The paper's few-shot CoT exemplars for this task (`few_shot_cot_prompts.json`)."""
        path = resolve_data_dir(data_dir) / "few_shot_cot_prompts.json"
        prompts = read_json(path)
        if not isinstance(prompts, dict) or self.key not in prompts:
            raise DataError(f"{path}: no few-shot CoT exemplars for task {self.key}; fs_cot cannot be used with it")
        return prompts[self.key]["prompt"]

    # --- answers -----------------------------------------------------------------------------------

    def extract_answer(self, text: str, prefix: str | None = None) -> str | None:
        """The answer in a completion (first candidate; see `fcot.tasks.answers.extract` for `prefix`)."""
        return answers.extract(self.answer_type, text, self.choices, prefix)[0]

    def answer_candidates(
        self, text: str, prefix: str | None = None, strict: bool = False
    ) -> tuple[str | None, list[str]]:
        """(prediction, all candidates considered), as the paper's evaluator (or its strict variant) finds them."""
        return answers.extract(self.answer_type, text, self.choices, prefix, strict)

    def is_correct(self, prediction: str | None, gold: str, strict: bool = False) -> bool:
        """Whether an extracted prediction equals the gold answer (strict: every number task by value)."""
        return answers.same_answer(self.answer_type, prediction, gold, self.float_compare, strict)

    def answers_correctly(self, text: str, gold: str, prefix: str | None = None) -> bool:
        """Whether the answer extracted from a completion (after `prefix`, if given) is the gold one."""
        return self.is_correct(self.answer_candidates(text, prefix)[0], gold)


# --- registry -----------------------------------------------------------------------------------------

TASKS: dict[str, Task] = {}


def register_task(task: Task, replace: bool = False) -> Task:
    """Add a task to the registry under its key."""
    if task.key in TASKS and not replace:
        raise ConfigError(f"task {task.key!r} is already registered; pass replace=True or pick another key")
    TASKS[task.key] = task
    return task


def list_tasks() -> list[Task]:
    """Every registered task, in registration order."""
    return list(TASKS.values())


def get_task(key: str) -> Task:
    """The registered task with this key; unknown keys raise TaskNotFound with suggestions."""
    if key in TASKS:
        return TASKS[key]
    close = difflib.get_close_matches(key, TASKS, n=3, cutoff=0.5)
    hint = f"did you mean: {', '.join(close)}? " if close else ""
    raise TaskNotFound(f"unknown task {key!r}; {hint}available: {', '.join(TASKS)}")



# --- shortcuts taking a key or a Task -------------------------------------------------------------------


def as_task(task: str | Task) -> Task:
    """`task` itself, or the registered task with that key."""
    return task if isinstance(task, Task) else get_task(task)


def answer_trigger(task: str | Task) -> str:
    """The task's Zero-shot-CoT step-2 answer trigger."""
    return as_task(task).answer_trigger


def load_dataset(task: str | Task, data_dir: str | Path | None = None) -> Dataset:
    """The task's Dataset."""
    return as_task(task).load_dataset(data_dir)


def load_split(task: str | Task, name: str = DEFAULT_SPLIT, data_dir: str | Path | None = None) -> dict[str, list[int]]:
    """The task's named split."""
    return as_task(task).load_split(name, data_dir)


def extract_answer(task: str | Task, text: str, prefix: str | None = None) -> str | None:
    """The answer the task's extraction finds in text."""
    return as_task(task).extract_answer(text, prefix)


def is_correct(task: str | Task, prediction: str | None, gold: str) -> bool:
    """Whether the prediction equals the gold answer under the task's comparison."""
    return as_task(task).is_correct(prediction, gold)
