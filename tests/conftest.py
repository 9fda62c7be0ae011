"""Fixtures shared by the whole suite: the reference data and a way to run the real `fcot` command."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FCOT_SHARED_DATA", REPO.parent / "shared" / "fcot-data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only reference copy of fcot-data (benchmarks, splits, raw files, teacher completions)."""
    assert (SHARED_DATA / "dataset").is_dir(), f"reference data not found at {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep fcot's cache per test session, away from the user's ~/.cache."""
    monkeypatch.setenv("FCOT_CACHE", str(tmp_path_factory.getbasetemp() / "fcot-cache"))


PRECISIONS = ["fp32", "bf16"]  # both numerical paths, whatever this CPU would pick (bf16 is emulated on AVX2)


@pytest.fixture(params=PRECISIONS, scope="module")
def forced_precision(request) -> str:
    """Run a module's tests once per precision by setting FCOT_PRECISION (honoured by `auto`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FCOT_PRECISION", request.param)
        yield request.param


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_fcot(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600) -> CliResult:
    """Run the real `fcot` command in a subprocess."""
    proc = subprocess.run(
        [sys.executable, "-m", "fcot", *map(str, args)],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200", **(env or {})},  # wide tables: no wrapped cells
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def fcot():
    """`fcot(*args)` runs the CLI end to end and returns code, stdout, stderr."""
    return run_fcot


@pytest.fixture
def one_thread():
    """Tiny models gain nothing from threads; more threads only wait on each other (the suite shares two cores)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory, shared_data) -> Path:
    """An `fcot train` run folder (multiarith, ft_cot_token, stop END) whose tiny model learnt ANSWERED questions."""
    from serve_helpers import multiarith_train
    from tiny_lm import ANSWERED, train_run

    from fcot.models import save_tiny_model

    samples = multiarith_train(shared_data, ANSWERED)
    path = save_tiny_model(tmp_path_factory.mktemp("tiny-run"), texts=tuple(s["question"] for s in samples))
    return train_run(path, "multiarith", samples)
