"""An OpenAI-compatible HTTP server for a local causal LM, and the batched generator behind it."""

from __future__ import annotations

from fcot.serve.app import create_app
from fcot.serve.generate import Batcher, ContextTooLong, GenOutput, GenParams, Generator, load_generator

__all__ = ["Batcher", "ContextTooLong", "GenOutput", "GenParams", "Generator", "create_app", "load_generator"]
