"""fcot's exceptions: one root, subclasses named for what the user must fix.

    FcotError
    ├── ConfigError      a config file, flag or option is wrong
    ├── DataError        a data file is missing, malformed or lacks a field
    │   ├── TaskNotFound an unknown task key
    │   └── NoTrainingSamples no completion passed curation
    ├── TeacherError     the teacher endpoint failed for good (after retries)
    │   ├── RequestFailed   one request failed for good; the others may still succeed
    │   └── EndpointFailed  the endpoint can serve no request: the run stops
    ├── ModelError       a model path or model type cannot be used
    │   ├── ContextTooLong  a prompt plus its completion does not fit the model's context
    │   └── EmptyPrompt     a prompt without tokens
    ├── PlatformError    a hosted fine-tuning API rejected a file or a job failed
    └── StorageError     a write failed for lack of space or an I/O error: nothing written before is lost

Messages are one line: the thing, the problem, and the fix.
"""

from __future__ import annotations

import contextlib
import errno
import math
import shutil
import sqlite3
from pathlib import Path
from typing import Callable, Iterator


def field_problems(errors: list[dict], label: Callable[[dict], str] | None = None) -> list[str]:
    """`where: message` for each problem of a pydantic `ValidationError.errors()`; `where` is the dotted field
    (`config` for the whole) unless `label` names it otherwise."""
    def where(error: dict) -> str:
        return ".".join(map(str, error["loc"])) or "config"

    return [f"{(label or where)(e)}: {e['msg'].removeprefix('Value error, ')}" for e in errors]


STORAGE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG)  # what freeing space (or a disk) fixes


class FcotError(Exception):
    """Root of every error fcot raises on purpose."""


class ConfigError(FcotError):
    """A config value, flag or option is wrong."""


class DataError(FcotError):
    """A data file is missing, malformed or lacks a field."""


class TaskNotFound(DataError):
    """An unknown task key."""


class NoTrainingSamples(DataError):
    """Curation kept no completion: none is correct (or all are too long or duplicates)."""


class TeacherError(FcotError):
    """The teacher endpoint failed permanently."""


class RequestFailed(TeacherError):
    """One request failed for good (after retries); other requests may still succeed."""


class EndpointFailed(TeacherError):
    """The endpoint cannot serve any request (unreachable, key rejected, unknown model): stop the run."""


class MalformedResponse(Exception):
    """A teacher endpoint answered 200 with a body that is not a completion (retried, then a RequestFailed)."""


class ModelError(FcotError):
    """A model path or model type cannot be used."""


class ContextTooLong(ModelError):
    """A prompt plus max_tokens does not fit in the model's context."""


class EmptyPrompt(ModelError):
    """A prompt with no tokens: there is nothing to continue."""


class PlatformError(FcotError):
    """A hosted fine-tuning platform rejected a request or a job failed."""


class StorageError(FcotError):
    """A write failed: the disk is full, a quota is reached, or an I/O error; the CLI adds the resume command."""


def is_storage_failure(exc: BaseException) -> bool:
    """Whether an exception is a full disk or an I/O error, as OSError, as SQLite or as torch's writer reports it."""
    if isinstance(exc, OSError):
        return exc.errno in STORAGE_ERRNOS
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError):
        return any(m in text for m in ("disk is full", "disk I/O error"))
    return isinstance(exc, RuntimeError) and any(m in text for m in ("unexpected pos", "file write failed",
                                                                     "No space left on device"))


def free_bytes(path: str | Path) -> int:
    """Free space on the filesystem that holds path (or would hold it)."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


@contextlib.contextmanager
def storage_guard(path: str | Path, what: str, size: float | None = None, note: str = "") -> Iterator[None]:
    """Turn a full disk or an I/O error while writing `what` to path into one StorageError naming the path, what
    was being written, about how much it needs and how much is free (the CLI adds the command that resumes)."""
    try:
        yield
    except BaseException as exc:
        if not is_storage_failure(exc):
            raise
        why = getattr(exc, "strerror", None) or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        need = f"; it needs about {_megabytes(size)}" if size else ""
        raise StorageError(f"{path}: {what} could not be written ({why}){need}, {_megabytes(free_bytes(path))} "
                           f"are free{note}") from exc


def _megabytes(size: float) -> str:
    return f"{size / 1e6:,.1f} MB" if size >= 1e5 else f"{max(math.ceil(size / 1e3), 1):,} KB"
