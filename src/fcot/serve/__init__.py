"""An OpenAI-compatible HTTP server for a local causal LM (task-aware for a trained run), and the generator behind it."""

from __future__ import annotations

from fcot.serve.app import create_app
from fcot.serve.generate import (Batcher, ContextTooLong, EmptyPrompt, GenOutput, GenParams, Generator, StreamRow,
                                 load_generator)
from fcot.serve.student_task import Reply, StudentTask

__all__ = ["Batcher", "ContextTooLong", "EmptyPrompt", "GenOutput", "GenParams", "Generator", "Reply", "StreamRow",
           "StudentTask", "create_app", "load_generator"]
