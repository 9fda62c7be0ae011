"""Run the `fcot` command line inside the test process (fast, and monkeypatches reach it)."""

from __future__ import annotations

from fcot.cli import main


def run_cli(argv: list[str], capsys) -> tuple[int | str, str]:
    """Exit code (or the exception that escaped) and stderr of `fcot <argv>` run in this process."""
    try:
        main(argv)
        code: int | str = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:  # noqa: BLE001 - an escaped exception is what the tests guard against
        code = f"{type(exc).__name__}: {exc}"
    return code, capsys.readouterr().err
