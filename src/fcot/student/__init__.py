"""The student: load a small model, fine-tune it on curated samples (LoRA or full), write `runs/<name>/`.

    result = train(StudentConfig(model="smollm2-135m-instruct", epochs=3), "F_zs_cot_multiarith.jsonl", "runs/demo")
"""

from __future__ import annotations

from fcot.student.config import StudentConfig
from fcot.student.run import CONFIG_FILE, METRICS_FILE, is_complete, last_checkpoint
from fcot.student.train import TrainResult, train

__all__ = [
    "CONFIG_FILE",
    "METRICS_FILE",
    "StudentConfig",
    "TrainResult",
    "is_complete",
    "last_checkpoint",
    "train",
]
