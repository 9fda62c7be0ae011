"""`fcot run`: the whole Fine-tune-CoT pipeline from one YAML config (default: the bundled CPU demo)."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import typer
from rich.markup import escape

from fcot.cli import app
from fcot.cli.common import (Optional, ThreadsOption, TrainProgress, console, on_interrupt, print_results,
                             quiet_libraries, set_threads)

DEMO_CONFIG = "demo.yaml"


def bundled_config(name: str = DEMO_CONFIG) -> Path:
    """Path of a config shipped in `fcot/configs/`."""
    return Path(str(resources.files("fcot.configs").joinpath(name)))


@app.command()
def run(
    config_file: Optional[Path] = typer.Argument(None, metavar="[CONFIG]",
                                                 help="Experiment YAML, or a bundled one by name: demo.yaml (the "
                                                 "default, a CPU demo) or paper.yaml (the paper's recipe)."),
    overrides: Optional[list[str]] = typer.Option(None, "--set", "-s", metavar="SECTION.FIELD=VALUE",
                                                  help="Override a config value, e.g. --set student.epochs=2."),
    show_config: bool = typer.Option(False, "--show-config", help="Print the resolved config and exit."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the sweep's points (or the one run) and what each "
                                 "will cost: teacher requests and dollars, students trained, test answers."),
    threads: Optional[int] = ThreadsOption,
) -> None:
    """Teacher → curate → train → evaluate → report; re-running resumes finished stages."""
    from fcot.config import load_config

    if config_file is not None and not config_file.exists() and bundled_config(config_file.name).exists():
        config_file = bundled_config(config_file.name)
    config = load_config(config_file or bundled_config(), overrides)
    if show_config:
        console.print(config.to_yaml(), highlight=False, markup=False)
        raise typer.Exit()
    if dry_run:
        _print_plan(config)
        raise typer.Exit()
    from fcot.pipeline import run_experiment
    from fcot.report.render import time_split
    from fcot.sweep import run_sweep

    on_interrupt(f"finished stages and partial answers are saved under {config.root}")
    quiet_libraries()
    set_threads(threads)
    started = time.monotonic()

    def notify(message: str) -> None:
        console.print(f"[dim]{time.monotonic() - started:6.0f}s[/dim] {escape(message)}", highlight=False)

    with TrainProgress(True) as train_progress:
        experiment = (run_sweep if config.sweep else run_experiment)(config, notify, train_progress)
    print_results(experiment.results, f"Fine-tune-CoT: {config.name}")
    for name, path in experiment.files.items():
        console.print(f"{name}: {path}", highlight=False)
    total = time.monotonic() - started
    console.print(time_split(experiment.results, total), highlight=False)
    console.print(f"done in {total:.0f} s; everything is under {config.root}", highlight=False)


def _print_plan(config) -> None:
    from rich.table import Table

    from fcot.sweep import plan

    rows = plan(config)
    table = Table(title=f"{config.name}: {len({r.point for r in rows})} point(s), nothing run yet")
    for column in ("point", "task", "teacher requests", "teacher $ (at most)", "train questions", "students",
                   "epochs", "test answers"):
        table.add_column(column, justify="left" if column in ("point", "task") else "right")
    for r in rows:
        usd = "unknown price" if r.teacher_usd is None else f"{r.teacher_usd:.2f}"
        table.add_row(r.point, r.task, f"{r.teacher_requests:,}", usd, str(r.train_questions), str(r.students),
                      "—" if r.epochs is None else f"{r.epochs:g}", f"{r.test_answers:,}")
    console.print(table)
    console.print(f"teacher requests {sum(r.teacher_requests for r in rows):,} (recorded teachers and questions an "
                  f"earlier point asked cost none); students {sum(r.students for r in rows)}; test answers "
                  f"{sum(r.test_answers for r in rows):,}", highlight=False)
