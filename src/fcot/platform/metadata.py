"""`model_metadata/F_<finetune_key>.json`: what a hosted fine-tuning job was given and what it produced.

The record (job id, base model, files, status, fine-tuned model name, hyperparameters, trained tokens, cost) lets
an interrupted `fcot train` re-attach instead of paying twice. The paper's own
`openai_metadata/{file,finetune,model}_ids.json` are read as a fallback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from fcot.errors import ConfigError, DataError
from fcot.formats import model_metadata_path, read_json, write_json

# US dollars per 1M training tokens; extend or override with a JSON file ({"model": dollars}).
TRAINING_PRICES: dict[str, float] = {
    "gpt-4.1-nano": 1.5,
    "gpt-4.1-mini": 5.0,
    "gpt-4.1": 25.0,
    "gpt-4o-mini": 3.0,
    "gpt-4o": 25.0,
    "gpt-3.5-turbo": 8.0,
    "davinci-002": 6.0,
    "babbage-002": 0.4,
    "ada": 0.4,  # the paper's students, at their 2022 prices ($0.0004 / 1K tokens)
    "babbage": 0.6,
    "curie": 3.0,
}


class FileRecord(BaseModel):
    """One uploaded file: where it came from, its content hash and its id on the platform."""

    model_config = ConfigDict(extra="allow")
    path: str | None = None
    sha256: str | None = None
    examples: int | None = None
    id: str | None = None


class ModelMetadata(BaseModel):
    """`model_metadata/F_<finetune_key>.json`: one hosted fine-tuning job and what it produced."""

    model_config = ConfigDict(extra="allow")
    finetune_key: str
    platform: str = "openai"
    base_url: str | None = None  # never the API key
    base_model: str | None = None
    data_format: str | None = None  # "chat" or "completion"
    template: str | None = None  # the prediction template the data was curated with (from the sidecar)
    dataset_key: str | None = None
    training_file: FileRecord | None = None
    validation_file: FileRecord | None = None
    job_id: str | None = None
    status: str | None = None  # validating_files, queued, running, succeeded, failed, cancelled
    fine_tuned_model: str | None = None
    hyperparameters: dict[str, Any] = {}
    trained_tokens: int | None = None
    price_per_1m_training_tokens: float | None = None
    estimated_cost_usd: float | None = None
    error: dict[str, Any] | None = None
    created_at: int | None = None
    finished_at: int | None = None

    def save(self, root: str | Path) -> Path:
        """Write the record atomically to `model_metadata/F_<finetune_key>.json` under root."""
        return write_json(model_metadata_path(root, self.finetune_key), self.model_dump(mode="json"))


def load_model_metadata(root: str | Path, finetune_key: str) -> ModelMetadata | None:
    """Our record of a fine-tune, else one built from the paper's `openai_metadata/` files, else None."""
    path = model_metadata_path(root, finetune_key)
    if path.exists():
        try:
            return ModelMetadata.model_validate(read_json(path))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise DataError(f"{path}: field {'.'.join(map(str, first['loc']))}: {first['msg']}; fix or delete the "
                            "file") from exc
    return _paper_metadata(Path(root), finetune_key)


def _paper_metadata(root: Path, key: str) -> ModelMetadata | None:
    """The paper's `openai_metadata/` maps: file_ids by finetune key, finetune_ids/model_ids by model key."""
    folder = root / "openai_metadata"
    maps = {}
    for name in ("file_ids", "finetune_ids", "model_ids"):
        path = folder / f"{name}.json"
        maps[name] = read_json(path) if path.exists() else {}
        if not isinstance(maps[name], dict):
            raise DataError(f"{path}: expected a JSON object of key -> id")
    if not any(key in m for m in maps.values()):
        return None
    base = re.match(r"B_(.+?)__D_", key)
    model_id = maps["model_ids"].get(key)
    file_id = maps["file_ids"].get(key)
    return ModelMetadata(
        finetune_key=key, base_model=base.group(1) if base else None, job_id=maps["finetune_ids"].get(key),
        fine_tuned_model=model_id, status="succeeded" if model_id else None,
        data_format="completion", training_file=FileRecord(id=file_id) if file_id else None,
    )


def record_job(meta: ModelMetadata, job: dict, prices: dict[str, float]) -> None:
    """Copy a job's current fields (as a dict) into the metadata, with the cost once tokens are known."""
    meta.job_id, meta.status = job["id"], job["status"]
    meta.fine_tuned_model = job.get("fine_tuned_model") or meta.fine_tuned_model
    meta.created_at, meta.finished_at = job.get("created_at"), job.get("finished_at")
    meta.hyperparameters = {k: v for k, v in (job.get("hyperparameters") or {}).items() if v is not None}
    meta.trained_tokens = job.get("trained_tokens")
    price = training_price(job["model"], prices)
    meta.price_per_1m_training_tokens = price
    if price is not None and meta.trained_tokens is not None:
        meta.estimated_cost_usd = round(meta.trained_tokens * price / 1e6, 6)
    error = job.get("error")
    meta.error = error if isinstance(error, dict) and error.get("message") else None


def load_training_prices(path: str | Path | None = None) -> dict[str, float]:
    """The default training price table, updated from a JSON file of {"model": dollars per 1M tokens}."""
    table = dict(TRAINING_PRICES)
    if path is None:
        return table
    raw = read_json(path)
    if not isinstance(raw, dict) or not all(isinstance(v, (int, float)) for v in raw.values()):
        raise ConfigError(f'{path}: expected {{"model": dollars_per_1M_training_tokens}}')
    table.update({k: float(v) for k, v in raw.items()})
    return table


def training_price(base_model: str, prices: dict[str, float]) -> float | None:
    """Dollars per 1M training tokens for a base model (exact name, else the longest matching prefix)."""
    name = base_model.split("/")[-1]
    if name in prices:
        return prices[name]
    prefixes = [k for k in prices if name.startswith(k)]
    return prices[max(prefixes, key=len)] if prefixes else None
