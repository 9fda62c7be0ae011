"""`fcot tasks`: the benchmarks fcot knows, with their sizes, splits and answer types."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from fcot.cli import app
from fcot.cli.common import DataDirOption, console
from fcot.tasks.task import DEFAULT_SPLIT


def task_rows(data_dir: Path | None) -> list[dict]:
    """One summary row per registered task, reading its Dataset and split files."""
    from fcot.tasks import EXTRACTION_VERSION, list_tasks
    from fcot.templates import TEMPLATES_VERSION

    rows = []
    for task in list_tasks():
        splits = {name: task.load_split(name, data_dir) for name in task.splits}
        rows.append({
            "key": task.key,
            "size": len(task.load_dataset(data_dir)),
            "splits": {name: {"train": len(s["train"]), "test": len(s["test"])} for name, s in splits.items()},
            "answer_type": task.answer_type,
            "answer_trigger": task.answer_trigger,
            "description": task.description,
            "versions": {"task": task.version, "extraction": EXTRACTION_VERSION, "templates": TEMPLATES_VERSION},
        })
    return rows


@app.command()
def tasks(
    data_dir: Optional[Path] = DataDirOption,
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON instead of a table."),
) -> None:
    """List the 12 Fine-tune-CoT benchmarks: key, size, train/test split sizes, answer type and trigger."""
    rows = task_rows(data_dir)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Fine-tune-CoT tasks (train/test sizes per split; --json adds answer triggers)")
    for name in ("key", "size", "default split", "template split", "answer type"):
        table.add_column(name, justify="left" if name in ("key", "answer type") else "right", no_wrap=name == "key")
    for row in rows:
        sizes = {name: f"{s['train']}/{s['test']}" for name, s in row["splits"].items()}
        table.add_row(row["key"], str(row["size"]), sizes[DEFAULT_SPLIT], sizes.get("template", "—"),
                      row["answer_type"])
    console.print(table)
