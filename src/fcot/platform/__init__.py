"""Fine-tune-CoT students trained through a hosted fine-tuning API (OpenAI or any compatible platform).

The paper's `oai` workflow on today's API: `write_finetune_files` turns curated samples into
`finetune_data/P_openai/F_<key>.jsonl`, `train_on_platform` uploads them and runs a fine-tuning job recorded in
`model_metadata/F_<key>.json`, and `evaluate_platform_model` scores the fine-tuned model through the teacher's
inference path. Progress goes to callbacks and failures raise `PlatformError`; `fcot.cli.platform` prints.
"""

from __future__ import annotations

from fcot.platform.api import DEFAULT_POLL_INTERVAL, PLATFORMS, JobUpdate, cancel_job, check_platform, make_client
from fcot.platform.data import FinetuneFiles, read_finetune_file, write_finetune_files
from fcot.platform.evaluate import PlatformEvalConfig, evaluate_platform_model, fine_tuned_model
from fcot.platform.metadata import ModelMetadata, load_model_metadata, load_training_prices
from fcot.platform.train import train_on_platform

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "FinetuneFiles",
    "JobUpdate",
    "ModelMetadata",
    "PLATFORMS",
    "PlatformEvalConfig",
    "cancel_job",
    "check_platform",
    "evaluate_platform_model",
    "fine_tuned_model",
    "load_model_metadata",
    "load_training_prices",
    "make_client",
    "read_finetune_file",
    "train_on_platform",
    "write_finetune_files",
]
