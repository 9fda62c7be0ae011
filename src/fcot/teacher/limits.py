"""Requests-per-minute and tokens-per-minute limits as token buckets shared by all requests."""

from __future__ import annotations

import asyncio
import time


BURST_SECONDS = 6.0  # a bucket holds this many seconds of allowance: providers enforce limits over short windows


class _Bucket:
    """Holds a few seconds' allowance and refills continuously."""

    def __init__(self, per_minute: float) -> None:
        self.capacity = max(1.0, per_minute * BURST_SECONDS / 60.0)
        self.rate = per_minute / 60.0
        self.level = self.capacity
        self.stamp = time.monotonic()

    def wait_for(self, amount: float) -> float:
        """Seconds until amount is available (0 when it is)."""
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        amount = min(amount, self.capacity)
        return 0.0 if self.level >= amount else (amount - self.level) / self.rate


class RateLimiter:
    """Waits until both the request and the token allowance permit one more request."""

    def __init__(self, requests_per_minute: float | None = None, tokens_per_minute: float | None = None) -> None:
        self._requests = _Bucket(requests_per_minute) if requests_per_minute else None
        self._tokens = _Bucket(tokens_per_minute) if tokens_per_minute else None
        self._lock = asyncio.Lock()

    async def acquire(self, tokens: int) -> None:
        """Block until one request of about `tokens` tokens may be sent, then take its allowance."""
        if self._requests is None and self._tokens is None:
            return
        async with self._lock:
            while True:
                wait = max(
                    self._requests.wait_for(1) if self._requests else 0.0,
                    self._tokens.wait_for(tokens) if self._tokens else 0.0,
                )
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            if self._requests:
                self._requests.level -= 1
            if self._tokens:
                self._tokens.level -= min(tokens, self._tokens.capacity)
