"""A local server speaking the subset of the hosted fine-tuning API that fcot uses, shaped like the public reference.

Files (`/v1/files`), fine-tuning jobs (`/v1/fine_tuning/jobs`, events, cancel) whose status advances one step per
retrieve (`validating_files -> queued -> running -> succeeded`), and inference on the fine-tuned model
(`/v1/completions`, `/v1/chat/completions`) that answers with the training label of a known input.
It deliberately imports nothing from fcot.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import secrets
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

CHAT_MODELS = {"gpt-4.1-nano-2025-04-14", "gpt-4.1-mini-2025-04-14", "gpt-4o-mini-2024-07-18", "gpt-3.5-turbo-0125"}
COMPLETION_MODELS = {"babbage-002", "davinci-002"}
MIN_EXAMPLES = 10  # the real API's minimum number of training examples
TERMINAL = {"succeeded", "failed", "cancelled"}


class ApiError(Exception):
    """An error answered as the API does: status code plus {"error": {message, type, param, code}}."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def response(self) -> JSONResponse:
        error = {"message": self.message, "type": "invalid_request_error", "param": self.param, "code": self.code}
        return JSONResponse({"error": error}, status_code=self.status)


def _new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


def _tokens(text: str) -> int:
    return len(text.split())


def _parse_rows(content: bytes) -> tuple[list[dict], str]:
    """Validate a fine-tuning JSONL file; return its rows and format ("chat" or "completion")."""
    try:
        lines = [line for line in content.decode("utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError as exc:
        raise ApiError(400, "Invalid file format for Fine-Tuning API. Must be UTF-8 .jsonl", "file") from exc
    rows, formats = [], set()
    for n, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ApiError(400, f"Invalid file format for Fine-Tuning API: line {n} is not valid JSON", "file",
                           "invalid_file_format") from exc
        if isinstance(row, dict) and isinstance(row.get("messages"), list) and any(
            isinstance(m, dict) and m.get("role") == "assistant" and isinstance(m.get("content"), str)
            for m in row["messages"]
        ):
            formats.add("chat")
        elif isinstance(row, dict) and isinstance(row.get("prompt"), str) and isinstance(row.get("completion"), str):
            formats.add("completion")
        else:
            raise ApiError(400, f"Invalid file format for Fine-Tuning API: line {n} has neither 'messages' with an "
                                "assistant message nor 'prompt' and 'completion'", "file", "invalid_file_format")
        rows.append(row)
    if len(formats) > 1:
        raise ApiError(400, "Invalid file format for Fine-Tuning API: mixes chat and prompt/completion examples",
                       "file")
    if len(rows) < MIN_EXAMPLES:
        raise ApiError(400, f"Training file has {len(rows)} example(s), but must have at least {MIN_EXAMPLES} examples",
                       "file", "invalid_n_examples")
    return rows, formats.pop()


def _pairs(rows: list[dict], fmt: str) -> dict[str, str]:
    """Input -> label lookup learned from training rows."""
    if fmt == "completion":
        return {r["prompt"]: r["completion"] for r in rows}
    out = {}
    for r in rows:
        users = [m["content"] for m in r["messages"] if m.get("role") == "user"]
        assistants = [m["content"] for m in r["messages"] if m.get("role") == "assistant"]
        out[users[-1]] = assistants[-1]
    return out


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Form fields of a multipart/form-data body: name -> (filename, bytes)."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[name] = (part.get_filename(), part.get_payload(decode=True))
    return fields


class FakePlatform:
    """In-memory state and the FastAPI app of the fake fine-tuning API."""

    def __init__(
        self,
        api_key: str = "sk-test",
        running_polls: int = 3,  # retrieves spent in "running" before the job finishes
        fail_with: dict | None = None,  # {"code", "message"}: jobs fail while running with this error
        answers: dict[str, str] | None = None,  # extra input -> output the fine-tuned model "knows"
        inference_errors: int = 0,  # answer this many inference requests with a 500 first
        organization: str = "fcot-test",
    ) -> None:
        self.api_key, self.running_polls, self.fail_with = api_key, running_polls, fail_with
        self.answers, self.inference_errors, self.organization = dict(answers or {}), inference_errors, organization
        self.files: dict[str, dict] = {}
        self.file_rows: dict[str, tuple[list[dict], str]] = {}
        self.jobs: dict[str, dict] = {}
        self.events: dict[str, list[dict]] = {}
        self.models: dict[str, dict[str, str]] = {}
        self.calls: list[str] = []  # "METHOD /path" of every request, for assertions
        self.app = self._build_app()

    # --- jobs ------------------------------------------------------------------------------------------

    def _event(self, job_id: str, message: str, level: str = "info", data: dict | None = None) -> None:
        kind = "metrics" if data else "message"
        self.events[job_id].append({"object": "fine_tuning.job.event", "id": _new_id("ftevent"),
                                    "created_at": int(time.time()), "level": level, "message": message,
                                    "data": data or {}, "type": kind})

    def create_job(self, body: dict) -> dict:
        model = body.get("model")
        if model not in CHAT_MODELS | COMPLETION_MODELS:
            raise ApiError(400, f"Model {model} is not available for fine-tuning or does not exist.", "model",
                           "model_not_available")
        for param in ("training_file", "validation_file"):
            file_id = body.get(param)
            if file_id is None and param == "validation_file":
                continue
            if file_id not in self.files or self.files[file_id]["purpose"] != "fine-tune":
                raise ApiError(400, f"invalid {param}: {file_id}", param, "invalid_file")
        suffix = body.get("suffix") or ""
        if len(suffix) > 64:
            raise ApiError(400, "suffix must be at most 64 characters", "suffix")
        method = body.get("method") or {"type": "supervised", "supervised": {"hyperparameters": {}}}
        hyper = {"n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto",
                 **(body.get("hyperparameters") or {}), **method.get("supervised", {}).get("hyperparameters", {})}
        epochs = hyper["n_epochs"]
        if epochs != "auto" and not (isinstance(epochs, int) and 1 <= epochs <= 50):
            raise ApiError(400, f"invalid n_epochs: {epochs}; expected 'auto' or an integer from 1 to 50",
                           "hyperparameters.n_epochs")
        job_id = _new_id("ftjob")
        job = {
            "object": "fine_tuning.job", "id": job_id, "model": model, "created_at": int(time.time()),
            "finished_at": None, "fine_tuned_model": None, "organization_id": f"org-{self.organization}",
            "result_files": [], "status": "validating_files", "validation_file": body.get("validation_file"),
            "training_file": body["training_file"], "hyperparameters": hyper, "trained_tokens": None,
            "error": None, "seed": body.get("seed") or 42, "estimated_finish": None, "integrations": [],
            "metadata": body.get("metadata"), "user_provided_suffix": suffix or None,
            "method": {"type": "supervised", "supervised": {"hyperparameters": hyper}},
        }
        self.jobs[job_id], self.events[job_id] = job, []
        self._event(job_id, f"Validating training file: {job['training_file']}")
        return job

    def advance(self, job: dict) -> None:
        """Move a job one step along validating_files -> queued -> running -> succeeded/failed."""
        status, job_id = job["status"], job["id"]
        if status == "validating_files":
            _, fmt = self.file_rows[job["training_file"]]
            wanted = "completion" if job["model"] in COMPLETION_MODELS else "chat"
            if fmt != wanted:
                self._finish(job, "failed", error={"code": "invalid_training_file", "param": "training_file",
                                                   "message": f"Training file is in {fmt} format but {job['model']} "
                                                              f"needs the {wanted} format"})
                return
            job["status"] = "queued"
            self._event(job_id, "Files validated, moving job to queued state")
        elif status == "queued":
            hyper = job["hyperparameters"]
            hyper.update({k: v for k, v in (("n_epochs", 3), ("batch_size", 1), ("learning_rate_multiplier", 2.0))
                          if hyper[k] == "auto"})
            job["status"], job["estimated_finish"], job["_polls"] = "running", int(time.time()) + 60, 0
            self._event(job_id, "Fine-tuning job started")
        elif status == "running":
            job["_polls"] += 1
            step = job["_polls"]
            self._event(job_id, f"Step {step}/{self.running_polls}: training loss={1.0 / step:.3f}",
                        data={"step": step, "total_steps": self.running_polls, "train_loss": 1.0 / step})
            if step < self.running_polls:
                return
            if self.fail_with:
                self._finish(job, "failed", error={"param": None, **self.fail_with})
                return
            rows, fmt = self.file_rows[job["training_file"]]
            suffix = job["user_provided_suffix"] or ""
            job["fine_tuned_model"] = f"ft:{job['model']}:{self.organization}:{suffix}:{job_id[-8:]}"
            job["trained_tokens"] = job["hyperparameters"]["n_epochs"] * sum(_tokens(json.dumps(r)) for r in rows)
            job["result_files"] = [_new_id("file")]
            self.models[job["fine_tuned_model"]] = _pairs(rows, fmt)
            self._event(job_id, f"New fine-tuned model created: {job['fine_tuned_model']}")
            self._finish(job, "succeeded")

    def _finish(self, job: dict, status: str, error: dict | None = None) -> None:
        job.update(status=status, finished_at=int(time.time()), estimated_finish=None, error=error)
        if status == "succeeded":
            self._event(job["id"], "The job has successfully completed")
        elif status == "failed":
            self._event(job["id"], f"Fine-tuning job failed: {error['message']}", level="error")
        else:
            self._event(job["id"], "Fine-tuning job cancelled")

    @staticmethod
    def public(obj: dict) -> dict:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    # --- inference -----------------------------------------------------------------------------------

    def answer(self, model: str, text: str, stop: Any, max_tokens: int | None) -> tuple[str, str]:
        """The output and finish_reason of the fine-tuned model for one input."""
        if model not in self.models:
            raise ApiError(404, f"The model `{model}` does not exist or you do not have access to it.", None,
                           "model_not_found")
        if self.inference_errors > 0:
            self.inference_errors -= 1
            raise ApiError(500, "The server had an error while processing your request.", None, "server_error")
        output = self.models[model].get(text, self.answers.get(text, " I am not sure. END"))
        finish = "stop"
        for s in [stop] if isinstance(stop, str) else (stop or []):
            if s in output:
                output = output[: output.index(s)]
        words = output.split(" ")
        if max_tokens is not None and len(words) > max_tokens:
            output, finish = " ".join(words[:max_tokens]), "length"
        return output, finish

    # --- app ---------------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def auth_and_errors(request: Request, call_next):
            self.calls.append(f"{request.method} {request.url.path}")
            if request.headers.get("authorization") != f"Bearer {self.api_key}":
                return ApiError(401, "Incorrect API key provided.", None, "invalid_api_key").response()
            return await call_next(request)

        @app.exception_handler(ApiError)
        async def api_error(request: Request, exc: ApiError):
            return exc.response()

        @app.post("/v1/files")
        async def upload(request: Request):
            fields = _multipart(request.headers.get("content-type", ""), await request.body())
            purpose = (fields.get("purpose") or (None, b""))[1].decode()
            if "file" not in fields:
                raise ApiError(400, "Missing file", "file")
            filename, content = fields["file"]
            rows = _parse_rows(content) if purpose == "fine-tune" else None
            file_id = _new_id("file")
            self.files[file_id] = {"object": "file", "id": file_id, "purpose": purpose, "filename": filename,
                                   "bytes": len(content), "created_at": int(time.time()), "status": "processed",
                                   "expires_at": None, "status_details": None}
            if rows is not None:
                self.file_rows[file_id] = rows
            return self.files[file_id]

        @app.get("/v1/files")
        async def list_files(purpose: str | None = None, limit: int = 10000, order: str = "desc"):
            files = [f for f in self.files.values() if purpose is None or f["purpose"] == purpose]
            files.sort(key=lambda f: f["created_at"], reverse=order == "desc")
            return {"object": "list", "data": files[:limit], "has_more": len(files) > limit}

        @app.get("/v1/files/{file_id}")
        async def retrieve_file(file_id: str):
            if file_id not in self.files:
                raise ApiError(404, f"No such File object: {file_id}", "id")
            return self.files[file_id]

        @app.post("/v1/fine_tuning/jobs")
        async def create_job(request: Request):
            return self.public(self.create_job(await request.json()))

        @app.get("/v1/fine_tuning/jobs")
        async def list_jobs(request: Request, limit: int = 20, after: str | None = None):
            wanted = {k[len("metadata["):-1]: v for k, v in request.query_params.items() if k.startswith("metadata[")}
            jobs = [j for j in reversed(self.jobs.values())
                    if all((j["metadata"] or {}).get(k) == v for k, v in wanted.items())]
            if after is not None:
                ids = [j["id"] for j in jobs]
                jobs = jobs[ids.index(after) + 1:] if after in ids else []
            return {"object": "list", "data": [self.public(j) for j in jobs[:limit]], "has_more": len(jobs) > limit}

        def job_or_404(job_id: str) -> dict:
            if job_id not in self.jobs:
                raise ApiError(404, f"Could not find fine-tune job: {job_id}", "fine_tuning_job_id", "not_found")
            return self.jobs[job_id]

        @app.get("/v1/fine_tuning/jobs/{job_id}")
        async def retrieve_job(job_id: str):
            job = job_or_404(job_id)
            if job["status"] not in TERMINAL:
                self.advance(job)
            return self.public(job)

        @app.post("/v1/fine_tuning/jobs/{job_id}/cancel")
        async def cancel_job(job_id: str):
            job = job_or_404(job_id)
            if job["status"] in TERMINAL:
                raise ApiError(400, f"Job has already completed with status {job['status']}", "fine_tuning_job_id")
            self._finish(job, "cancelled")
            return self.public(job)

        @app.get("/v1/fine_tuning/jobs/{job_id}/events")
        async def list_events(job_id: str, limit: int = 20, after: str | None = None):
            job_or_404(job_id)
            events = list(reversed(self.events[job_id]))  # newest first, as the API lists them
            if after is not None:
                ids = [e["id"] for e in events]
                events = events[ids.index(after) + 1:] if after in ids else []
            return {"object": "list", "data": events[:limit], "has_more": len(events) > limit}

        @app.get("/v1/models")
        async def list_models():
            names = sorted(CHAT_MODELS | COMPLETION_MODELS | set(self.models))
            return {"object": "list", "data": [{"id": n, "object": "model", "created": 0,
                                                "owned_by": self.organization if n in self.models else "system"}
                                               for n in names]}

        @app.post("/v1/completions")
        async def completions(request: Request):
            body = await request.json()
            prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
            choices = []
            for prompt in prompts:
                for _ in range(body.get("n") or 1):
                    text, finish = self.answer(body["model"], prompt, body.get("stop"), body.get("max_tokens"))
                    choices.append({"text": text, "index": len(choices), "logprobs": None, "finish_reason": finish})
            return {"id": _new_id("cmpl"), "object": "text_completion", "created": int(time.time()),
                    "model": body["model"], "choices": choices, "usage": _usage(prompts, choices)}

        @app.post("/v1/chat/completions")
        async def chat_completions(request: Request):
            body = await request.json()
            user = [m["content"] for m in body["messages"] if m.get("role") == "user"][-1]
            choices = []
            for _ in range(body.get("n") or 1):
                text, finish = self.answer(body["model"], user, body.get("stop"),
                                           body.get("max_completion_tokens") or body.get("max_tokens"))
                choices.append({"index": len(choices), "logprobs": None, "finish_reason": finish,
                                "message": {"role": "assistant", "content": text, "refusal": None}})
            return {"id": _new_id("chatcmpl"), "object": "chat.completion", "created": int(time.time()),
                    "model": body["model"], "choices": choices,
                    "usage": _usage([user], [{"text": c["message"]["content"]} for c in choices])}

        return app


def _usage(prompts: list[str], choices: list[dict]) -> dict:
    prompt_tokens = sum(_tokens(p) for p in prompts)
    completion_tokens = sum(_tokens(c["text"]) for c in choices)
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


@contextmanager
def serve(platform: FakePlatform) -> Iterator[str]:
    """Run the fake API on 127.0.0.1 (free port) in a thread; yield its base URL ending in /v1."""
    server = uvicorn.Server(uvicorn.Config(platform.app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("fake platform server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
