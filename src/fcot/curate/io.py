"""Where curated samples come from (completion files, folders, task keys) and where they go (JSONL + sidecar).

Output: `<out>/finetune_data/P_<model_type>/F_<finetune_key>.jsonl`, one `{"sample_index", "completion_index",
"input", "label", "prompt", "completion"}` per line, and `F_<finetune_key>.curate.json` with the config and stats.
"""

from __future__ import annotations

from pathlib import Path

from fcot.curate.samples import CurateResult
from fcot.errors import DataError
from fcot.formats import (CompletionDataset, Dataset, completion_path, finetune_data_path, read_json, write_json,
                          write_jsonl)
from fcot.resources import RECORDED_TEACHER
from fcot.resources import data_dir as resolve_data_dir
from fcot.tasks import get_task
from fcot.templates import TEMPLATES

SIDECAR_SUFFIX = ".curate.json"


def curated_path(out_dir: str | Path, result: CurateResult) -> Path:
    """`<out>/finetune_data/P_<model_type>/F_<finetune_key>.jsonl`."""
    return finetune_data_path(out_dir, result.stats.model_type, result.finetune_key)


def sidecar_path(path: str | Path) -> Path:
    """The config-and-stats file next to a curated JSONL (`F_x.jsonl` -> `F_x.curate.json`)."""
    path = Path(path)
    return path.with_name(path.stem + SIDECAR_SUFFIX)


def write_curated(result: CurateResult, path: str | Path) -> Path:
    """Write the samples as JSONL and the config + stats sidecar, both atomically; returns the JSONL path."""
    path = Path(path)
    write_jsonl(path, result.samples)
    write_json(sidecar_path(path), {**result.config, "samples": len(result.samples), "stats": result.stats.to_json()})
    return path


def read_sidecar(path: str | Path) -> dict:
    """The curation config next to a curated JSONL ({} when there is none, as for the paper's files)."""
    side = sidecar_path(path)
    raw = read_json(side) if side.exists() else {}
    return raw if isinstance(raw, dict) else {}


def load_sources(source: str | Path, template: str, data_dir: str | Path | None = None
                 ) -> list[CompletionDataset | Dataset]:
    """Completion datasets (or Datasets for ft_token) named by a file, a folder of `D_*.json`, or a task key."""
    path = Path(source)
    if path.is_dir():
        files = sorted(path.glob("D_*.json")) or sorted(path.glob("*.json"))
        if not files:
            raise DataError(f"{path}: no completion files (D_<task>.json) in this folder")
        return [_load_file(f) for f in files]
    if path.exists():
        return [_load_file(path)]
    if path.suffix or "/" in str(source):
        raise DataError(f"{path}: no such file or folder; pass a completions file, a folder of them or a task key")
    task = get_task(str(source))
    root = resolve_data_dir(data_dir)
    if template in TEMPLATES and TEMPLATES[template].gold_labels:
        return [task.load_dataset(root)]
    bundled = completion_path(root, RECORDED_TEACHER, "zs_cot", task.key)
    if not bundled.exists():
        raise DataError(f"task {task.key}: no recorded teacher completions at {bundled}; run `fcot teach` first")
    return [CompletionDataset.load(bundled)]


def _load_file(path: Path) -> CompletionDataset | Dataset:
    raw = read_json(path)
    if isinstance(raw, dict) and isinstance(raw.get("data"), list):
        return Dataset.from_json(raw, where=str(path))
    return CompletionDataset.from_json(raw, where=str(path))
