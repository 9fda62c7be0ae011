"""The `fcot` command: one verb per pipeline stage, each in its own module under `fcot.cli`.

Verb modules import heavy libraries (torch, transformers) inside their functions, so `fcot --help` stays fast.
Every `FcotError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from fcot.errors import FcotError

app = typer.Typer(
    name="fcot",
    help="Fine-tune-CoT: distil step-by-step reasoning from a large teacher into a small student.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

# Verb modules, in pipeline order; each registers its commands on `app` when imported.
VERB_MODULES = ["tasks", "teach", "curate", "train", "eval", "evaluate", "report", "run", "serve", "export"]


def _version(value: bool) -> None:
    if value:
        from fcot import __version__

        typer.echo(f"fcot {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Fine-tune-CoT: distil step-by-step reasoning from a large teacher into a small student."""


def _register_verbs() -> None:
    for name in VERB_MODULES:
        try:
            importlib.import_module(f"fcot.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"fcot.cli.{name}":
                raise


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `fcot` console script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _register_verbs()
    try:
        app(args=argv)  # typer reports usage errors itself (exit 2)
    except FcotError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
