"""The `fcot` command: one verb per pipeline stage, each in its own module under `fcot.cli`.

Verb modules import heavy libraries (torch, transformers) inside their functions, so `fcot --help` stays fast.
Every `FcotError` and every usage error becomes one `error:` line on stderr and exit code 2; Ctrl-C says
what was saved and how to resume, with exit code 130.
"""

from __future__ import annotations

import importlib
import logging
import shlex
import sys

import typer

from fcot.cli.common import interrupt_note
from fcot.errors import FcotError, StorageError, is_storage_failure
from fcot.resources import offline_by_default

app = typer.Typer(
    name="fcot",
    help="Fine-tune-CoT: distil step-by-step reasoning from a large teacher into a small student.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

# Verb modules, in pipeline order; each registers its commands on `app` when imported.
VERB_MODULES = ["tasks", "teach", "curate", "train", "eval", "score", "report", "run", "serve", "export"]
INTERRUPTED = 130  # typer's exit code for Ctrl-C (128 + SIGINT)
_click_errors = sys.modules[typer.BadParameter.__module__]  # click's exceptions (recent typer vendors click)


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
    offline_by_default()
    _register_verbs()
    argv = sys.argv[1:] if argv is None else list(argv)
    interrupt_note.clear()
    try:
        code = app(args=argv, prog_name="fcot", standalone_mode=False)
    except getattr(_click_errors, "NoArgsIsHelpError", ()) as exc:  # bare `fcot` (click >= 8.2)
        typer.echo(exc.ctx.get_help())
        sys.exit(0)
    except _click_errors.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "fcot"
        typer.echo(f"error: {exc.format_message().rstrip('.')}; see '{where} --help'", err=True)
        sys.exit(2)
    except typer.Abort:  # end of input at a prompt
        sys.exit(1)
    except StorageError as exc:
        typer.echo(f"error: {exc}; free some space, then resume with: {shlex.join(['fcot', *argv])}", err=True)
        sys.exit(2)
    except FcotError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        if not is_storage_failure(exc):
            raise
        where = exc.filename or "a file"
        typer.echo(f"error: {where}: cannot write it ({exc.strerror}); free some space, then resume with: "
                   f"{shlex.join(['fcot', *argv])}", err=True)
        sys.exit(2)
    if code == INTERRUPTED:
        saved = interrupt_note.get("saved", "nothing is half-written (every write is atomic)")
        typer.echo(f"interrupted: {saved}; resume with: {shlex.join(['fcot', *argv])}", err=True)
    sys.exit(code or 0)
