"""Driving a continuous batcher from a test: calls that arrive at different times."""

from __future__ import annotations

import asyncio


def run_calls(batcher, calls):
    """Each call (prompt, params, delay) submitted after its delay, all at once; their outputs, then the batcher
    closed."""
    async def one(prompt, params, delay):
        await asyncio.sleep(delay)
        return await batcher.submit(prompt, params)

    async def main():
        try:
            return await asyncio.gather(*(one(*call) for call in calls))
        finally:
            await batcher.aclose()

    return asyncio.run(main())
