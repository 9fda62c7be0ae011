"""An OpenAI-compatible HTTP server for a local causal LM (task-aware for a trained run), over `fcot.models.completions`."""

from __future__ import annotations

from fcot.serve.app import create_app
from fcot.serve.student_task import Reply, StudentTask

__all__ = ["Reply", "StudentTask", "create_app"]
