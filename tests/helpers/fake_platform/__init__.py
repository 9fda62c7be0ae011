"""A small local stand-in for a hosted fine-tuning API (files, fine-tuning jobs, inference), for tests."""

from .server import FakePlatform, serve

__all__ = ["FakePlatform", "serve"]
