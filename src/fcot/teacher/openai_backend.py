"""Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, `fcot serve`) through the official async client.

Concurrency, requests/tokens-per-minute limits, retries with exponential backoff and jitter on 429, 5xx,
timeouts, dropped connections and malformed bodies (honouring `Retry-After`), and a per-request timeout.
The API key is read from an environment variable and never stored.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import json
import logging
import os
import random
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from fcot.errors import ConfigError, EndpointFailed, MalformedResponse, RequestFailed
from fcot.teacher.cache import Choice
from fcot.teacher.engine import Sampling, Stats, gather
from fcot.teacher.limits import RateLimiter

log = logging.getLogger(__name__)

OPENAI_URL = "https://api.openai.com/v1"


@dataclass
class EndpointConfig:
    """Where and how to send requests."""

    model: str
    base_url: str | None = None  # None: api.openai.com
    api_key_env: str = "OPENAI_API_KEY"  # the key is read from this variable, never written anywhere
    chat: bool = False  # send the prompt as one user message to /chat/completions
    concurrency: int = 16  # requests in flight at once
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None  # estimated as prompt chars / 4 + max_tokens * n
    max_retries: int = 6  # retries per request after the first attempt
    timeout: float = 60.0  # seconds per request
    backoff: float = 1.0  # first retry waits up to this many seconds, doubling each time (random jitter)
    backoff_max: float = 60.0
    extra_body: dict[str, Any] = field(default_factory=dict)  # engine-specific request fields, e.g. repeat_penalty

    @property
    def url(self) -> str:
        return (self.base_url or OPENAI_URL).rstrip("/")


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The HTTP client's default certificate store, loaded once per process (each load takes ~0.1 s)."""
    import httpx2  # the openai client's HTTP library

    return httpx2.create_ssl_context()


def _status(exc: BaseException) -> int | None:
    return getattr(exc, "status_code", None)


def is_retryable(exc: BaseException) -> bool:
    """Whether a failure is worth retrying: rate limits, server errors, timeouts, lost connections, bad bodies."""
    import openai

    retryable = (openai.APIConnectionError, openai.APIResponseValidationError, MalformedResponse, json.JSONDecodeError)
    if isinstance(exc, retryable):
        return True
    status = _status(exc)
    return status is not None and (status in (408, 409, 429) or status >= 500)


def retry_after(exc: BaseException | None) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms` or `Retry-After`), if it said so."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / divisor)
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is not None:
                return max(0.0, email.utils.mktime_tz(parsed) - time.time())
    return None


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())[:300]


class OpenAIBackend:
    """Completes prompts on an OpenAI-compatible endpoint."""

    cacheable = True

    def __init__(self, config: EndpointConfig, stats: Stats | None = None) -> None:
        import openai

        self.config = config
        self.stats = stats or Stats()
        key = os.environ.get(config.api_key_env)
        if not key and config.base_url is None:
            raise ConfigError(f"${config.api_key_env} is not set; export your OpenAI API key or name another "
                              "variable with --api-key-env")
        # aiohttp transport: about half the client CPU per request of the default one, which matters at high concurrency
        self.client = openai.AsyncOpenAI(api_key=key or "EMPTY", base_url=config.url, max_retries=0,
                                         timeout=config.timeout, http_client=openai.DefaultAioHttpClient(verify=tls_context()))
        self.identity = {"backend": "openai", "base_url": config.url, "model": config.model, "chat": config.chat,
                         **({"extra_body": config.extra_body} if config.extra_body else {})}
        self.model_name = config.model
        self.supports_n = True  # cleared when the server returns fewer choices than asked
        self._limiter = RateLimiter(config.requests_per_minute, config.tokens_per_minute)
        self._slots = asyncio.Semaphore(config.concurrency)
        self._any_success = False

    # --- errors ------------------------------------------------------------------------------------

    def failure(self, exc: BaseException, attempts: int) -> Exception:
        """Our error for a request that failed for good."""
        import openai

        url, env, detail = self.config.url, self.config.api_key_env, _one_line(getattr(exc, "message", exc))
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return EndpointFailed(f"{url}: the API key in ${env} was rejected ({_status(exc)}); set ${env} to a valid key")
        if isinstance(exc, openai.NotFoundError):
            return EndpointFailed(f"{url}: model {self.config.model!r} not found (404: {detail}); check the model name "
                                  "after 'openai:' in --teacher and that --base-url ends in /v1")
        if isinstance(exc, openai.BadRequestError):
            if "context" in detail.lower() or "context_length_exceeded" in str(getattr(exc, "code", "")):
                return RequestFailed(f"prompt exceeds the context of {self.config.model!r} "
                                     f"(400 context_length_exceeded: {detail}); lower --max-tokens or use a shorter prompt")
            return EndpointFailed(f"{url}: request rejected (400: {detail}); check the sampling options")
        if isinstance(exc, openai.APIConnectionError) and not self._any_success:
            cause = _one_line(exc.__cause__ or exc)
            return EndpointFailed(f"cannot reach {url} ({cause}); check --base-url and that the server is running")
        return RequestFailed(f"gave up after {attempts} attempts: {type(exc).__name__}: {detail}")

    def _delay(self, exc: BaseException | None, attempt: int) -> float:
        """Seconds to wait before retry number `attempt`: jittered exponential backoff, at least Retry-After."""
        jittered = random.uniform(0, min(self.config.backoff_max, self.config.backoff * 2 ** (attempt - 1)))
        asked = retry_after(exc)
        return max(asked, jittered) if asked is not None else jittered

    def _count_retry(self, exc: BaseException | None, attempt: int) -> None:
        self.stats.retries += 1
        log.info("retry %d after %s: %s", attempt, type(exc).__name__, _one_line(exc))

    async def with_retries(self, call):
        """Run an async call with our retry policy, mapping the final failure to a TeacherError."""
        import openai

        attempts = 1
        try:
            try:
                result = await call()  # most calls succeed at once: skip the retry machinery for them
            except Exception as exc:  # noqa: BLE001 - retried or mapped below
                if not is_retryable(exc) or self.config.max_retries < 1:
                    raise
                self._count_retry(exc, 1)
                await asyncio.sleep(self._delay(exc, 1))
                retrying = AsyncRetrying(
                    stop=stop_after_attempt(self.config.max_retries), retry=retry_if_exception(is_retryable),
                    wait=lambda state: self._delay(state.outcome.exception(), state.attempt_number + 1),
                    before_sleep=lambda state: self._count_retry(state.outcome.exception(), state.attempt_number + 1),
                    reraise=True,
                )
                async for attempt in retrying:
                    attempts = 1 + attempt.retry_state.attempt_number
                    with attempt:
                        result = await call()
        except Exception as exc:  # noqa: BLE001 - mapped to our errors here, at the edge
            if isinstance(exc, (openai.OpenAIError, MalformedResponse, json.JSONDecodeError)):
                raise self.failure(exc, attempts) from exc
            raise
        self._any_success = True
        return result

    # --- requests ----------------------------------------------------------------------------------

    def body(self, prompt: str, sampling: Sampling, n: int) -> dict:
        """The JSON body of one request (also a Batch API line's body)."""
        body: dict[str, Any] = {**self.config.extra_body, "model": self.config.model,
                                "max_tokens": sampling.max_tokens, "temperature": sampling.temperature,
                                "top_p": sampling.top_p}
        if n != 1:
            body["n"] = n
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if self.config.chat:
            body["messages"] = [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        return body

    @property
    def endpoint(self) -> str:
        return "/v1/chat/completions" if self.config.chat else "/v1/completions"

    def parse(self, data: Any, n: int) -> list[Choice]:
        """Choices (sorted by index) and usage from a response body, or MalformedResponse."""
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list) or not data["choices"]:
            raise MalformedResponse(f"expected a completion object with choices, got {_one_line(data)[:100]}")
        rows = sorted(data["choices"], key=lambda c: c.get("index", 0))[:n]
        usage = data.get("usage") or {}
        prompt_tokens, completion_tokens = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        choices = []
        for j, row in enumerate(rows):
            text = (row.get("message") or {}).get("content") if self.config.chat else row.get("text")
            if not isinstance(text, str):
                raise MalformedResponse(f"choice {j} has no text")
            share = completion_tokens // len(rows) + (1 if j < completion_tokens % len(rows) else 0)
            choices.append(Choice(text, row.get("finish_reason"), prompt_tokens if j == 0 else 0, share))
        return choices

    async def _send(self, prompt: str, sampling: Sampling, n: int) -> list[Choice]:
        body = self.body(prompt, sampling, n)
        await self._limiter.acquire(len(prompt) // 4 + sampling.max_tokens * n)
        async with self._slots:
            path = self.endpoint.removeprefix("/v1")
            data = await self.client.post(path, body=body, cast_to=object)
        return self.parse(data, n)

    async def generate(
        self, prompt: str, sampling: Sampling, indices: Sequence[int], sample_index: int | None = None
    ) -> list[Choice]:
        """One choice per index: one request with `n` where the server honours it, else one request each."""
        n = len(indices)
        if n == 1 or not self.supports_n:
            results = await gather((self.with_retries(lambda: self._send(prompt, sampling, 1)) for _ in indices))
            return [r[0] for r in results]
        choices = await self.with_retries(lambda: self._send(prompt, sampling, n))
        if len(choices) < n:
            log.info("%s returned %d of %d choices; sending one request per sample", self.config.url, len(choices), n)
            self.supports_n = False
            rest = await gather((self.with_retries(lambda: self._send(prompt, sampling, 1))
                                          for _ in range(n - len(choices))))
            choices += [r[0] for r in rest]
        return choices

    async def check(self) -> None:
        """Fail fast when the endpoint is unreachable or rejects the key (GET /models, three tries)."""
        import openai

        for attempt in range(1, 4):
            try:
                await self.client.models.list(timeout=min(self.config.timeout, 10.0))
                return
            except openai.APIConnectionError as exc:
                if attempt == 3:
                    raise self.failure(exc, attempt) from exc
                await asyncio.sleep(0.5 * attempt)
            except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                raise self.failure(exc, attempt) from exc
            except openai.OpenAIError:
                return  # /models is optional on some servers; the completion requests will tell

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self.client.close()
