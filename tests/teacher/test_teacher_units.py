"""Cache, rate limiter, prices and retry policy on their own."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from fcot.errors import ConfigError
from fcot.teacher.cache import Choice, CompletionCache, request_key
from fcot.teacher.limits import RateLimiter
from fcot.teacher.openai_backend import is_retryable, retry_after
from fcot.teacher.pricing import load_prices, price_for
from fcot.teacher.teach import TeachConfig


def test_cache_survives_reopen_and_keys_on_every_field(tmp_path):
    identity = {"backend": "openai", "model": "m"}
    key = request_key(identity, "Q: 1+1?", {"max_tokens": 8}, 0)
    assert key != request_key(identity, "Q: 1+1?", {"max_tokens": 9}, 0)
    assert key != request_key(identity, "Q: 1+1?", {"max_tokens": 8}, 1)
    assert key != request_key({**identity, "model": "n"}, "Q: 1+1?", {"max_tokens": 8}, 0)
    cache = CompletionCache(tmp_path / "c.sqlite3")
    cache.put(key, "Q: 1+1?", 0, Choice(" 2.", "stop", 5, 2))
    cache.close()
    reopened = CompletionCache(tmp_path / "c.sqlite3")
    assert reopened.get(key) == Choice(" 2.", "stop", 5, 2)
    assert reopened.get(key[::-1]) is None
    assert reopened.prompts() == {"Q: 1+1?"}


def test_rate_limiter_waits_for_tokens():
    async def go() -> float:
        limiter = RateLimiter(requests_per_minute=6000, tokens_per_minute=600)  # 10 tokens per second
        await limiter.acquire(60)  # the whole burst allowance (6 seconds' worth) at once
        start = time.monotonic()
        await limiter.acquire(5)
        return time.monotonic() - start

    assert 0.4 < asyncio.run(go()) < 1.5


def test_rate_limiter_spaces_requests():
    async def go() -> float:
        limiter = RateLimiter(requests_per_minute=300)  # 5 per second, bursts of 30
        start = time.monotonic()
        for _ in range(40):
            await limiter.acquire(1)
        return time.monotonic() - start

    assert 1.5 < asyncio.run(go()) < 3.5  # 30 at once, then 10 more at 5 per second


def test_prices_prefix_batch_discount_and_bad_file(tmp_path):
    table = load_prices()
    full = price_for("gpt-4o-mini-2024-07-18", table)
    assert full.cost(1_000_000, 1_000_000) == pytest.approx(0.75)
    assert price_for("gpt-4o-mini", table, batch=True).cost(1_000_000, 1_000_000) == pytest.approx(0.375)
    assert not price_for("my-local-model", table).known
    bad = tmp_path / "prices.json"
    bad.write_text(json.dumps({"x": [1]}))
    with pytest.raises(ConfigError, match="prices.json: price of 'x'"):
        load_prices(bad)


def test_retry_policy():
    import httpx2
    import openai

    request = httpx2.Request("POST", "http://x/v1/completions")

    def status(code: int, headers: dict | None = None):
        response = httpx2.Response(code, headers=headers or {}, request=request)
        return openai.APIStatusError("x", response=response, body=None)

    assert is_retryable(status(429)) and is_retryable(status(503)) and is_retryable(openai.APITimeoutError(request))
    assert not is_retryable(status(401)) and not is_retryable(status(400)) and not is_retryable(status(404))
    assert retry_after(status(429, {"retry-after": "2"})) == 2.0
    assert retry_after(status(429, {"retry-after-ms": "250"})) == 0.25
    assert retry_after(status(429)) is None


def test_config_names_diverse_runs_and_rejects_bad_options():
    assert TeachConfig(task="t", teacher="openai:m").completion_key == "zs_cot"
    assert TeachConfig(task="t", teacher="openai:m", samples=8, temperature=0.7).completion_key == "zs_cot_t70_d8"
    with pytest.raises(ConfigError, match="--temperature 0: with 4 samples per question"):
        TeachConfig.checked(task="t", teacher="openai:m", samples=4)
    with pytest.raises(ConfigError, match="--samples 65: .*; --batch: the Batch API is for openai"):
        TeachConfig.checked(task="t", teacher="recorded:x", samples=65, temperature=1, batch=True)
    with pytest.raises(ConfigError, match="--timeout 0: .*greater than 0; --batch: .* not recorded:"):
        TeachConfig.checked(task="t", teacher="recorded:x", batch=True, timeout=0)


def test_ctrl_c_ends_in_keyboard_interrupt_even_when_a_coroutine_absorbs_the_cancellation():
    import os
    import signal
    import threading

    from fcot.teacher.engine import run_interruptible

    async def absorbing() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:  # what a library's cleanup may do with the cancellation Ctrl-C becomes
            await asyncio.sleep(0)
        return "returned normally"

    def ctrl_c_soon() -> None:
        threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT)).start()

    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, whatever ran pytest
    try:
        ctrl_c_soon()
        assert asyncio.run(absorbing()) == "returned normally"  # plain asyncio.run: the command would exit 0
        ctrl_c_soon()
        with pytest.raises(KeyboardInterrupt):
            run_interruptible(absorbing())
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back as it was
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a background job: Ctrl-C is not for it
        assert run_interruptible(asyncio.sleep(0, "done")) == "done"
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, inherited)
