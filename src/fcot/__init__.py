"""fcot: Fine-tune-CoT — teach small language models to reason with rationales from large ones."""

from __future__ import annotations

from fcot.errors import ConfigError, DataError, FcotError, ModelError, PlatformError, TaskNotFound, TeacherError
from fcot.formats import CompletionDataset, Dataset

__version__ = "0.1.0"

__all__ = [
    "CompletionDataset",
    "ConfigError",
    "DataError",
    "Dataset",
    "FcotError",
    "ModelError",
    "PlatformError",
    "TaskNotFound",
    "TeacherError",
    "__version__",
]
