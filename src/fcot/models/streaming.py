"""A completion's state token by token, shared by the torch and the edge backends' streams."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from fcot.models.generate import trim_at_stop


@dataclass(frozen=True)
class StreamRow:
    """One sequence of a streamed completion after a decoding step."""

    text: str  # final text, or while generating the part no stop phrase can still cut
    finish_reason: str | None  # None while generating
    new_tokens: int


def advance(decode: Callable[[list[int]], str], tokens: list[int], token: int, ends: set[int], stop: tuple[str, ...],
            last: bool) -> StreamRow:
    """A sequence's state after its next token: stopped at EOS or a stop phrase, out of length, or growing.

    tokens (the sequence's completion so far) grows by token unless it ends the completion.
    """
    ended = token in ends
    if not ended:
        tokens.append(token)
    text, hit = trim_at_stop(decode(tokens), stop)
    if ended or hit or last:
        return StreamRow(text, "stop" if ended or hit else "length", len(tokens))
    hold = max((len(s) for s in stop if s), default=1) - 1  # characters that may start a stop phrase
    stable = text[:max(0, len(text) - hold)].rstrip("\ufffd")  # a trailing U+FFFD is an unfinished UTF-8 character
    return StreamRow(stable, None, len(tokens))
