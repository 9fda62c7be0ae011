"""A student served by an inference engine: any OpenAI-compatible completions endpoint (vLLM, llama.cpp's server,
`fcot serve`) answers the prompts, through the teacher's client (concurrency, retries, the on-disk cache).

    student = EndpointStudent("http://localhost:8000/v1", "run")
    evaluate_model(student, "multiarith", "ft_cot_token", EvalOptions(stop=("END",)))
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from fcot.errors import ModelError
from fcot.models.completions import Completions, GenParams
from fcot.models.generate import Generation
from fcot.teacher.cache import CompletionCache, default_cache_path
from fcot.teacher.engine import Completer, Sampling, Stats, gather, run_interruptible
from fcot.teacher.openai_backend import EndpointConfig, OpenAIBackend

ENDPOINT_CONTEXT = 1 << 20  # the server checks each prompt against its own context
REQUEST_TIMEOUT = 600.0  # seconds: a student served on a CPU may queue requests and answer one at a time
# greedy as in local evaluation: llama.cpp's Python server applies a repeat penalty of 1.1 to requests that set none
# (vLLM, llama-server and fcot serve default to none); OpenAI's own API refuses fields it does not know
NEUTRAL_PENALTY = {"repeat_penalty": 1.0}


class EndpointStudent(Completions):
    """Completes prompts by sending them, all at once (the client bounds the requests in flight), to an endpoint."""

    context_length = ENDPOINT_CONTEXT

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY", concurrency: int = 16,
                 cache: Path | None = None) -> None:
        extra = {} if "api.openai.com" in base_url else NEUTRAL_PENALTY
        self.endpoint = EndpointConfig(model=model, base_url=base_url, api_key_env=api_key_env,
                                       concurrency=concurrency, timeout=REQUEST_TIMEOUT, extra_body=extra)
        self.name, self.cache = model, cache or default_cache_path()
        self.precision = f"served by {self.endpoint.url}"
        self.stats = Stats()  # requests, cache hits and token usage over every call

    def count_tokens(self, prompt: str) -> int:
        raise ModelError(f"{self.endpoint.url}: the endpoint counts its own tokens; fcot does not tokenize for it")

    def complete(self, prompts: list[str], params: GenParams, progress: Callable[[int], None] | None = None,
                 batch_size: int | None = None) -> list[Generation]:
        return run_interruptible(self._complete(prompts, params, progress))

    async def _complete(self, prompts: list[str], params: GenParams,
                        progress: Callable[[int], None] | None) -> list[Generation]:
        sampling = Sampling(params.max_tokens, params.temperature, params.top_p, tuple(params.stop) or None)
        backend, cache = OpenAIBackend(self.endpoint, self.stats), CompletionCache(self.cache)
        completer = Completer(backend, cache, stats=self.stats)

        async def one(prompt: str) -> Generation:
            (choice,) = await completer.complete(prompt, sampling, [0])
            if progress is not None:
                progress(1)
            return Generation(choice.text, choice.finish_reason or "length", choice.completion_tokens)

        try:
            await backend.check()
            return await gather(one(p) for p in prompts)
        finally:
            await backend.aclose()
            cache.close()
