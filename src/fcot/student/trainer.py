"""Build the transformers/TRL trainer for a `StudentConfig`: TRL `SFTTrainer` for decoders, `Trainer` for T5-class.

Also the small additions fcot makes to it: a count of the real (non-padding) tokens of each training batch, a
callback recording losses, tokens/s and progress, whose counters survive a resume (`fcot_progress.json` inside each
checkpoint), and checkpoints that appear under their name only once completely written.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import torch
from transformers import Trainer, TrainerCallback
from trl import SFTTrainer

from fcot.formats import write_atomic
from fcot.student.choose import Point, choose
from fcot.student.config import StudentConfig
from fcot.student.loss import FusedLabelLoss, fused_label_loss, label_positions
from fcot.student.run import PROGRESS_FILE, STAGING
from fcot.student.sampler import LengthGroupingMixin

RIGHT_KEY = "eval_right"  # a validation point's answers in the log history: right or wrong, question by question


class TokenCounter:
    """Counts the non-padding tokens of every training batch (inputs, plus labels for encoder-decoders)."""

    def __init__(self, encoder_decoder: bool = False) -> None:
        self.encoder_decoder = encoder_decoder
        self.tokens = 0
        self.slots = 0  # tokens including padding

    def count(self, inputs: dict) -> None:
        mask, ids = inputs.get("attention_mask"), inputs.get("input_ids")
        if ids is not None:
            self.slots += int(ids.numel())
            self.tokens += int(mask.sum()) if mask is not None else int(ids.numel())  # padding-free: no padding
        if self.encoder_decoder and inputs.get("labels") is not None:
            self.slots += int(inputs["labels"].numel())
            self.tokens += int((inputs["labels"] != -100).sum())


class MetricsCallback(TrainerCallback):
    """Losses per step, eval losses, real tokens and train time; reports progress to an optional function."""

    def __init__(self, counter: TokenCounter, progress: Callable[[dict], None] | None = None) -> None:
        self.counter = counter
        self.progress = progress
        self.prior_tokens = 0  # from earlier sessions of a resumed run
        self.prior_seconds = 0.0
        self.start = time.perf_counter()
        self.step_start = self.start
        self.step_seconds = 0.0  # time inside optimizer steps (forward, backward, update) this session
        self.last_loss: float | None = None

    def resume_from(self, checkpoint: Path) -> None:
        saved = json.loads((checkpoint / PROGRESS_FILE).read_text()) if (checkpoint / PROGRESS_FILE).exists() else {}
        self.prior_tokens = int(saved.get("real_tokens", 0))
        self.prior_seconds = float(saved.get("train_seconds", 0.0))

    @property
    def session_seconds(self) -> float:
        return time.perf_counter() - self.start

    def tokens_per_s(self, world_size: int = 1) -> float:
        """Real tokens per second of step time (evaluation and checkpoint saving excluded)."""
        return self.counter.tokens * world_size / max(self.step_seconds, 1e-9)

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.perf_counter()

    def on_step_begin(self, args, state, control, **kwargs):
        self.step_start = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.last_loss = float(logs["loss"])

    def on_step_end(self, args, state, control, **kwargs):
        self.step_seconds += time.perf_counter() - self.step_start
        if self.progress and state.is_world_process_zero:
            self.progress({"step": state.global_step, "max_steps": state.max_steps, "epoch": state.epoch,
                           "loss": self.last_loss, "tokens_per_s": self.tokens_per_s(args.world_size)})

    def saved_progress(self, world_size: int) -> dict:
        """What a checkpoint records of the run so far, for `resume_from`."""
        return {"real_tokens": self.prior_tokens + self.counter.tokens * world_size,
                "train_seconds": self.prior_seconds + self.session_seconds}


class AtomicCheckpointMixin:
    """Writes each checkpoint into `<checkpoints>/.saving/` and renames it into place once complete, so a
    `checkpoint-N` folder is always whole: a kill or a full disk mid-save leaves only the staging folder."""

    progress: MetricsCallback | None = None  # its counters go into each checkpoint, before the rename

    def _save_checkpoint(self, model, trial):
        from transformers.trainer import TRAINER_STATE_NAME
        from transformers.trainer_utils import rotate_checkpoints

        run_dir = Path(self._get_output_dir(trial=trial))
        staging = run_dir / STAGING
        shutil.rmtree(staging, ignore_errors=True)
        self._get_output_dir = lambda trial=None: str(staging)  # the trainer saves (and rotates) inside staging
        try:
            super()._save_checkpoint(model, trial)
        finally:
            del self._get_output_dir
        name = f"checkpoint-{self.state.global_step}"
        final = run_dir / name
        if self.args.should_save:
            if self.state.best_model_checkpoint == str(staging / name):
                self.state.best_model_checkpoint = str(final)
                self.state.save_to_json(str(staging / name / TRAINER_STATE_NAME))
            if self.progress is not None:
                write_atomic(staging / name / PROGRESS_FILE,
                             json.dumps(self.progress.saved_progress(self.args.world_size)))
            shutil.rmtree(final, ignore_errors=True)
            os.replace(staging / name, final)
            staging.rmdir()
            rotate_checkpoints(str(run_dir), self.args.save_total_limit, self.state.best_model_checkpoint)


class TokenCountingMixin:
    """Counts the tokens of each training batch into `counter`, whichever way the loss is computed."""

    counter: TokenCounter | None = None

    def training_step(self, model, inputs, *args, **kwargs):
        if self.counter is not None:
            self.counter.count(inputs)
        return super().training_step(model, inputs, *args, **kwargs)


class ValidationAccuracyMixin:
    """Adds the held-out questions' accuracy (a `ValidationScorer`) to each evaluation, and `eval_keep`: the step
    when `fcot.student.choose` keeps this checkpoint, else -1, so the trainer's best-checkpoint tracking (which
    keeps the larger value) follows the choice. Each point's answers go to the log history, so a resumed run
    chooses from all of them."""

    scorer: Callable[[Any, Any], tuple[bool, ...]] | None = None

    def evaluate(self, *args, **kwargs):
        if len(self.eval_dataset):
            metrics = super().evaluate(*args, **kwargs)
        else:  # no curated sample among the held-out questions: no loss to measure, but the callbacks still hear of it
            metrics = {}
            self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        if self.scorer is not None:
            points = [*validation_points(self.state.log_history),
                      Point(self.state.global_step, self.state.epoch, self.scorer(self.model, self.processing_class))]
            choice = choose(points)
            metrics["eval_accuracy"] = points[-1].accuracy / 100
            metrics["eval_keep"] = float(points[-1].step if choice.kept == len(points) - 1 else -1)
            self.log({"eval_accuracy": metrics["eval_accuracy"], RIGHT_KEY: list(points[-1].right),
                      "eval_choice": choice.reason})
        return metrics


def validation_points(log_history: list[dict]) -> list[Point]:
    """The validated checkpoints of a trainer's log history, in training order."""
    return [Point(h["step"], h.get("epoch"), tuple(h[RIGHT_KEY])) for h in log_history if RIGHT_KEY in h]


class ModelLossSFTTrainer(AtomicCheckpointMixin, TokenCountingMixin, ValidationAccuracyMixin, LengthGroupingMixin,
                          SFTTrainer):
    """TRL's SFT data handling (completion-only labels, padding-free batches) with the model's own loss,
    computed from the logits of label positions only.

    TRL 1.x computes the loss with a fused, chunked log-prob kernel that also tracks entropy and top-1 accuracy;
    on CPU with a 49k vocabulary that made each step about 2x slower than the model's cross-entropy. And the
    vocabulary head over prompt positions is work thrown away: `logits_to_keep` skips it. Training in one process
    on a plain-head model goes further: head and cross-entropy fused (`fcot.student.loss`).
    """

    label_logits_only = False  # set when the model's forward takes `logits_to_keep`
    fused_loss: FusedLabelLoss | None = None  # a plain-head model's: `fused_label_loss`, set once

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        # the model unwrapped: a distributed wrapper's forward must run for its gradient hooks
        if (self.fused_loss and not return_outputs and model.training and inputs.get("labels") is not None
                and model is self.accelerator.unwrap_model(model)):

            def loss_only(num_items_in_batch=None, **batch):
                with self.accelerator.autocast():  # the model's forward, bypassed here, is where accelerate casts
                    return {"loss": self.fused_loss(batch, num_items_in_batch)}

            return Trainer.compute_loss(self, loss_only, inputs, return_outputs, num_items_in_batch)
        if self.label_logits_only and inputs.get("labels") is not None:
            keep, targets = label_positions(inputs["labels"])
            inputs = {**inputs, "logits_to_keep": keep, "shift_labels": targets}
        return Trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)


class Seq2SeqTrainer(AtomicCheckpointMixin, TokenCountingMixin, ValidationAccuracyMixin, LengthGroupingMixin,
                     Trainer):
    """transformers' `Trainer` for encoder-decoders, with fcot's length grouping."""


def training_arguments(config: StudentConfig, output_dir: Path, model_type: str, has_val: bool,
                       by_accuracy: bool = False) -> Any:
    """`SFTConfig` (decoders) or `TrainingArguments` (encoder-decoders) for the config."""
    from transformers import TrainingArguments
    from trl import SFTConfig

    strategy = "steps" if config.eval_steps else "epoch"
    per_pass, passes_per_step = config.micro_batches
    common = dict(
        output_dir=str(output_dir),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        per_device_train_batch_size=per_pass,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=passes_per_step,
        learning_rate=config.resolved_lr,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a share of the steps
        weight_decay=config.weight_decay,
        seed=config.seed,
        data_seed=config.seed,
        bf16=config.resolved_precision == "bf16",
        logging_strategy="steps",
        logging_steps=1,
        eval_strategy=strategy if has_val else "no",
        save_strategy=strategy,
        eval_steps=config.eval_steps,
        save_steps=config.eval_steps or 500,
        save_total_limit=config.save_total_limit,
        load_best_model_at_end=has_val,
        metric_for_best_model=("eval_keep" if by_accuracy else "eval_loss") if has_val else None,
        greater_is_better=by_accuracy if has_val else None,
        train_sampling_strategy="group_by_length" if config.batching == "group_by_length" else "random",
        activation_checkpointing=config.activation_checkpointing,
        label_names=["labels"],
        report_to="none",
        disable_tqdm=True,  # progress goes through MetricsCallback
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        use_cpu=not torch.cuda.is_available(),  # also makes a multi-process launch without GPUs use gloo
        ddp_find_unused_parameters=False,  # every parameter (or adapter) takes part in each step
    )
    if model_type == "encoder_decoder":
        return TrainingArguments(**common)
    return SFTConfig(**common, max_length=None, completion_only_loss=True, padding_free=config.batching == "packed",
                     packing=False, dataset_kwargs={})


def lora_config(config: StudentConfig, model_type: str) -> Any:
    """A peft `LoraConfig` for the config's rank, alpha, dropout and target modules."""
    from peft import LoraConfig, TaskType

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=config.lora_targets,
                      task_type=TaskType.SEQ_2_SEQ_LM if model_type == "encoder_decoder" else TaskType.CAUSAL_LM)


def build_trainer(config: StudentConfig, model: Any, tokenizer: Any, model_type: str, train_rows: list[dict],
                  val_rows: list[dict], output_dir: Path, callbacks: list,
                  scorer: Callable[[Any, Any], tuple[bool, ...]] | None = None,
                  counter: TokenCounter | None = None) -> Any:
    """A ready-to-train transformers/TRL trainer over tokenized samples; `scorer` adds validation accuracy,
    `counter` counts the tokens trained on."""
    import inspect

    from datasets import Dataset
    from transformers import DataCollatorForSeq2Seq, PrinterCallback

    has_val = bool(val_rows) or scorer is not None
    args = training_arguments(config, output_dir, model_type, has_val=has_val, by_accuracy=scorer is not None)
    train_ds = Dataset.from_list(train_rows)
    val_ds = (Dataset.from_list(val_rows) if val_rows else Dataset.from_dict({k: [] for k in train_rows[0]})
              ) if has_val else None
    if model_type == "encoder_decoder":
        if config.lora:
            from peft import get_peft_model

            model = get_peft_model(model, lora_config(config, model_type))
        collator = DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100)
        trainer = Seq2SeqTrainer(model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
                                 data_collator=collator, processing_class=tokenizer, callbacks=callbacks)
    else:
        tokenizer.padding_side = "right"
        trainer = ModelLossSFTTrainer(model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
                                      processing_class=tokenizer, callbacks=callbacks,
                                      peft_config=lora_config(config, model_type) if config.lora else None)
        trainer.label_logits_only = "logits_to_keep" in inspect.signature(model.forward).parameters
        trainer.fused_loss = fused_label_loss(trainer.model)
    trainer.scorer, trainer.counter = scorer, counter
    trainer.progress = next((c for c in callbacks if isinstance(c, MetricsCallback)), None)
    trainer.remove_callback(PrinterCallback)  # logs go to MetricsCallback, not stdout
    return trainer


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether an exception is the accelerator or CPU allocator running out of memory."""
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)
