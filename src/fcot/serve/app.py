"""An OpenAI-compatible FastAPI app for a local causal LM: `/v1/models`, `/v1/completions`, `/v1/chat/completions`.

Every error is OpenAI-shaped JSON (`{"error": {"message", "type", "param", "code"}}`), a 4xx for anything the
client can fix, and leaves the connection usable. `stream: true` answers with server-sent events. Serving a
trained run (`task`), a chat's last user message is a question: it is put in the trained prompt format and
each choice carries an `fcot` field with the extracted answer (see `StudentTask`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from typing import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from fcot.errors import ContextTooLong, ModelError
from fcot.models.completions import COMPLETION_TOKENS, SERVE_BATCH, Completions, GenOutput, GenParams, batcher_for
from fcot.serve.protocol import (APIError, ChatMessage, ChatRequest, CompletionRequest, envelope, new_id, usage)
from fcot.serve.stream import chat_events, completion_events, guarded
from fcot.serve.student_task import StudentTask

MAX_BODY_BYTES = 8 * 2**20  # far above any prompt list that fits a small model's context
UNION_TAGS = ("str", "int", "float", "bool", "list", "dict")  # how pydantic names union members in error paths


class RequestGate:
    """Answers 401 without `Authorization: Bearer <api_key>` (when a key is set) and 413 for oversized bodies."""

    def __init__(self, app: ASGIApp, api_key: str | None) -> None:
        self.app, self.api_key = app, api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            error = self._refuse(headers)
            if error is not None:
                await error.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refuse(self, headers: dict[str, str]) -> APIError | None:
        if self.api_key is not None:
            scheme, _, given = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.api_key.encode()):
                problem = "Incorrect API key provided" if given else "You didn't provide an API key"
                return APIError(401, f"{problem}; send the server's key as 'Authorization: Bearer KEY'",
                                "invalid_api_key")
        size = headers.get("content-length", "0")
        if size.isdigit() and int(size) > MAX_BODY_BYTES:
            return APIError(413, f"request body of {size} bytes is over the limit of {MAX_BODY_BYTES}",
                            "request_too_large")
        return None


def chat_prompt(tokenizer, messages: list[ChatMessage]) -> str:
    """The model input for chat messages: the tokenizer's chat template, else the contents joined by newlines."""
    rows = [{"role": m.role, "content": m.text()} for m in messages]
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(rows, tokenize=False, add_generation_prompt=True)
    return "\n".join(row["content"] for row in rows)


def _validation_error(exc: RequestValidationError) -> APIError:
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        return APIError(400, f"the body is not valid JSON ({first.get('ctx', {}).get('error', 'decode error')})",
                        "invalid_json")
    path = [p for p in first.get("loc", ())[1:] if isinstance(p, int) or not (p in UNION_TAGS or "[" in p or "-" in p)]
    if not path:
        return APIError(400, "the body must be a JSON object (Content-Type: application/json)", "invalid_request")
    param = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    message = str(first.get("msg", "bad value")).removeprefix("Value error, ")
    return APIError(400, f"{param}: {message}", "invalid_request", param)


def _http_error(request: Request, exc: HTTPException) -> APIError:
    route = f"{request.method} {request.url.path}"
    if exc.status_code == 404:
        return APIError(404, f"no route {route}; this server has /v1/models, /v1/completions and "
                        "/v1/chat/completions", "unknown_url")
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "another method")
        return APIError(405, f"{route} is not supported; use {allowed}", "method_not_allowed")
    return APIError(exc.status_code, str(exc.detail))


def _add_error_handlers(app: FastAPI) -> None:
    """Every failure answers in the OpenAI error shape: our APIErrors, invalid bodies, HTTP errors and crashes."""

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_error(exc).response()

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return _http_error(request, exc).response()

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        return APIError(500, f"server error: {type(exc).__name__}: {exc}", "server_error").response()


class Served:
    """One served model: checks requests against it, batches their generation, and shapes chat for its task."""

    def __init__(self, generator: Completions, name: str, max_batch: int, task: StudentTask | None,
                 calculator: bool = False) -> None:
        self.generator, self.name, self.task, self.calculator = generator, name, task, calculator
        self.batcher = batcher_for(generator, max_batch)

    def params(self, max_tokens: int, req: CompletionRequest | ChatRequest, stop: tuple[str, ...] = ()) -> GenParams:
        """A request's sampling, with the server's calculator."""
        return GenParams(max_tokens, req.temperature, req.top_p, req.n, stop + req.stops(), self.calculator)

    def check(self, requested: str | None, prompts: list[str], params: GenParams) -> int:
        """The prompts' token count, after checking the model name and that each prompt fits."""
        if requested not in (None, self.name):
            raise APIError(404, f"The model '{requested}' does not exist; this server serves '{self.name}'",
                           "model_not_found", "model")
        try:
            return sum(self.batcher.check_length(p, params.max_tokens) for p in prompts)
        except ModelError as exc:
            code = "context_length_exceeded" if isinstance(exc, ContextTooLong) else "invalid_prompt"
            raise APIError(400, str(exc), code) from exc

    async def run(self, prompts: list[str], params: GenParams) -> list[GenOutput]:
        try:
            return await asyncio.gather(*(self.batcher.submit(p, params) for p in prompts))
        except Exception as exc:  # a 4xx/5xx answer, never a dropped connection
            raise APIError(500, f"generation failed: {type(exc).__name__}: {exc}", "server_error") from exc

    def chat_input(self, req: ChatRequest) -> tuple[str, GenParams]:
        """The model input and sampling for a chat request: the trained format of its question, given a task."""
        task = self.task
        max_tokens = req.max_completion_tokens or req.max_tokens or (task.max_tokens if task else COMPLETION_TOKENS)
        if task is None:
            return chat_prompt(self.generator.tokenizer, req.messages), self.params(max_tokens, req)
        question = req.messages[-1]
        if question.role != "user" or not question.text().strip():
            raise APIError(400, f"the last message must be a user's question: this server answers {task.task.key} "
                           "questions the way its student was trained", "invalid_request", "messages")
        return task.prompt(question.text().strip()), self.params(max_tokens, req, task.stop)

    def chat_choice(self, index: int, text: str, reason: str) -> dict:
        if self.task is None:
            return {"index": index, "message": {"role": "assistant", "content": text}, "finish_reason": reason}
        reply = self.task.reply(text)
        return {"index": index, "message": {"role": "assistant", "content": reply.content}, "finish_reason": reason,
                "fcot": reply.fcot}


def _streamed(events) -> StreamingResponse:
    return StreamingResponse(guarded(events), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def create_app(generator: Completions, model_name: str | None = None, max_batch: int = SERVE_BATCH,
               task: StudentTask | None = None, api_key: str | None = None, calculator: bool = False) -> FastAPI:
    """The server app for one model; requests naming another model get a 404, those without api_key a 401;
    `calculator` writes the results of the arithmetic completions state (`fcot.models.calculator`)."""
    served = Served(generator, model_name or generator.name, max_batch, task, calculator)
    name = served.name

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await served.batcher.aclose()  # the decoding thread ends with the server, not at interpreter exit

    app = FastAPI(title=f"fcot serve: {name}", lifespan=lifespan)
    app.add_middleware(RequestGate, api_key=api_key)
    app.state.batcher = served.batcher
    _add_error_handlers(app)
    created = int(time.time())

    @app.get("/v1/models")
    async def models() -> dict:
        card = {"id": name, "object": "model", "created": created, "owned_by": "fcot"}
        return {"object": "list", "data": [card if task is None else {**card, "fcot": task.describe()}]}

    @app.post("/v1/completions")
    async def completions(req: CompletionRequest):
        params = served.params(req.max_tokens, req)
        prompts = req.prompts()
        prompt_tokens = served.check(req.model, prompts, params)
        if req.stream:
            return _streamed(completion_events(served.batcher.stream, name, prompts, prompt_tokens, params,
                                               req.include_usage()))
        outs = await served.run(prompts, params)
        choices = [{"index": i * req.n + j, "text": text, "logprobs": None, "finish_reason": reason}
                   for i, out in enumerate(outs) for j, (text, reason) in enumerate(zip(out.texts, out.finish_reasons))]
        return envelope("text_completion", new_id("cmpl"), name, choices, _usage(outs))

    @app.post("/v1/chat/completions")
    async def chat(req: ChatRequest):
        prompt, params = served.chat_input(req)
        prompt_tokens = served.check(req.model, [prompt], params)
        if req.stream:
            return _streamed(chat_events(served.batcher.stream, name, prompt, prompt_tokens, params,
                                         req.include_usage(), task))
        (out,) = await served.run([prompt], params)
        choices = [served.chat_choice(j, text, reason)
                   for j, (text, reason) in enumerate(zip(out.texts, out.finish_reasons))]
        return envelope("chat.completion", new_id("chatcmpl"), name, choices, _usage([out]))

    return app


def _usage(outs: list[GenOutput]) -> dict:
    return usage(sum(o.prompt_tokens for o in outs), sum(o.completion_tokens for o in outs))
