"""An OpenAI-compatible FastAPI app for a local causal LM: `/v1/models`, `/v1/completions`, `/v1/chat/completions`.

Errors come back as OpenAI-shaped JSON (`{"error": {"message", "type", "param", "code"}}`) with a 4xx status.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from fcot.serve.generate import Batcher, ContextTooLong, GenParams, Generator


class CompletionRequest(BaseModel):
    model: str | None = None
    prompt: str | list[str]
    max_tokens: int = Field(16, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    n: int = Field(1, ge=1, le=128)
    stop: str | list[str] | None = None


class ChatMessage(BaseModel):
    role: str
    content: str


class ChatRequest(BaseModel):
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    n: int = Field(1, ge=1, le=128)
    stop: str | list[str] | None = None


class APIError(Exception):
    """An error the client should see, with its HTTP status and OpenAI error code."""

    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param


def _error(status: int, message: str, code: str | None = None, param: str | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


def _stops(stop: str | list[str] | None) -> tuple[str, ...]:
    if stop is None:
        return ()
    return (stop,) if isinstance(stop, str) else tuple(stop)


def chat_prompt(tokenizer: Any, messages: list[ChatMessage]) -> str:
    """The model input for chat messages: the tokenizer's chat template, else the contents joined by newlines."""
    rows = [m.model_dump() for m in messages]
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(rows, tokenize=False, add_generation_prompt=True)
    return "\n".join(m.content for m in messages)


def create_app(generator: Generator, model_name: str | None = None, max_batch: int = 8) -> FastAPI:
    """The server app for one model; requests naming another model get a 404."""
    name = model_name or generator.name
    batcher = Batcher(generator, max_batch=max_batch)
    app = FastAPI(title=f"fcot serve: {name}")
    app.state.batcher = batcher
    created = int(time.time())

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.code, exc.param)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return _error(400, f"invalid request: {param}: {first.get('msg', 'bad value')}", "invalid_request", param)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        return _error(500, f"generation failed: {type(exc).__name__}: {exc}", "server_error")

    def check_model(requested: str | None) -> None:
        if requested not in (None, name):
            raise APIError(404, f"The model '{requested}' does not exist; this server serves '{name}'",
                           "model_not_found", "model")

    async def run(prompts: list[str], params: GenParams):
        try:
            return await asyncio.gather(*(batcher.submit(p, params) for p in prompts))
        except ContextTooLong as exc:
            raise APIError(400, str(exc), "context_length_exceeded", "messages") from exc

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": name, "object": "model", "created": created, "owned_by": "fcot"}]}

    @app.post("/v1/completions")
    async def completions(req: CompletionRequest) -> dict:
        check_model(req.model)
        prompts = [req.prompt] if isinstance(req.prompt, str) else req.prompt
        params = GenParams(req.max_tokens, req.temperature, req.top_p, req.n, _stops(req.stop))
        outs = await run(prompts, params)
        choices = [{"index": i * req.n + j, "text": text, "logprobs": None, "finish_reason": reason}
                   for i, out in enumerate(outs) for j, (text, reason) in enumerate(zip(out.texts, out.finish_reasons))]
        return _envelope("text_completion", "cmpl", name, choices, outs)

    @app.post("/v1/chat/completions")
    async def chat(req: ChatRequest) -> dict:
        check_model(req.model)
        max_tokens = req.max_completion_tokens or req.max_tokens or 16
        params = GenParams(max_tokens, req.temperature, req.top_p, req.n, _stops(req.stop))
        (out,) = await run([chat_prompt(generator.tokenizer, req.messages)], params)
        choices = [{"index": j, "message": {"role": "assistant", "content": text}, "finish_reason": reason}
                   for j, (text, reason) in enumerate(zip(out.texts, out.finish_reasons))]
        return _envelope("chat.completion", "chatcmpl", name, choices, [out])

    return app


def _envelope(kind: str, prefix: str, model: str, choices: list[dict], outs: list) -> dict:
    prompt_tokens = sum(o.prompt_tokens for o in outs)
    completion_tokens = sum(o.completion_tokens for o in outs)
    return {
        "id": f"{prefix}-{uuid.uuid4().hex[:24]}", "object": kind, "created": int(time.time()), "model": model,
        "choices": choices,
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }
