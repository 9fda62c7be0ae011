"""A persistent SQLite cache of completions, one row per (request, completion index).

Each response is committed as it arrives (WAL mode), so a crash or SIGKILL loses nothing received and a
re-run sends no request twice.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from fcot.errors import ConfigError, storage_guard
from fcot.formats import check_writable
from fcot.resources import cache_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY,
    prompt TEXT NOT NULL,
    completion_index INTEGER NOT NULL,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    key TEXT PRIMARY KEY,
    batch_id TEXT NOT NULL
);
"""


def default_cache_path() -> Path:
    """The completion cache `fcot teach` and `fcot eval --platform` share: `<fcot cache>/teacher-cache.sqlite3`."""
    return cache_dir() / "teacher-cache.sqlite3"


@dataclass(frozen=True)
class Choice:
    """One completion of a prompt, with the tokens it cost when it was received."""

    text: str
    finish_reason: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0


def request_key(identity: dict, prompt: str, sampling: dict, completion_index: int) -> str:
    """A stable hash of the backend identity, full prompt, sampling params and completion index."""
    return key_from_prefix(key_prefix(identity, sampling), prompt, completion_index)


def key_prefix(identity: dict, sampling: dict) -> str:
    """The part of a request key shared by every prompt sent with the same backend and sampling."""
    return json.dumps([identity, sampling], sort_keys=True, ensure_ascii=False)


def key_from_prefix(prefix: str, prompt: str, completion_index: int) -> str:
    """`request_key` from a precomputed `key_prefix`."""
    return hashlib.sha256(f"{prefix}\x00{completion_index}\x00{prompt}".encode("utf-8")).hexdigest()


class CompletionCache:
    """Completions on disk, safe to share between threads and processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        check_writable(self.path.parent, fix="pass another --cache")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{self.path}: cannot open the completion cache ({exc}); pass another --cache path") from exc
        self._lock = threading.Lock()

    def get(self, key: str) -> Choice | None:
        """The cached choice for key, or None."""
        with self._lock:
            row = self._db.execute("SELECT value FROM completions WHERE key = ?", (key,)).fetchone()
        return None if row is None else Choice(**json.loads(row[0]))

    def put(self, key: str, prompt: str, completion_index: int, choice: Choice) -> None:
        """Store one choice and commit at once."""
        value = json.dumps({"text": choice.text, "finish_reason": choice.finish_reason, "prompt_tokens":
                            choice.prompt_tokens, "completion_tokens": choice.completion_tokens}, ensure_ascii=False)
        with self._lock, storage_guard(self.path, "the teacher's completion cache", len(value) + len(prompt)):
            self._db.execute(
                "INSERT OR REPLACE INTO completions (key, prompt, completion_index, value) VALUES (?, ?, ?, ?)",
                (key, prompt, completion_index, value),
            )

    def prompts(self) -> set[str]:
        """Every prompt with at least one cached completion."""
        with self._lock:
            return {row[0] for row in self._db.execute("SELECT DISTINCT prompt FROM completions")}

    def get_batch(self, key: str) -> str | None:
        """The id of a submitted batch for this set of requests, if any."""
        with self._lock:
            row = self._db.execute("SELECT batch_id FROM batches WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def put_batch(self, key: str, batch_id: str | None) -> None:
        """Remember (or forget, with None) the batch submitted for this set of requests."""
        with self._lock:
            if batch_id is None:
                self._db.execute("DELETE FROM batches WHERE key = ?", (key,))
            else:
                self._db.execute("INSERT OR REPLACE INTO batches (key, batch_id) VALUES (?, ?)", (key, batch_id))

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
