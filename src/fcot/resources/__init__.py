"""The benchmark data shipped inside the package, and where fcot looks for data.

The bundle holds the 12 benchmarks (`dataset/`), their splits (`split/`), the few-shot CoT prompts and the
recorded text-davinci-002 Zero-shot-CoT completions (`completion_data/`), in the paper's layout. It is
unpacked once into a cache folder. `FCOT_DATA_DIR` (or `--data-dir`) points fcot at another copy.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path

from fcot.errors import DataError
from fcot.formats import check_writable

BUNDLE = Path(__file__).with_name("fcot-data.tar.xz")
ENV_VAR = "FCOT_DATA_DIR"
RECORDED_TEACHER = "text-davinci-002"  # the teacher whose Zero-shot-CoT completions ship with the data
ONLINE_ENV = "FCOT_ONLINE"  # 1: let transformers download models from the Hugging Face hub


def cache_dir() -> Path:
    """fcot's cache folder (`$FCOT_CACHE`, else `$XDG_CACHE_HOME/fcot`, else `~/.cache/fcot`)."""
    if os.environ.get("FCOT_CACHE"):
        return Path(os.environ["FCOT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fcot"


def offline_by_default() -> None:
    """Keep the Hugging Face hub offline (HF_HUB_OFFLINE=1) unless FCOT_ONLINE=1; call before importing it."""
    if os.environ.get(ONLINE_ENV, "").lower() not in ("1", "true", "yes") and not os.environ.get("HF_HUB_OFFLINE"):
        os.environ["HF_HUB_OFFLINE"] = "1"


def hub_offline() -> bool:
    """Whether the Hugging Face hub may not be contacted (HF_HUB_OFFLINE set)."""
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def data_dir(override: str | Path | None = None) -> Path:
    """The data root: `override`, else `$FCOT_DATA_DIR`, else the unpacked bundle."""
    chosen = override or os.environ.get(ENV_VAR)
    if chosen:
        root = Path(chosen)
        if not (root / "dataset").is_dir():
            raise DataError(f"{root}: no dataset/ folder; point --data-dir or {ENV_VAR} at an fcot-data copy")
        return root
    return _unpacked_bundle()


def _unpacked_bundle() -> Path:
    digest = hashlib.sha256(BUNDLE.read_bytes()).hexdigest()[:12]
    root = cache_dir() / f"data-{digest}"
    if (root / ".complete").exists():
        return root
    check_writable(root.parent, fix="set FCOT_CACHE to a writable folder")
    tmp = root.with_name(root.name + f".tmp{os.getpid()}")
    with tarfile.open(BUNDLE) as tar:
        tar.extractall(tmp, filter="data")
    (tmp / ".complete").touch()
    try:
        tmp.rename(root)
    except OSError:  # another process unpacked it first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return root
