"""`StudentConfig`: every knob of `fcot train`, typed, with a YAML round trip.

    # fcot train finetune.jsonl --config student.yaml --out runs/demo
    model: smollm2-135m-instruct
    lora: true
    epochs: 3
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fcot.errors import ConfigError, field_problems
from fcot.formats import read_yaml
from fcot.models.loading import DEFAULT_STUDENT
from fcot.precision import Precision

LORA_LR = 1e-3  # LoRA adapters start at zero and tolerate (need) a larger step than full fine-tuning
FULL_LR = 5e-5


class StudentConfig(BaseModel):
    """How to fine-tune a student on curated samples."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), validate_assignment=True)

    # --- model
    model: str = DEFAULT_STUDENT  # alias, local HF folder, .gguf file or hub name (see fcot.models.loading)
    lora: bool = True  # LoRA adapters (merged into the base at the end) instead of full fine-tuning
    lora_r: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.0, ge=0, lt=1)  # 0: no copy of each adapter's input (faster, less memory)
    lora_targets: str | list[str] = "all-linear"  # peft target_modules
    precision: Precision = "auto"  # bf16 autocasts matmuls (weights stay fp32); auto: see fcot.precision
    activation_checkpointing: bool = False  # recompute each layer's activations in the backward pass: less memory
    # (batch 8 of the default student in about 2 GB instead of 2.7) for about a third more compute

    # --- data
    max_len: int = Field(512, ge=8)  # tokens of input + label; longer samples are dropped, not cut
    batching: Literal["group_by_length", "packed", "padded"] = "group_by_length"
    # group_by_length: batches of similar length (little padding); packed: each batch flattened into one
    # padding-free row (decoders only); padded: input order, padded to the longest (the plain baseline)
    val_questions: int = Field(100, ge=1)  # train questions held out to pick the checkpoint (all answered and scored)
    val_fraction: float = Field(0.2, ge=0, lt=1)  # ... but at most this share of them; 0: no validation

    # --- optimisation
    epochs: float = Field(3.0, gt=0)
    max_steps: int | None = Field(None, ge=1)  # overrides epochs when set
    learning_rate: float | None = Field(None, gt=0)  # None: 1e-3 with LoRA, 5e-5 full
    batch_size: int = Field(8, ge=1)  # samples per optimizer step (per process)
    micro_batch_size: int = Field(4, ge=1)  # at most this many samples per forward pass: a larger batch runs as equal
    # micro-batches with gradient accumulation (the same update; the activations of one micro-batch in memory)
    grad_accum: int = Field(1, ge=1)  # optimizer steps' worth of batches accumulated into one step
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    lr_scheduler: str = "linear"
    seed: int = 0

    # --- checkpoints and logging
    eval_steps: int | None = Field(None, ge=1)  # evaluate and checkpoint every N steps; None: every epoch
    select_by: Literal["accuracy", "loss"] = "accuracy"  # the kept checkpoint: the newest not clearly less accurate on
    # the validation questions (fcot.student.choose; needs fcot curate's data, which names the task), or lowest loss
    save_total_limit: int = Field(2, ge=1)  # checkpoints kept (the chosen one is always among them)

    @property
    def resolved_lr(self) -> float:
        return self.learning_rate or (LORA_LR if self.lora else FULL_LR)

    @property
    def micro_batches(self) -> tuple[int, int]:
        """(samples per forward pass, forward passes per optimizer step): the batch cut into equal micro-batches."""
        per_pass = max(d for d in range(1, min(self.batch_size, self.micro_batch_size) + 1) if self.batch_size % d == 0)
        return per_pass, self.grad_accum * self.batch_size // per_pass

    @property
    def resolved_precision(self) -> str:
        from fcot.precision import resolve_precision

        return resolve_precision(self.precision).name

    def resolved(self) -> "StudentConfig":
        """A copy with defaults that depend on other fields or the machine filled in (learning rate, precision)."""
        return self.model_copy(update={"learning_rate": self.resolved_lr, "precision": self.resolved_precision})

    def to_yaml(self, header: str | None = None) -> str:
        text = yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
        return f"# {header}\n{text}" if header else text

    @classmethod
    def from_mapping(cls, raw: Any, where: str = "config", **overrides: Any) -> "StudentConfig":
        """Validate a mapping (a `student:` section is unwrapped) plus overrides, reporting every problem at once."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a mapping of StudentConfig fields, got {type(raw).__name__}")
        if isinstance(raw.get("student"), dict):
            raw = raw["student"]
        values = {**raw, **{k: v for k, v in overrides.items() if v is not None}}
        try:
            return cls(**values)
        except ValidationError as exc:
            problems = "; ".join(field_problems(exc.errors()))
            raise ConfigError(f"{where}: {problems}") from exc

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> "StudentConfig":
        """Load a StudentConfig YAML (or an `fcot.yaml` with a `student:` section), then apply overrides."""
        return cls.from_mapping(read_yaml(path), where=str(path), **overrides)
