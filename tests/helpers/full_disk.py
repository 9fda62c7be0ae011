"""The one line a verb prints when the disk fills: checked the same way for every write."""

from __future__ import annotations

import errno
import re

from in_process import run_cli


def no_space(*args, **kwargs):
    """Raise what a write raises on a full disk."""
    raise OSError(errno.ENOSPC, "No space left on device")


def one_storage_error(argv: list[str], capsys) -> str:
    """Run `fcot <argv>` in this process; its one `error:` line (exit 2, no traceback, last on stderr), which names
    the size needed and free and ends with the command that resumes."""
    capsys.readouterr()
    code, err = run_cli(argv, capsys)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and "Traceback" not in err and errors == err.strip().splitlines()[-1:], err
    line = errors[0]
    assert line.endswith("then resume with: fcot " + " ".join(argv)), line
    assert re.search(r"needs about [\d,.]+ [KM]B, [\d,.]+ [KM]B are free", line), line
    return line
