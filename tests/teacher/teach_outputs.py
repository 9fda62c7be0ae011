"""Read what a teach run wrote."""

from __future__ import annotations

import json
from pathlib import Path


def output(out: Path, model: str, task: str, key: str = "zs_cot") -> dict:
    """The CompletionDataset JSON a teach run wrote."""
    path = out / "completion_data" / f"B_{model}__C_{key}" / f"D_{task}.json"
    return json.loads(path.read_text(encoding="utf-8"))
