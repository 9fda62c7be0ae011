"""The 12 Fine-tune-CoT benchmarks and user tasks: data, splits, answer triggers, answer extraction.

    task = get_task("gsm8k")
    task.load_dataset(), task.load_split("default")["test"], task.extract_answer(" 18."), task.is_correct("18", "18")
"""

from __future__ import annotations

from fcot.tasks.answers import ANSWER_TYPES, EXTRACTION_VERSION
from fcot.tasks.builtin import BUILTIN_TASKS
from fcot.tasks.custom import CustomTask, load_custom_task, resolve_task
from fcot.tasks.task import (
    DEFAULT_SPLIT,
    Task,
    answer_trigger,
    as_task,
    extract_answer,
    get_task,
    is_correct,
    list_tasks,
    load_dataset,
    load_split,
    register_task,
    seeded_split,
)

__all__ = [
    "ANSWER_TYPES",
    "BUILTIN_TASKS",
    "CustomTask",
    "DEFAULT_SPLIT",
    "EXTRACTION_VERSION",
    "Task",
    "answer_trigger",
    "as_task",
    "extract_answer",
    "get_task",
    "is_correct",
    "list_tasks",
    "load_custom_task",
    "load_dataset",
    "load_split",
    "register_task",
    "resolve_task",
    "seeded_split",
]
