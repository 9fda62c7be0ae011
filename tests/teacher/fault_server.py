"""A small OpenAI-compatible server with configurable latency and injected faults, for tests and benchmarks.

It answers `/v1/models`, `/v1/completions`, `/v1/chat/completions`, `/v1/files` and `/v1/batches`,
replays recorded completions (prompt -> text) when given them, logs every request, and injects
429 (with Retry-After), 500, responses slower than the client's timeout, malformed JSON and dropped
connections at a configurable rate.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as email_policy
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

FAULT_KINDS = ("429", "500", "slow", "malformed", "drop")


@dataclass
class ServerConfig:
    latency: float = 0.0  # seconds before each completion answer
    fault_rate: float = 0.0  # share of completion requests (and batch lines) that fail
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    retry_after: float = 0.05  # seconds, sent with 429s
    slow_seconds: float = 3.0  # how long a "slow" fault stalls
    api_key: str | None = None  # when set, other keys get 401
    models: tuple[str, ...] | None = None  # when set, other models get 404
    context_chars: int | None = None  # prompts longer than this get 400 context_length_exceeded
    support_n: bool = True  # False: ignore `n` and return one choice (like some servers)
    recorded: dict[str, str] = field(default_factory=dict)  # prompt -> completion text
    failing: tuple[str, ...] = ()  # prompts containing any of these always get 500
    hold_batches: bool = False  # batches stay in_progress while this is True
    seed: int = 0


def recorded_answers(path: Path) -> dict[str, str]:
    """prompt -> completion for both steps of a recorded CompletionDataset (first occurrence wins)."""
    answers: dict[str, str] = {}
    for rows in json.loads(path.read_text(encoding="utf-8"))["data"].values():
        for row in rows:
            answers.setdefault(row["reasoning_prompt"], row["reasoning_completion"])
            answers.setdefault(row["prompt"], row["completion"])
    return answers


class _Dropped(Response):
    """Sends headers and half a body, then drops the connection."""

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"200")]})
        await send({"type": "http.response.body", "body": b'{"id": "cmpl-', "more_body": True})
        raise ConnectionAbortedError("fault: dropped connection")


def _error(status: int, message: str, code: str | None = None, headers: dict | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


class FaultServer:
    """Runs the app with uvicorn on 127.0.0.1 (a free port) in a background thread."""

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        self.log: list[dict] = []  # one entry per completion request answered with 200 (or batch line)
        self.attempts: list[dict] = []  # every completion request, with the fault injected if any
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}
        self._random = random.Random(self.config.seed)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.app = self._build()
        self.url = ""

    # --- answers ---------------------------------------------------------------------------------

    def _text(self, prompt: str, j: int, temperature: float) -> str:
        text = self.config.recorded.get(prompt)
        if text is None:
            text = f" step by step answer {hashlib.sha1(prompt.encode()).hexdigest()[:8]}."
        return f"{text} [{j}:{self._random.random():.6f}]" if temperature > 0 else text

    def _fault(self) -> str | None:
        with self._lock:
            if self._random.random() < self.config.fault_rate:
                return self._random.choice(self.config.fault_kinds)
        return None

    def answer(self, path: str, body: dict, headers: dict) -> tuple[int, dict]:
        """(status, JSON body) for one completion request, before latency and transport faults."""
        chat = path.endswith("chat/completions")
        if self.config.api_key and headers.get("authorization") != f"Bearer {self.config.api_key}":
            return 401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}
        model = body.get("model")
        if self.config.models and model not in self.config.models:
            return 404, {"error": {"message": f"The model '{model}' does not exist", "code": "model_not_found"}}
        prompt = body["messages"][-1]["content"] if chat else body.get("prompt", "")
        if self.config.context_chars and len(prompt) > self.config.context_chars:
            return 400, {"error": {"message": "This model's maximum context length is exceeded",
                                   "code": "context_length_exceeded"}}
        n = int(body.get("n", 1)) if self.config.support_n else 1
        temperature = float(body.get("temperature", 1.0))
        texts = [self._text(prompt, j, temperature) for j in range(n)]
        if chat:
            choices = [{"index": j, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
                       for j, t in enumerate(texts)]
        else:
            finish = None if prompt in self.config.recorded else "stop"
            choices = [{"index": j, "text": t, "finish_reason": finish, "logprobs": None} for j, t in enumerate(texts)]
        usage = {"prompt_tokens": len(prompt) // 4, "completion_tokens": sum(len(t) // 4 for t in texts)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return 200, {"id": f"cmpl-{next(self._ids)}", "object": "text_completion", "created": int(time.time()),
                     "model": model, "choices": choices, "usage": usage}

    # --- app ---------------------------------------------------------------------------------------

    def _build(self) -> FastAPI:
        app = FastAPI()
        cfg = self.config

        @app.get("/v1/models")
        async def models(request: Request):
            if cfg.api_key and request.headers.get("authorization") != f"Bearer {cfg.api_key}":
                return _error(401, "Incorrect API key provided", "invalid_api_key")
            return {"object": "list", "data": [{"id": m, "object": "model"} for m in (cfg.models or ("any",))]}

        async def complete(request: Request, path: str):
            body = await request.json()
            prompt = body["messages"][-1]["content"] if "messages" in body else body.get("prompt")
            fault = "500" if any(f in (prompt or "") for f in cfg.failing) else self._fault()
            entry = {"path": path, "prompt": prompt, "n": body.get("n", 1), "fault": fault, "time": time.time()}
            self.attempts.append(entry)
            await asyncio.sleep(cfg.latency)
            if fault == "429":
                return _error(429, "Rate limit reached", "rate_limit_exceeded", {"retry-after": str(cfg.retry_after)})
            if fault == "500":
                return _error(500, "The server had an error", "server_error")
            if fault == "slow":
                await asyncio.sleep(cfg.slow_seconds)
            if fault == "malformed":
                return Response(b'{"id": "cmpl-1", "choices": [{"text": ', media_type="application/json")
            if fault == "drop":
                return _Dropped()
            status, data = self.answer(path, body, dict(request.headers))
            if status == 200:
                self.log.append({**entry, "texts": [c.get("text") for c in data["choices"]]})
            return JSONResponse(data, status_code=status)

        @app.post("/v1/completions")
        async def completions(request: Request):
            return await complete(request, "/v1/completions")

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            return await complete(request, "/v1/chat/completions")

        @app.post("/v1/files")
        async def upload(request: Request):
            raw = b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n" + await request.body()
            parts = {p.get_param("name", header="content-disposition"): p.get_payload(decode=True)
                     for p in BytesParser(policy=email_policy).parsebytes(raw).iter_parts()}
            file_id = f"file-{next(self._ids)}"
            self.files[file_id] = parts["file"]
            return {"id": file_id, "object": "file", "bytes": len(parts["file"]), "created_at": int(time.time()),
                    "filename": "requests.jsonl", "purpose": parts.get("purpose", b"batch").decode(),
                    "status": "processed"}

        @app.get("/v1/files/{file_id}/content")
        async def content(file_id: str):
            if file_id not in self.files:
                return _error(404, f"No such File object: {file_id}")
            return Response(self.files[file_id], media_type="application/octet-stream")

        @app.post("/v1/batches")
        async def create_batch(request: Request):
            body = await request.json()
            batch_id = f"batch-{next(self._ids)}"
            self.batches[batch_id] = {
                "id": batch_id, "object": "batch", "endpoint": body["endpoint"], "errors": None,
                "input_file_id": body["input_file_id"], "completion_window": body["completion_window"],
                "status": "in_progress", "output_file_id": None, "error_file_id": None,
                "created_at": int(time.time()), "request_counts": {"total": 0, "completed": 0, "failed": 0},
            }
            asyncio.get_running_loop().create_task(self._process(batch_id, dict(request.headers)))
            return self.batches[batch_id]

        @app.get("/v1/batches/{batch_id}")
        async def get_batch(batch_id: str):
            if batch_id not in self.batches:
                return _error(404, f"No such Batch object: {batch_id}")
            return self.batches[batch_id]

        return app

    async def _process(self, batch_id: str, headers: dict) -> None:
        batch = self.batches[batch_id]
        lines = [json.loads(x) for x in self.files[batch["input_file_id"]].decode().splitlines() if x.strip()]
        await asyncio.sleep(self.config.latency)
        while self.config.hold_batches:
            await asyncio.sleep(0.02)
        outputs, errors = [], []
        for line in lines:
            entry = {"path": line["url"], "prompt": line["body"].get("prompt"), "n": line["body"].get("n", 1),
                     "fault": self._fault(), "time": time.time(), "batch": batch_id}
            self.attempts.append(entry)
            if entry["fault"]:
                errors.append({"id": f"req-{next(self._ids)}", "custom_id": line["custom_id"],
                               "response": {"status_code": 500, "body": {"error": {"message": "fault"}}},
                               "error": None})
                continue
            status, data = self.answer(line["url"], line["body"], headers)
            self.log.append(entry)
            outputs.append({"id": f"req-{next(self._ids)}", "custom_id": line["custom_id"],
                            "response": {"status_code": status, "body": data}, "error": None})
        for rows, key in ((outputs, "output_file_id"), (errors, "error_file_id")):
            if rows:
                file_id = f"file-{next(self._ids)}"
                self.files[file_id] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                batch[key] = file_id
        batch["request_counts"] = {"total": len(lines), "completed": len(outputs), "failed": len(errors)}
        batch["status"] = "completed"

    # --- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> "FaultServer":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it: no 40 ms stalls
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="critical", access_log=False))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.time() + 30
        while not self._server.started:
            if time.time() > deadline:
                raise RuntimeError("fault server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
