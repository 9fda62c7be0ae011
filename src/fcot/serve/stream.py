"""Streamed responses: each choice grows token by token and goes out as OpenAI's server-sent event chunks.

A client that disconnects cancels its event generator, which stops asking its batcher for tokens.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import AsyncIterator, Callable

from fcot.errors import ModelError
from fcot.models.completions import GenParams
from fcot.models.streaming import StreamRow
from fcot.serve.protocol import APIError, envelope, new_id, sse, usage
from fcot.serve.student_task import StudentTask

log = logging.getLogger(__name__)

Render = Callable[[str, bool], str]  # (completion so far, finished) -> what the client sees of it so far


@dataclass(frozen=True)
class Delta:
    """What one choice added in a decoding step."""

    index: int  # the choice's index among the prompt's n
    text: str  # new text for the client
    finish_reason: str | None
    completion: str  # the raw completion so far (whole once finished)
    new_tokens: int


def raw_text(completion: str, finished: bool) -> str:
    return completion


Steps = Callable[[str, GenParams], AsyncIterator[list[StreamRow]]]  # a prompt's sequences after each decoding step


async def deltas(steps: Steps, prompt: str, params: GenParams, render: Render) -> AsyncIterator[Delta]:
    """The new text of each of one prompt's n choices after every decoding step."""
    shown: list[str | None] = [""] * params.n  # None once finished
    async for rows in steps(prompt, params):
        for j, sent in enumerate(shown):
            row = rows[j % len(rows)]  # greedy decoding runs one sequence for all n choices
            if sent is None:
                continue
            new = render(row.text, row.finish_reason is not None)[len(sent):]
            if new or row.finish_reason:
                yield Delta(j, new, row.finish_reason, row.text, row.new_tokens)
            shown[j] = None if row.finish_reason else sent + new


async def completion_events(steps: Steps, model: str, prompts: list[str], prompt_tokens: int,
                            params: GenParams, include_usage: bool) -> AsyncIterator[str]:
    """`/v1/completions` chunks: the prompts one after another, each with its n choices."""
    response_id, completion_tokens = new_id("cmpl"), 0
    for i, prompt in enumerate(prompts):
        async for d in deltas(steps, prompt, params, raw_text):
            choice = {"index": i * params.n + d.index, "text": d.text, "logprobs": None,
                      "finish_reason": d.finish_reason}
            yield sse(envelope("text_completion", response_id, model, [choice]))
            completion_tokens += d.new_tokens if d.finish_reason else 0
    if include_usage:
        yield sse(envelope("text_completion", response_id, model, [], usage(prompt_tokens, completion_tokens)))
    yield sse("[DONE]")


async def chat_events(steps: Steps, model: str, prompt: str, prompt_tokens: int, params: GenParams,
                      include_usage: bool, task: StudentTask | None) -> AsyncIterator[str]:
    """`/v1/chat/completions` chunks: the role, content deltas, then each choice's finish (with `fcot` for a task)."""
    response_id, completion_tokens, kind = new_id("chatcmpl"), 0, "chat.completion.chunk"
    render = raw_text if task is None else (lambda text, done: task.reply(text).content if done else task.partial(text))
    yield sse(envelope(kind, response_id, model, [
        {"index": j, "delta": {"role": "assistant", "content": ""}, "finish_reason": None} for j in range(params.n)]))
    async for d in deltas(steps, prompt, params, render):
        if d.text:
            yield sse(envelope(kind, response_id, model,
                               [{"index": d.index, "delta": {"content": d.text}, "finish_reason": None}]))
        if d.finish_reason:
            choice = {"index": d.index, "delta": {}, "finish_reason": d.finish_reason}
            if task is not None:
                choice["fcot"] = task.reply(d.completion).fcot
            yield sse(envelope(kind, response_id, model, [choice]))
            completion_tokens += d.new_tokens
    if include_usage:
        yield sse(envelope(kind, response_id, model, [], usage(prompt_tokens, completion_tokens)))
    yield sse("[DONE]")


async def guarded(events: AsyncIterator[str]) -> AsyncIterator[str]:
    """The events, ending in an OpenAI error event if generation fails after the response has started."""
    try:
        async for event in events:
            yield event
    except ModelError as exc:
        yield sse(APIError(400, str(exc), "invalid_request").body())
    except Exception as exc:  # noqa: BLE001 - the status line is sent; the client learns of it in the stream
        log.exception("streamed generation failed")
        yield sse(APIError(500, f"generation failed: {type(exc).__name__}: {exc}", "server_error").body())
