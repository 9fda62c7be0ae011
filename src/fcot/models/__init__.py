"""Models below the pipeline stages: loading (`loading`), batched generation (`generate`), the one interface that
answers prompts whatever runs the model (`completions`: `open_student`, `Completions`), exported models run without
torch (`edge`), token-by-token state shared by the backends' streams (`streaming`), continuous batching of many
requests (`continuous`, over the rows of a torch model, `torch_rows`, or of a GGUF export, `llama_rows`), and tiny
random-init models for tests (`tiny`); `runinfo` reads what a trained student says of itself (task, template, stop
phrase).

Training loads through this package; evaluation, serving and the `local:` teacher answer through `open_student`.
"""

from fcot.models.completions import Completions, GenParams, open_student
from fcot.models.generate import Generation, GenerationStats, generate, trim_at_stop
from fcot.models.loading import (DEFAULT_STUDENT, DONE_MARKER, LoadedModel, check_model_name, default_student_dir,
                                 load_model, models_dir)
from fcot.models.runinfo import RunInfo, read_run_info
from fcot.models.tiny import save_tiny_model

__all__ = ["Completions", "DEFAULT_STUDENT", "DONE_MARKER", "GenParams", "Generation", "GenerationStats", "LoadedModel",
           "RunInfo", "check_model_name", "default_student_dir", "generate", "load_model", "models_dir", "open_student",
           "read_run_info", "save_tiny_model", "trim_at_stop"]
