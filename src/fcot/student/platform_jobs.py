"""Talk to an OpenAI-compatible fine-tuning API: client, uploads keyed on content hash, jobs, and their metadata.

`model_metadata/F_<finetune_key>.json` records the job (id, base model, files, status, fine-tuned model name,
hyperparameters, trained tokens, cost), so an interrupted `fcot train` re-attaches instead of paying twice.
The paper's own `openai_metadata/{file,finetune,model}_ids.json` are read as a fallback.
"""

from __future__ import annotations

import logging
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from pydantic import BaseModel, ConfigDict, ValidationError

from fcot.errors import ConfigError, DataError, PlatformError
from fcot.formats import model_metadata_path, read_json, write_json

log = logging.getLogger(__name__)

API_KEY_ENV = "OPENAI_API_KEY"
TERMINAL = ("succeeded", "failed", "cancelled")
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


# --- client and errors ---------------------------------------------------------------------------------


def make_client(base_url: str | None = None, api_key: str | None = None, timeout: float = 60.0,
                max_retries: int = 3) -> Any:
    """An `openai.OpenAI` client for any OpenAI-compatible base URL; the key comes from `OPENAI_API_KEY`."""
    import openai

    key = api_key or os.environ.get(API_KEY_ENV)
    if not key:
        raise PlatformError(f"no API key: set {API_KEY_ENV} in the environment (it is never written to disk)")
    return openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=max_retries)


def _message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    text = body.get("message") if isinstance(body, dict) and body.get("message") else str(exc)
    return " ".join(str(text).split())


@contextmanager
def api_call(action: str, fix: str = "") -> Iterator[None]:
    """Turn the client's exceptions into one-line PlatformErrors saying what was being done."""
    import openai

    hint = f"; {fix}" if fix else ""
    try:
        yield
    except openai.AuthenticationError as exc:
        raise PlatformError(f"{action}: the API key was rejected ({_message(exc)}); check {API_KEY_ENV}") from exc
    except openai.APIStatusError as exc:
        raise PlatformError(f"{action}: HTTP {exc.status_code}: {_message(exc)}{hint}") from exc
    except openai.APIConnectionError as exc:
        raise PlatformError(f"{action}: cannot reach the API ({_message(exc)}); check --base-url and the network"
                            ) from exc


# --- files ---------------------------------------------------------------------------------------------


def upload_file(client: Any, content: bytes, name: str, sha256: str, known_id: str | None = None) -> str:
    """The id of a fine-tune file with this content: the known one, one already uploaded, or a new upload."""
    tag = f"-{sha256[:16]}.jsonl"
    if known_id:
        with api_call(f"checking uploaded file {known_id}"):
            import openai

            try:
                found = client.files.retrieve(known_id)
            except openai.NotFoundError:
                found = None
        if found is not None and found.bytes == len(content) and found.status != "error":
            log.info("reusing uploaded file %s", known_id)
            return known_id
    with api_call("listing uploaded files"):
        for f in client.files.list(purpose="fine-tune"):
            if f.filename and f.filename.endswith(tag) and f.bytes == len(content) and f.status != "error":
                log.info("reusing uploaded file %s (%s)", f.id, f.filename)
                return f.id
    with api_call(f"uploading {name}", "fix the file (at least 10 valid examples) and re-run"):
        uploaded = client.files.create(file=(f"{Path(name).stem}{tag}", content), purpose="fine-tune")
    log.info("uploaded %s as %s", name, uploaded.id)
    return uploaded.id


# --- jobs --------------------------------------------------------------------------------------------


@dataclass
class JobUpdate:
    """What one poll saw: the job's fields and the events that are new since the last poll (oldest first)."""

    job: dict
    events: list[dict] = field(default_factory=list)


def job_tags(finetune_key: str, training_sha256: str) -> dict[str, str]:
    """Metadata attached to the job so an interrupted run can find it again."""
    return {"fcot_finetune_key": finetune_key[:512], "fcot_training_sha256": training_sha256[:64]}


def find_job(client: Any, finetune_key: str, training_sha256: str, base_model: str) -> Any | None:
    """The newest job made for this key, data and base model that has not failed or been cancelled."""
    tags = job_tags(finetune_key, training_sha256)
    with api_call("listing fine-tuning jobs"):
        for job in client.fine_tuning.jobs.list(metadata={"fcot_finetune_key": tags["fcot_finetune_key"]}, limit=50):
            tagged = all((job.metadata or {}).get(k) == v for k, v in tags.items())
            if tagged and job.model == base_model and job.status not in ("failed", "cancelled"):
                return job
    return None


def job_arguments(hyperparameters: dict[str, Any], suffix: str | None, seed: int | None) -> dict[str, Any]:
    """Optional arguments of the create call: the supervised method with the given hyperparameters."""
    args: dict[str, Any] = {}
    hyper = {k: v for k, v in hyperparameters.items() if v is not None}
    if hyper:
        args["method"] = {"type": "supervised", "supervised": {"hyperparameters": hyper}}
    if suffix:
        if len(suffix) > 64:
            raise ConfigError(f"--suffix {suffix!r} is longer than 64 characters; shorten it")
        args["suffix"] = suffix
    if seed is not None:
        args["seed"] = seed
    return args


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


def new_events(client: Any, job_id: str, seen: set[str]) -> list[dict]:
    """Events not seen before, oldest first."""
    with api_call(f"reading events of {job_id}"):
        page = client.fine_tuning.jobs.list_events(job_id, limit=100)
        events = [e for e in page.data if e.id not in seen]
    seen.update(e.id for e in events)
    return [e.model_dump() for e in reversed(events)]


def follow_job(
    client: Any,
    job_id: str,
    on_update: Callable[[JobUpdate], None] | None = None,
    poll_interval: float = 10.0,
) -> Any:
    """Poll a job until it ends, reporting status and new events; returns the final job object."""
    seen: set[str] = set()
    while True:
        with api_call(f"reading fine-tuning job {job_id}"):
            job = client.fine_tuning.jobs.retrieve(job_id)
        if on_update is not None:
            on_update(JobUpdate(job=job.model_dump(), events=new_events(client, job_id, seen)))
        if job.status in TERMINAL:
            return job
        time.sleep(poll_interval)


def cancel_job(client: Any, job_id: str) -> Any:
    """Ask the platform to cancel a job."""
    with api_call(f"cancelling fine-tuning job {job_id}"):
        return client.fine_tuning.jobs.cancel(job_id)


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
