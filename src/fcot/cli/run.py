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
                                                 help="Experiment YAML; default: the bundled CPU demo."),
    overrides: Optional[list[str]] = typer.Option(None, "--set", "-s", metavar="SECTION.FIELD=VALUE",
                                                  help="Override a config value, e.g. --set student.epochs=2."),
    show_config: bool = typer.Option(False, "--show-config", help="Print the resolved config and exit."),
    threads: Optional[int] = ThreadsOption,
) -> None:
    """Teacher → curate → train → evaluate → report; re-running resumes finished stages."""
    from fcot.config import load_config

    config = load_config(config_file or bundled_config(), overrides)
    if show_config:
        console.print(config.to_yaml(), highlight=False, markup=False)
        raise typer.Exit()
    from fcot.pipeline import run_experiment

    on_interrupt(f"finished stages and partial answers are saved under {config.root}")
    quiet_libraries()
    set_threads(threads)
    started = time.monotonic()

    def notify(message: str) -> None:
        console.print(f"[dim]{time.monotonic() - started:6.0f}s[/dim] {escape(message)}", highlight=False)

    with TrainProgress(True) as train_progress:
        experiment = run_experiment(config, notify, train_progress)
    print_results(experiment.results, f"Fine-tune-CoT: {config.name}")
    for name, path in experiment.files.items():
        console.print(f"{name}: {path}", highlight=False)
    console.print(f"done in {time.monotonic() - started:.0f} s; everything is under {config.root}", highlight=False)
