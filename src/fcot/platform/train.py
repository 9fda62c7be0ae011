"""`train_on_platform`: upload the training data, create (or re-attach to) the fine-tuning job, follow and record it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from fcot.curate import read_sidecar
from fcot.errors import PlatformError
from fcot.formats import finetune_data_path, model_metadata_path
from fcot.platform.api import (
    DEFAULT_POLL_INTERVAL,
    STOPPED,
    JobUpdate,
    api_call,
    find_job,
    follow_job,
    job_arguments,
    job_tags,
    upload_file,
)
from fcot.platform.data import (
    content_hash,
    convert_rows,
    format_for_model,
    jsonl_bytes,
    read_finetune_file,
    validation_path,
)
from fcot.platform.metadata import FileRecord, ModelMetadata, load_model_metadata, load_training_prices, record_job

log = logging.getLogger(__name__)


def _prepared(path: Path, base_model: str) -> tuple[bytes, FileRecord, str]:
    """Upload bytes, record (hash, examples) and format of a training file, converted to what the base model needs."""
    rows, data_format = read_finetune_file(path)
    wanted = format_for_model(base_model)
    if data_format != wanted:
        log.info("%s is in %s format; converting it to %s for %s", path, data_format, wanted, base_model)
        rows = convert_rows(rows, wanted)
    content = jsonl_bytes(rows)
    return content, FileRecord(path=str(path), sha256=content_hash(content), examples=len(rows)), wanted


def _upload(client: Any, path: Path, base_model: str, previous: FileRecord | None) -> FileRecord:
    """The file's record with its platform id, reusing an earlier upload of the same content."""
    content, record, _ = _prepared(path, base_model)
    known = previous.id if previous is not None and previous.sha256 == record.sha256 else None
    record.id = upload_file(client, content, path.name, record.sha256, known_id=known)
    return record


def _check_reattach(meta: ModelMetadata, base_model: str, sha: str, where: Path) -> None:
    if meta.base_model != base_model or (meta.training_file and meta.training_file.sha256 not in (None, sha)):
        raise PlatformError(f"{where}: records job {meta.job_id} for base model {meta.base_model} with other "
                            "training data; use another --finetune-key, or delete the file to start over")


def _start_job(root: Path, finetune_key: str, base_model: str, client: Any, train_path: Path, data_format: str,
               sha: str, previous: ModelMetadata | None, args: dict[str, Any]) -> tuple[ModelMetadata, Any]:
    """Upload the files (reusing earlier uploads) and create the job, or find one made for them; (record, job)."""
    info = read_sidecar(train_path)
    meta = ModelMetadata(finetune_key=finetune_key, base_url=str(client.base_url), base_model=base_model,
                         data_format=data_format, template=info.get("template"), dataset_key=info.get("dataset_key"))
    meta.training_file = _upload(client, train_path, base_model, previous.training_file if previous else None)
    validation = validation_path(train_path)
    if validation.exists():
        meta.validation_file = _upload(client, validation, base_model, previous.validation_file if previous else None)
    meta.save(root)
    job = find_job(client, finetune_key, sha, base_model)
    if job is not None:
        log.info("found fine-tuning job %s made for these files; re-attaching", job.id)
    else:
        if meta.validation_file is not None:
            args = {**args, "validation_file": meta.validation_file.id}
        with api_call("creating the fine-tuning job",
                      f"check --base-model {base_model!r} is a model the platform can fine-tune"):
            job = client.fine_tuning.jobs.create(model=base_model, training_file=meta.training_file.id,
                                                 metadata=job_tags(finetune_key, sha), **args)
        log.info("created fine-tuning job %s", job.id)
    return meta, job


def train_on_platform(
    root: str | Path,
    finetune_key: str,
    base_model: str,
    client: Any,
    hyperparameters: dict[str, Any] | None = None,
    suffix: str | None = None,
    seed: int | None = None,
    prices: dict[str, float] | None = None,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    wait: bool = True,
    on_update: Callable[[JobUpdate], None] | None = None,
    training_file: str | Path | None = None,
) -> ModelMetadata:
    """Upload the training data, create (or re-attach to) the fine-tuning job, follow it, and record the result.

    `on_update` sees every poll (status and new events); `wait=False` returns once the job exists.
    """
    root = Path(root)
    prices = prices if prices is not None else load_training_prices()
    train_path = Path(training_file) if training_file else finetune_data_path(root, "openai", finetune_key)
    where = model_metadata_path(root, finetune_key)
    _, train_record, data_format = _prepared(train_path, base_model)
    sha = train_record.sha256

    meta = load_model_metadata(root, finetune_key)
    if meta is not None and meta.job_id and meta.status not in STOPPED:
        _check_reattach(meta, base_model, sha, where)
        log.info("re-attaching to fine-tuning job %s recorded in %s", meta.job_id, where)
        job_id = meta.job_id
    else:
        args = job_arguments(hyperparameters or {}, suffix, seed)
        meta, job = _start_job(root, finetune_key, base_model, client, train_path, data_format, sha, meta, args)
        job_id = job.id
        record_job(meta, job.model_dump(), prices)
        meta.save(root)
    if not wait:
        return meta

    def update(seen: JobUpdate) -> None:
        changed = seen.job.get("status") != meta.status
        record_job(meta, seen.job, prices)
        if changed:
            meta.save(root)
        if on_update is not None:
            on_update(seen)

    final = follow_job(client, job_id, update, poll_interval=poll_interval)
    record_job(meta, final.model_dump(), prices)
    meta.save(root)
    if meta.status == "failed":
        error = meta.error or {}
        raise PlatformError(f"fine-tuning job {job_id} failed ({error.get('code') or 'no code'}: "
                            f"{error.get('message') or 'no message'}); {where} records it; fix the cause and re-run")
    if meta.status == "cancelled":
        raise PlatformError(f"fine-tuning job {job_id} was cancelled; re-run fcot train to start a new job")
    return meta
