"""The terminal side of `--platform` in `fcot curate`, `fcot train` and `fcot eval`: run a step and show its progress.

The verbs call these functions from their `--platform` branch; `fcot.platform` is imported here, inside them.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcot.cli import INTERRUPTED
from fcot.cli.common import console, err_console, progress_bar
from fcot.errors import ConfigError
from fcot.formats import finetune_key_of, model_metadata_path

if TYPE_CHECKING:
    from fcot.platform import PlatformEvalConfig


def curate_for_platform(
    platform: str,
    out: Path,
    result: Any,
    data_format: str = "chat",
    validation_fraction: float = 0.1,
    seed: int = 0,
) -> Path:
    """Write a `CurateResult` as the platform's training (and validation) file and say where it went."""
    from fcot.platform import check_platform, write_finetune_files

    check_platform(platform)
    info = {**result.config, "stats": result.stats.to_json()}
    files = write_finetune_files(out, result.finetune_key, result.samples, data_format=data_format,
                                 validation_fraction=validation_fraction, seed=seed, platform=platform, info=info)
    validation = f" and {files.validation_examples} to {files.validation}" if files.validation else ""
    console.print(f"wrote {files.train_examples} {files.data_format} examples to {files.train}{validation}",
                  highlight=False, soft_wrap=True)
    return files.train


def _event_line(event: dict) -> str:
    from rich.markup import escape

    when = datetime.datetime.fromtimestamp(event.get("created_at") or 0).strftime("%H:%M:%S")
    style = {"error": "red", "warn": "yellow"}.get(event.get("level") or "", "")
    message = escape(event.get("message", ""))
    return f"[dim]{when}[/dim] [{style}]{message}[/{style}]" if style else f"[dim]{when}[/dim] {message}"


def train_on(
    platform: str,
    out: Path,
    finetune_key: str | None,
    base_model: str | None,
    train_file: Path | None,
    base_url: str | None,
    epochs: float | None,
    batch_size: int | None,
    learning_rate_multiplier: float | None,
    suffix: str | None,
    seed: int | None,
    prices: Path | None,
    poll_interval: float,
    wait: bool,
) -> None:
    """Upload, create or re-attach to the job, show its status and events until it ends, then summarise."""
    from fcot.platform import JobUpdate, check_platform, load_training_prices, make_client, train_on_platform

    check_platform(platform)
    if not base_model:
        raise ConfigError("--base-model is missing; name a model the platform can fine-tune, "
                          "e.g. gpt-4.1-nano-2025-04-14")
    if not finetune_key and train_file is None:
        raise ConfigError("--finetune-key is missing; name the curated data, e.g. --finetune-key zs_cot_multiarith")
    finetune_key = finetune_key or finetune_key_of(train_file)
    if epochs is not None and epochs != int(epochs):
        raise ConfigError(f"--epochs {epochs}: the platform trains whole epochs; use an integer")
    client = make_client(base_url)
    hyper = {"n_epochs": None if epochs is None else int(epochs), "batch_size": batch_size,
             "learning_rate_multiplier": learning_rate_multiplier}
    where = model_metadata_path(out, finetune_key)
    with err_console.status(f"fine-tuning {base_model} on {finetune_key}") as status:

        def show(update: JobUpdate) -> None:
            for event in update.events:
                err_console.print(_event_line(event), highlight=False, soft_wrap=True)
            job = update.job
            tokens = f", trained tokens {job['trained_tokens']}" if job.get("trained_tokens") else ""
            status.update(f"job {job['id']}: {job['status']}{tokens}")

        try:
            meta = train_on_platform(out, finetune_key, base_model, client, hyperparameters=hyper, suffix=suffix,
                                     seed=seed, prices=load_training_prices(prices), poll_interval=poll_interval,
                                     wait=wait, on_update=show, training_file=train_file)
        except KeyboardInterrupt:
            status.stop()
            err_console.print(f"interrupted: the job keeps running on the platform; re-run the same command to "
                              f"re-attach ({where})", highlight=False, soft_wrap=True)
            sys.exit(INTERRUPTED)
    if not wait:
        console.print(f"job {meta.job_id} is {meta.status}; re-run without --no-wait to follow it ({where})",
                      highlight=False, soft_wrap=True)
        return
    cost = f"${meta.estimated_cost_usd:.4f}" if meta.estimated_cost_usd is not None else "unknown (no price)"
    console.print(f"fine-tuned model {meta.fine_tuned_model}\ntrained tokens {meta.trained_tokens}, estimated cost "
                  f"{cost}, hyperparameters {meta.hyperparameters}\nrecorded in {where}", highlight=False,
                  soft_wrap=True)


def eval_on(platform: str, config: PlatformEvalConfig) -> None:
    """Complete the task with the fine-tuned model (progress bar), save the completions and print the accuracy."""
    from rich.progress import TextColumn

    from fcot.platform import check_platform, evaluate_platform_model

    check_platform(platform)
    with progress_bar(TextColumn("{task.fields[info]}")) as progress:
        bar = progress.add_task(f"eval {config.finetune_key}", total=None, info="")

        def update(stats: Any) -> None:
            info = f"cached {stats.cache_hits}  retries {stats.retries}  failed {stats.failed}"
            progress.update(bar, total=stats.total, completed=stats.done + stats.failed, info=info)

        cd, evaluation, path = evaluate_platform_model(config, on_progress=update)
    console.print(f"{cd.metadata['fine_tuned_model']} on {evaluation.dataset_key} ({config.split}): accuracy "
                  f"{100 * evaluation.accuracy:.2f}% of {evaluation.n} ({evaluation.template})\nwrote {path}",
                  highlight=False, soft_wrap=True)
