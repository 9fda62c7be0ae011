"""Models below the pipeline stages: loading (`loading`), batched generation (`generate`), OpenAI-style
completions with request batching and streaming (`completions`), exported models run without torch (`edge`),
and tiny random-init models for tests (`tiny`).

Training, evaluation, serving and the `local:` teacher all load and generate through this package.
"""

from fcot.models.generate import Generation, GenerationStats, generate, trim_at_stop
from fcot.models.loading import (DEFAULT_STUDENT, DONE_MARKER, LoadedModel, check_model_name, default_student_dir,
                                 load_model, models_dir)
from fcot.models.tiny import save_tiny_model

__all__ = ["DEFAULT_STUDENT", "DONE_MARKER", "Generation", "GenerationStats", "LoadedModel", "check_model_name",
           "default_student_dir", "generate", "load_model", "models_dir", "save_tiny_model", "trim_at_stop"]
