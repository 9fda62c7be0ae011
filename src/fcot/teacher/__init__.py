"""The teacher: two-step Zero-shot-CoT (or few-shot CoT) over `openai:`, `local:` and `recorded:` backends."""

from __future__ import annotations

from fcot.teacher.cache import Choice, CompletionCache
from fcot.teacher.engine import Backend, Completer, EndpointFailed, RequestFailed, Sampling, Stats
from fcot.teacher.openai_backend import EndpointConfig, OpenAIBackend
from fcot.teacher.teach import TeachConfig, teach, teach_async

__all__ = [
    "Backend",
    "Choice",
    "Completer",
    "CompletionCache",
    "EndpointConfig",
    "EndpointFailed",
    "OpenAIBackend",
    "RequestFailed",
    "Sampling",
    "Stats",
    "TeachConfig",
    "teach",
    "teach_async",
]
