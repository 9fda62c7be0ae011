"""`train()`: fine-tune a student on curated samples into `runs/<name>/`, resuming from checkpoints.

The run dir ends with the final model + tokenizer (LoRA adapters merged into the base, so it loads like
any model), `fcot.yaml` (the resolved config and data), `train_metrics.json`, the `checkpoints/` it
was picked from, and a `.fcot-complete` marker written last: a dir without it is unfinished.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from fcot.curate import hold_out, questions_of, split_validation
from fcot.errors import ConfigError, StorageError, free_bytes, storage_guard
from fcot.formats import read_json, write_json
from fcot.student.config import StudentConfig
from fcot.student.data import check_model_type, read_train_file, tokenize
from fcot.models.loading import DONE_MARKER, load_model
from fcot.student.curve import plot_learning_curve
from fcot.student.run import (CHECKPOINTS, CURVE_FILE, METRICS_FILE, STAGING, checkpoints, is_complete, is_saved,
                              last_checkpoint, read_record, run_record, same_run, sha256, write_record)
from fcot.student.selection import validation_scorer

log = logging.getLogger(__name__)



@dataclass
class TrainResult:
    """Where the model went and how training went."""

    out_dir: Path
    global_step: int
    losses: list[dict]  # {"step", "loss", "epoch"} per optimizer step
    eval_losses: list[dict] = field(default_factory=list)  # {"step", "eval_loss"}
    # the learning curve: {"step", "epoch", "eval_accuracy", "correct", "n", "ci95", "right"} per validation, "right"
    # being the sample indices of the held-out questions answered correctly
    eval_accuracies: list[dict] = field(default_factory=list)
    selected_by: str = "loss"  # what picked best_checkpoint: validation "accuracy" or "loss"
    best_checkpoint: str | None = None  # the checkpoint the final model comes from (None: the last step)
    choice: str = ""  # why that checkpoint (fcot.student.choose)
    real_tokens: int = 0  # non-padding tokens trained on, over all sessions
    tokens_per_s: float = 0.0  # real tokens per second of training-step time, this session
    padding_share: float = 0.0  # of the token positions computed this session, the share that was padding
    wall_time_s: float = 0.0  # training seconds over all sessions
    train_samples: int = 0
    val_samples: int = 0  # curated samples of the held-out questions (validation loss)
    val_questions: list = field(default_factory=list)  # the held-out train questions (validation accuracy)
    val_max_new_tokens: int | None = None  # the generation budget of their answers
    dropped_too_long: int = 0
    resumed_from: str | None = None
    world_size: int = 1  # training processes (accelerate launch --num_processes)
    precision: str = ""  # fp32 or bf16 matmuls (fcot.precision)

    @property
    def chosen(self) -> str:
        """Which checkpoint the model comes from and why, in one line."""
        if self.eval_accuracies:
            return f"{self.choice}; validated on {len(self.val_questions)} held-out train questions"
        if self.best_checkpoint:
            return f"the lowest validation loss, on {self.val_samples} held-out samples"
        return "the last step (no validation)"

    def to_json(self) -> dict:
        """`train_metrics.json`: paths relative to the run folder, so the folder can move."""
        def inside(path: str | None) -> str | None:
            return path and os.path.relpath(path, self.out_dir)

        return {**asdict(self), "out_dir": ".", "best_checkpoint": inside(self.best_checkpoint),
                "resumed_from": inside(self.resumed_from)}

    @classmethod
    def from_json(cls, raw: dict, out_dir: Path) -> "TrainResult":
        """The result recorded in a run folder's `train_metrics.json`, wherever the folder is now."""
        def inside(path: str | None) -> str | None:  # runs from before paths were relative kept absolute ones
            return path and str(out_dir / path if not Path(path).is_absolute() else
                                out_dir / CHECKPOINTS / Path(path).name)

        return cls(**{**raw, "out_dir": out_dir, "best_checkpoint": inside(raw.get("best_checkpoint")),
                      "resumed_from": inside(raw.get("resumed_from"))})


def train(
    config: StudentConfig,
    train_file: str | Path,
    out_dir: str | Path,
    *,
    resume: bool | None = None,
    progress: Callable[[dict], None] | None = None,
    callbacks: list | None = None,
) -> TrainResult:
    """Fine-tune `config.model` on a curated JSONL into out_dir; resumes from its checkpoints when there are some."""
    train_file, out_dir = Path(train_file), Path(out_dir)
    data = read_train_file(train_file)
    if is_complete(out_dir):
        return _finished_run(config, data.path, out_dir)
    _drop_unfinished_checkpoints(out_dir)
    checkpoint = last_checkpoint(out_dir)
    if resume and checkpoint is None:
        raise ConfigError(f"{out_dir}: --resume given but there is no checkpoint to resume from; drop --resume")
    if resume is False and checkpoint is not None:
        shutil.rmtree(out_dir / CHECKPOINTS, ignore_errors=True)  # --restart: the old checkpoints would mix in
        checkpoint = None

    loaded = load_model(config.model)
    check_model_type(data, loaded.model_type)
    record = run_record(config, data.path, data.meta, loaded.model_type, out_dir)
    previous = read_record(out_dir)
    if checkpoint is not None and previous and not same_run(previous, record):
        raise ConfigError(f"{out_dir}: holds checkpoints of a run with another config or train file; "
                          "use another --out, or delete the folder to start over")
    held = hold_out(data.meta.get("questions") or questions_of(data.rows), config.val_fraction, config.seed,
                    config.val_questions)
    rows_train, rows_val = split_validation(data.rows, held)
    if not rows_train:
        raise ConfigError(f"{data.path}: every curated question is held out for validation; lower --val-fraction "
                          "or curate more questions")
    samples_train, dropped = tokenize(rows_train, loaded.tokenizer, loaded.model_type, config.max_len)
    samples_val, dropped_val = tokenize(rows_val, loaded.tokenizer, loaded.model_type, config.max_len)
    if not samples_train:
        raise ConfigError(f"{data.path}: all {len(rows_train)} samples are longer than max_len={config.max_len} "
                          "tokens; raise --max-len")
    if dropped + dropped_val:
        log.warning("%s: dropped %d samples longer than max_len=%d tokens", data.path, dropped + dropped_val,
                    config.max_len)
    scorer = _scorer(config, data, held, loaded)
    write_record(out_dir, record, header=f"fcot train {data.path} --out {out_dir}")
    return _fit(config, loaded, samples_train, samples_val, out_dir, checkpoint, progress, callbacks or [],
                dropped + dropped_val, scorer, held if scorer or samples_val else [])


def _scorer(config: StudentConfig, data: Any, held: list, loaded: Any) -> Any:
    """The validation scorer of the held-out questions, or None where selection goes by loss."""
    if config.select_by != "accuracy" or not held:
        return None
    scorer = validation_scorer(held, data.rows, data.meta, loaded.tokenizer, loaded.model_type, config.precision)
    if scorer is None:
        log.warning("%s: no task recorded with the samples; the best checkpoint is picked by loss", data.path)
    return scorer


def _fit(config: StudentConfig, loaded: Any, samples_train: list[dict], samples_val: list[dict], out_dir: Path,
         checkpoint: Path | None, progress: Callable[[dict], None] | None, callbacks: list, dropped: int,
         scorer: Callable[[Any, Any], tuple[bool, ...]] | None, held: list) -> TrainResult:
    import torch
    from peft.helpers import disable_input_dtype_casting

    from fcot.student.attention import training_attention
    from fcot.student.trainer import (MetricsCallback, TokenCounter, build_trainer, is_out_of_memory,
                                      validation_points)

    torch.manual_seed(config.seed)
    counter = TokenCounter(encoder_decoder=loaded.model_type == "encoder_decoder")
    metrics = MetricsCallback(counter, progress)
    if checkpoint is not None:
        metrics.resume_from(checkpoint)
        log.info("resuming from %s", checkpoint)
    trainer = build_trainer(config, loaded.model, loaded.tokenizer, loaded.model_type, samples_train, samples_val,
                            out_dir / CHECKPOINTS, [metrics, *callbacks], scorer, counter)
    need = _bytes_to_write(trainer, config)
    free = free_bytes(out_dir)
    if need > free:
        raise StorageError(f"{out_dir}: training writes about {need / 1e6:,.0f} MB (checkpoints and the final model), "
                           f"{free / 1e6:,.0f} MB are free; free space or pass another --out")
    # under a bf16 autocast, peft's cast of each adapter's input to the adapter's fp32 is undone by the autocast
    # anyway: two copies of every adapter input per step, and their backward, saved
    bf16 = config.resolved_precision == "bf16"
    try:
        with storage_guard(out_dir / CHECKPOINTS, "a checkpoint", need, "; the half-written one is dropped on resume"), \
                training_attention(loaded.model, config.resolved_precision), \
                disable_input_dtype_casting(trainer.model, active=bf16):
            trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    except Exception as exc:
        if is_out_of_memory(exc):
            raise ConfigError(f"out of memory training {config.model} with micro-batches of "
                              f"{config.micro_batches[0]} and max_len {config.max_len}; retry with a smaller "
                              "--micro-batch-size or --max-len, or with --activation-checkpointing") from exc
        raise
    session_tokens = int(trainer.accelerator.reduce(torch.tensor(counter.tokens), "sum"))
    session_slots = int(trainer.accelerator.reduce(torch.tensor(counter.slots), "sum"))
    session_seconds = metrics.session_seconds
    state = trainer.state
    history = state.log_history
    result = TrainResult(
        out_dir=out_dir,
        global_step=state.global_step,
        losses=[{"step": h["step"], "loss": h["loss"], "epoch": h.get("epoch")} for h in history if "loss" in h],
        eval_losses=[{"step": h["step"], "eval_loss": h["eval_loss"]} for h in history if "eval_loss" in h],
        eval_accuracies=[_curve_point(p, scorer.questions) for p in validation_points(history)] if scorer else [],
        selected_by="accuracy" if scorer is not None else "loss",
        best_checkpoint=state.best_model_checkpoint,
        choice=next((h["eval_choice"] for h in reversed(history) if "eval_choice" in h), ""),
        real_tokens=metrics.prior_tokens + session_tokens,
        tokens_per_s=session_tokens / max(metrics.step_seconds, 1e-9),
        padding_share=1 - session_tokens / max(session_slots, 1),
        wall_time_s=metrics.prior_seconds + session_seconds,
        train_samples=len(samples_train),
        val_samples=len(samples_val),
        val_questions=list(scorer.questions if scorer else held),
        val_max_new_tokens=scorer.max_new_tokens if scorer else None,
        dropped_too_long=dropped,
        resumed_from=str(checkpoint) if checkpoint else None,
        world_size=trainer.args.world_size,
        precision=config.resolved_precision,
    )
    if trainer.is_world_process_zero():
        _save_final(trainer, loaded.tokenizer, config, out_dir, result)
    trainer.accelerator.wait_for_everyone()
    return result


def _bytes_to_write(trainer: Any, config: StudentConfig) -> int:
    """About what a run writes: its checkpoints (trainable weights and Adam's two moments, the whole model with full
    fine-tuning), one more while the oldest is rotated out, and the final model in fp32."""
    params = [(p.numel(), p.requires_grad) for p in trainer.model.parameters()]
    total, trainable = sum(n for n, _ in params), sum(n for n, grad in params if grad)
    checkpoint = 4 * (trainable * 2 + (trainable if config.lora else total))
    return (config.save_total_limit + 1) * checkpoint + 4 * total


def _curve_point(point: Any, questions: list[int]) -> dict:
    return {"step": point.step, "epoch": point.epoch, "eval_accuracy": point.accuracy / 100, "correct": point.correct,
            "n": len(point.right), "ci95": list(point.ci95), "right": [q for q, r in zip(questions, point.right) if r]}


def _save_final(trainer: Any, tokenizer: Any, config: StudentConfig, out_dir: Path, result: TrainResult) -> None:
    """Save the (merged) model and tokenizer next to the run files, then the metrics, then the marker."""
    model = trainer.accelerator.unwrap_model(trainer.model)
    if config.lora:
        model = model.merge_and_unload()
    tmp = out_dir / ".final.tmp"  # a fixed name: what a crash left here goes at the next attempt
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with storage_guard(out_dir, "the final model", 4 * sum(p.numel() for p in model.parameters())):
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for item in tmp.iterdir():
        os.replace(item, out_dir / item.name)
    tmp.rmdir()
    metrics = result.to_json()
    write_json(out_dir / METRICS_FILE, metrics)
    plot_learning_curve(metrics, out_dir / CURVE_FILE)
    (out_dir / DONE_MARKER).write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"), encoding="utf-8")


def _drop_unfinished_checkpoints(out_dir: Path) -> None:
    """Remove what a save that never finished left (a crash, a kill or a full disk during it), saying so once."""
    staging = out_dir / CHECKPOINTS / STAGING
    unfinished = [*staging.glob("checkpoint-*"), *(p for p in checkpoints(out_dir) if not is_saved(p))]
    for path in unfinished:
        shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)
    if unfinished:
        back = last_checkpoint(out_dir)
        log.warning("%s: dropped %s, left half-written by an interrupted save; %s", out_dir / CHECKPOINTS,
                    ", ".join(p.name for p in unfinished), f"resuming from {back.name}" if back else "starting over")


def _finished_run(config: StudentConfig, train_file: Path, out_dir: Path) -> TrainResult:
    """The result of a complete run with the same config; a different config is refused."""
    previous = read_record(out_dir)
    wanted = {"student": config.resolved().model_dump(mode="json"), "data": {"sha256": sha256(train_file)}}
    if not same_run(previous, wanted):
        raise ConfigError(f"{out_dir}: holds a finished run with another config or train file; "
                          "use another --out, or delete the folder to train again")
    log.info("%s: already trained; nothing to do", out_dir)
    return TrainResult.from_json(read_json(out_dir / METRICS_FILE), out_dir)
