"""The teacher: two-step Zero-shot-CoT (or few-shot CoT) over `openai:`, `local:` and `recorded:` backends.

Names are imported on first use, so `fcot.teacher.config` (read by the CLI for its defaults) stays light.
`teach` is the submodule `fcot.teacher.teach`; its function is `fcot.teacher.teach.teach`.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "Choice": "cache", "CompletionCache": "cache",
    "Backend": "engine", "Completer": "engine", "Sampling": "engine", "Stats": "engine",
    "EndpointConfig": "openai_backend", "OpenAIBackend": "openai_backend",
    "TeachConfig": "config",
    "teach_async": "teach",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
