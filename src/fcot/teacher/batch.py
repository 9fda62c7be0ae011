"""The OpenAI Batch API (`/v1/files` + `/v1/batches`): JSONL in, JSONL out, half the price.

`run_batch` uploads every request the cache lacks, polls until the batch ends, commits each answer to
the cache, and re-queues failed lines (up to `max_rounds` batches). The submitted batch id is kept in
the cache, so a run stopped while waiting resumes polling the same batch instead of paying twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
from dataclasses import dataclass
from typing import Sequence

from fcot.errors import ConfigError
from fcot.teacher.engine import Completer, Sampling
from fcot.teacher.openai_backend import OpenAIBackend

log = logging.getLogger(__name__)

FINAL_STATES = {"completed", "failed", "expired", "cancelled"}


@dataclass(frozen=True)
class BatchRequest:
    """One prompt and the completion indices it needs."""

    prompt: str
    sampling: Sampling
    indices: tuple[int, ...]


async def _content(backend: OpenAIBackend, file_id: str | None) -> list[dict]:
    if not file_id:
        return []
    response = await backend.with_retries(lambda: backend.client.files.content(file_id))
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


async def _submit(backend: OpenAIBackend, lines: list[dict]) -> str:
    payload = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode("utf-8")
    upload = await backend.with_retries(lambda: backend.client.files.create(
        file=("requests.jsonl", io.BytesIO(payload), "application/jsonl"), purpose="batch"))
    batch = await backend.with_retries(lambda: backend.client.batches.create(
        input_file_id=upload.id, endpoint=backend.endpoint, completion_window="24h"))
    log.info("submitted batch %s with %d requests", batch.id, len(lines))
    return batch.id


async def _wait(backend: OpenAIBackend, batch_id: str, poll: float):
    while True:
        batch = await backend.with_retries(lambda: backend.client.batches.retrieve(batch_id))
        if batch.status in FINAL_STATES:
            return batch
        await asyncio.sleep(poll)


async def run_batch(
    completer: Completer, requests: Sequence[BatchRequest], poll: float = 30.0, max_rounds: int = 3
) -> int:
    """Send every uncached request through the Batch API; returns how many requests still lack an answer."""
    backend, cache = completer.backend, completer.cache
    if not isinstance(backend, OpenAIBackend) or cache is None:
        raise ConfigError("the Batch API needs an openai: teacher and a completion cache")
    pending = [r for r in requests if any(completer.cached(r.prompt, r.sampling, i) is None for i in r.indices)]
    for _ in range(max_rounds):
        if not pending:
            break
        lines = {f"r{j}": r for j, r in enumerate(pending)}
        body = [{"custom_id": cid, "method": "POST", "url": backend.endpoint,
                 "body": backend.body(r.prompt, r.sampling, len(r.indices))} for cid, r in lines.items()]
        key = hashlib.sha256(json.dumps([backend.identity, body], sort_keys=True).encode()).hexdigest()
        batch_id = cache.get_batch(key)
        if batch_id is None:
            batch_id = await _submit(backend, body)
            cache.put_batch(key, batch_id)
        batch = await _wait(backend, batch_id, poll)
        results = await _content(backend, batch.output_file_id) + await _content(backend, batch.error_file_id)
        for row in results:
            request = lines.get(row.get("custom_id"))
            response = row.get("response") or {}
            if request is None or response.get("status_code") != 200:
                continue
            try:
                choices = backend.parse(response.get("body"), len(request.indices))
            except Exception as exc:  # noqa: BLE001 - a bad line is re-queued like a failed one
                log.info("batch %s line %s: %s", batch_id, row.get("custom_id"), exc)
                continue
            completer.stats.usage.requests += 1
            for i, choice in zip(request.indices, choices):
                completer.store(request.prompt, request.sampling, i, choice)
        cache.put_batch(key, None)
        pending = [r for r in pending if any(completer.cached(r.prompt, r.sampling, i) is None for i in r.indices)]
        if pending:
            completer.stats.retries += len(pending)
            log.info("batch %s ended %s; re-queueing %d failed requests", batch_id, batch.status, len(pending))
    return len(pending)
