"""Send prompts to an OpenAI-compatible model with concurrency, a persistent cache and retries.

    choices = asyncio.run(complete_prompts(prompts, EndpointConfig(model="ft:...", base_url=url),
                                           Sampling(max_tokens=256)))
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Sequence

from fcot.errors import TeacherError
from fcot.resources import cache_dir
from fcot.teacher.cache import Choice, CompletionCache
from fcot.teacher.engine import Completer, RequestFailed, Sampling, Stats
from fcot.teacher.openai_backend import EndpointConfig, OpenAIBackend
from fcot.teacher.pricing import load_prices, price_for


async def complete_prompts(
    prompts: Sequence[str],
    endpoint: EndpointConfig,
    sampling: Sampling,
    n: int = 1,
    cache_path: str | Path | None = None,
    stats: Stats | None = None,
) -> list[list[Choice] | TeacherError]:
    """`n` choices per prompt (or the error that prompt failed with); unreachable endpoints raise EndpointFailed."""
    stats = stats or Stats(total=len(prompts))
    backend = OpenAIBackend(endpoint, stats)
    cache = CompletionCache(cache_path or cache_dir() / "teacher-cache.sqlite3")
    completer = Completer(backend, cache, price_for(endpoint.model, load_prices()), stats)

    async def one(prompt: str) -> list[Choice] | TeacherError:
        try:
            return await completer.complete(prompt, sampling, list(range(n)))
        except RequestFailed as exc:
            return exc
        finally:
            stats.done += 1

    try:
        await backend.check()
        return list(await asyncio.gather(*(one(p) for p in prompts)))
    finally:
        await backend.aclose()
        cache.close()
