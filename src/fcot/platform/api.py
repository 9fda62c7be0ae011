"""Talk to an OpenAI-compatible fine-tuning API: the client, its errors, uploads keyed on content hash, and jobs."""

from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from fcot.errors import ConfigError, PlatformError
from fcot.platform.data import MIN_EXAMPLES

log = logging.getLogger(__name__)

PLATFORMS = ("openai",)
API_KEY_ENV = "OPENAI_API_KEY"
STOPPED = ("failed", "cancelled")  # job states after which a re-run starts a new job
TERMINAL = ("succeeded", *STOPPED)
DEFAULT_POLL_INTERVAL = 10.0  # seconds between job polls; jobs take minutes to hours


def check_platform(platform: str) -> None:
    """Raise PlatformError unless the platform is supported."""
    if platform not in PLATFORMS:
        raise PlatformError(f"unknown platform {platform!r}; use one of {', '.join(PLATFORMS)} "
                            "(any OpenAI-compatible fine-tuning API works through --base-url)")


def read_api_key(env: str = API_KEY_ENV) -> str:
    """The API key from the environment, or PlatformError saying where to put it."""
    key = os.environ.get(env)
    if not key:
        raise PlatformError(f"no API key: set {env} in the environment (it is never written to disk)")
    return key


def make_client(base_url: str | None = None, api_key: str | None = None, timeout: float = 60.0,
                max_retries: int = 3) -> Any:
    """An `openai.OpenAI` client for any OpenAI-compatible base URL; the key comes from `OPENAI_API_KEY`."""
    import openai

    return openai.OpenAI(api_key=api_key or read_api_key(), base_url=base_url, timeout=timeout, max_retries=max_retries)


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
    with api_call(f"uploading {name}", f"fix the file (at least {MIN_EXAMPLES} valid examples) and re-run"):
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
            if tagged and job.model == base_model and job.status not in STOPPED:
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
    poll_interval: float = DEFAULT_POLL_INTERVAL,
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
