"""`fcot train`: fine-tune a student (LoRA or full) on a curated JSONL into runs/<name>/ (scales with accelerate)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from fcot.cli import app
from fcot.formats import DEFAULT_OUT
from fcot.models.loading import DEFAULT_STUDENT
from fcot.cli.common import (Optional, PrecisionOption, ThreadsOption, TrainProgress, announce_precision, console,
                             default_of, on_interrupt, quiet_libraries, set_threads)
from fcot.student.config import FULL_LR, LORA_LR, StudentConfig


def _default(field: str) -> str:
    return f"{default_of(StudentConfig, field):g}"


@app.command()
def train(
    train_file: Optional[Path] = typer.Argument(None, metavar="CURATED_FILE", help="Curated JSONL from `fcot "
                                                "curate` (optional with --platform and --finetune-key)."),
    model: Optional[str] = typer.Option(None, "--model", "--base-model", help=f"{DEFAULT_STUDENT} (default), a "
                                        "model folder, a .gguf file or a hub name; with --platform, the API's base "
                                        "model, e.g. gpt-4.1-nano-2025-04-14."),
    lora: Optional[bool] = typer.Option(None, "--lora/--full", help="LoRA adapters (default) or full fine-tuning."),
    epochs: Optional[float] = typer.Option(None, "--epochs",
                                           help=f"Passes over the data (default {_default('epochs')})."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Stop after N optimizer steps."),
    lr: Optional[float] = typer.Option(None, "--lr",
                                       help=f"Learning rate (default {LORA_LR:g} LoRA, {FULL_LR:g} full)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Samples per step and device (default "
                                             f"{_default('batch_size')})."),
    micro_batch_size: Optional[int] = typer.Option(None, "--micro-batch-size", help="Samples per forward pass "
                                                   f"(default {_default('micro_batch_size')}); a larger batch is "
                                                   "accumulated from equal parts: same update, less memory."),
    max_len: Optional[int] = typer.Option(None, "--max-len", help="Longest sample in tokens (default "
                                          f"{_default('max_len')}); longer "
                                          "ones are dropped."),
    batching: Optional[str] = typer.Option(None, "--batching", help="group_by_length (default), packed "
                                           "(padding-free, decoders) or padded."),
    precision: Optional[str] = PrecisionOption,
    activation_checkpointing: Optional[bool] = typer.Option(
        None, "--activation-checkpointing/--no-activation-checkpointing", help="Recompute activations in the backward "
        "pass: less memory (batch 8 of the default student in about 2 GB instead of 2.7), about a third more compute."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for init, order and validation split."),
    val_questions: Optional[int] = typer.Option(None, "--val-questions", min=1, help="Train questions held out to "
                                                "choose the checkpoint by their answers (default "
                                                f"{_default('val_questions')}) ..."),
    val_fraction: Optional[float] = typer.Option(None, "--val-fraction", help="... but at most this share of the "
                                                 f"train questions (default {_default('val_fraction')}; 0: no validation)."),
    config_file: Optional[Path] = typer.Option(None, "--config", help="StudentConfig YAML (or a run's fcot.yaml); "
                                               "flags override it."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default runs/<curated file name>); "
                                       f"with --platform, the output root (default {DEFAULT_OUT})."),
    resume: Optional[bool] = typer.Option(None, "--resume/--restart", help="Resume from the run folder's last "
                                          "checkpoint (default: whenever there is one) or ignore it."),
    platform: Optional[str] = typer.Option(None, "--platform", help="Fine-tune through a hosted API instead, e.g. "
                                           "openai (any OpenAI-compatible one with --base-url)."),
    finetune_key: Optional[str] = typer.Option(None, "--finetune-key", help="With --platform: names the data "
                                               "(finetune_data/P_<platform>/F_<key>.jsonl) and the job record."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="With --platform: the API's base URL."),
    lr_multiplier: Optional[float] = typer.Option(None, "--lr-multiplier", help="With --platform: learning rate "
                                                  "multiplier (default auto)."),
    suffix: Optional[str] = typer.Option(None, "--suffix", help="With --platform: added to the model name."),
    poll_interval: float = typer.Option(10.0, "--poll-interval", help="With --platform: seconds between job polls."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="With --platform: follow the job until it ends."),
    prices: Optional[Path] = typer.Option(None, "--prices", help='With --platform: JSON {"model": $ per 1M '
                                          'training tokens}.'),
    threads: Optional[int] = ThreadsOption,
) -> None:
    """Fine-tune a student; the run folder gets the model, fcot.yaml and train_metrics.json (resumable)."""
    from fcot.formats import check_writable

    if platform:
        from fcot.cli.platform import train_on

        on_interrupt("the job keeps running on the platform and is recorded in model_metadata/; the same command "
                     "re-attaches to it")
        train_on(platform, check_writable(out or DEFAULT_OUT), finetune_key, model, train_file, base_url, epochs,
                 batch_size, lr_multiplier, suffix, seed, prices, poll_interval, wait)
        return
    if train_file is None:
        from fcot.errors import ConfigError

        raise ConfigError("CURATED_FILE is missing; pass the JSONL written by fcot curate")
    from fcot.student import train as run_train

    overrides = dict(model=model, lora=lora, epochs=epochs, max_steps=max_steps, learning_rate=lr,
                     batch_size=batch_size, micro_batch_size=micro_batch_size, max_len=max_len, batching=batching,
                     precision=precision, seed=seed, activation_checkpointing=activation_checkpointing,
                     val_questions=val_questions, val_fraction=val_fraction)
    if config_file is not None:
        config = StudentConfig.from_yaml(config_file, **overrides)
    else:
        config = StudentConfig.from_mapping({}, where="flags", **overrides)
    out = check_writable(out or Path("runs") / train_file.stem)
    on_interrupt(f"checkpoints saved so far are in {out}/checkpoints")
    main_process = os.environ.get("RANK", "0") == "0"
    quiet_libraries()
    set_threads(threads)
    with TrainProgress(main_process, header=lambda: announce_precision(config.precision)) as report:
        result = run_train(config, train_file, out, resume=resume, progress=report)
    if main_process:
        first, last = result.losses[0]["loss"], result.losses[-1]["loss"]
        console.print(f"trained {result.global_step} steps: loss {first:.3f} -> {last:.3f}, "
                      f"{result.tokens_per_s:,.0f} tokens/s, {result.wall_time_s:.0f} s", highlight=False,
                      soft_wrap=True)
        console.print(f"kept {result.chosen}", highlight=False, soft_wrap=True)
        console.print(f"model in {out}", highlight=False, soft_wrap=True)
