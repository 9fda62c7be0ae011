"""`fcot teach`: the teacher writes Zero-shot-CoT rationales and answers for a task's questions."""

from __future__ import annotations

from pathlib import Path

import typer

from fcot.cli import app
from fcot.cli.common import (AnswerTypeOption, DataDirOption, Optional, OutDirOption, announce_precision, console,
                             default_of, err_console, on_interrupt, progress_bar)
from fcot.teacher.config import TeachConfig


@app.command()
def teach(
    task: str = typer.Option(..., "--task", "-t", help="Task key, e.g. multiarith (see `fcot tasks`)."),
    teacher: str = typer.Option(..., "--teacher", help="backend:model, e.g. openai:gpt-4o-mini, "
                                "local:path/to/model, recorded:text-davinci-002."),
    teacher_name: Optional[str] = typer.Option(None, "--teacher-name", help="Name of the teacher in the output "
                                               "folder B_<name> (default: the model's name; a model file's stem)."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint, e.g. "
                                           "http://localhost:8000/v1 (vLLM) or http://localhost:11434/v1 (Ollama)."),
    api_key_env: str = typer.Option(default_of(TeachConfig, "api_key_env"), "--api-key-env", help="Environment variable holding the key."),
    prompt: str = typer.Option(default_of(TeachConfig, "prompt"), "--prompt", help="zs_cot (two-step Zero-shot-CoT) or fs_cot (few-shot CoT)."),
    samples: int = typer.Option(default_of(TeachConfig, "samples"), "--samples", "-D", help="Rationales per question (diverse reasoning: 1..64)."),
    temperature: float = typer.Option(default_of(TeachConfig, "temperature"), "--temperature", help="Sampling temperature (0.7 for diverse reasoning)."),
    max_tokens: int = typer.Option(default_of(TeachConfig, "max_tokens"), "--max-tokens", help="Rationale length limit in tokens."),
    answer_max_tokens: int = typer.Option(default_of(TeachConfig, "answer_max_tokens"), "--answer-max-tokens", help="Step-2 answer length limit in tokens."),
    split: str = typer.Option(default_of(TeachConfig, "split"), "--split", help="train, test or all questions of the default split."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N questions."),
    chat: bool = typer.Option(default_of(TeachConfig, "chat"), "--chat", help="Chat-only endpoint: send the text as one user message."),
    concurrency: int = typer.Option(default_of(TeachConfig, "concurrency"), "--concurrency", "-j", help="Requests in flight at once."),
    rpm: Optional[float] = typer.Option(None, "--rpm", help="Requests-per-minute limit."),
    tpm: Optional[float] = typer.Option(None, "--tpm", help="Tokens-per-minute limit."),
    max_retries: int = typer.Option(default_of(TeachConfig, "max_retries"), "--max-retries", help="Retries per request on 429/5xx/timeouts."),
    timeout: float = typer.Option(default_of(TeachConfig, "timeout"), "--timeout", help="Seconds per request."),
    backoff: float = typer.Option(default_of(TeachConfig, "backoff"), "--backoff", help="First retry waits up to this many seconds (doubling)."),
    batch: bool = typer.Option(default_of(TeachConfig, "batch"), "--batch", help="Use the Batch API (/v1/files + /v1/batches, half price)."),
    batch_poll: float = typer.Option(default_of(TeachConfig, "batch_poll"), "--batch-poll", help="Seconds between batch status checks."),
    prices: Optional[Path] = typer.Option(None, "--prices", help="JSON file mapping model names to (input, output) "
                                          "dollars per 1M tokens."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="SQLite completion cache (default: in fcot's cache)."),
    save_every: float = typer.Option(default_of(TeachConfig, "save_every"), "--save-every", help="Seconds between partial writes of the output."),
    out: Path = OutDirOption,
    data_dir: Optional[Path] = DataDirOption,
    answer_type: Optional[str] = AnswerTypeOption,
) -> None:
    """Write teacher completions to completion_data/B_<model>__C_<key>/D_<task>.json (resumable)."""
    from rich.progress import TextColumn

    from fcot.errors import TeacherError
    from fcot.tasks import resolve_task
    from fcot.errors import EndpointFailed
    from fcot.teacher import Stats
    from fcot.teacher.teach import teach as run_teach
    from fcot.teacher.teach import output_path

    task = resolve_task(task, answer_type)  # an unknown task fails here, before any progress output
    config = TeachConfig.checked(
        task=task, teacher=teacher, base_url=base_url, api_key_env=api_key_env, prompt=prompt, samples=samples,
        temperature=temperature, max_tokens=max_tokens, answer_max_tokens=answer_max_tokens, split=split,
        limit=limit, chat=chat, concurrency=concurrency, requests_per_minute=rpm, tokens_per_minute=tpm,
        max_retries=max_retries, timeout=timeout, backoff=backoff, batch=batch, batch_poll=batch_poll,
        prices=prices, cache=cache, save_every=save_every, out=out, data_dir=data_dir, teacher_name=teacher_name,
    )
    announce = [teacher.startswith("local:")]  # a local model's precision, once it has loaded
    on_interrupt(f"every answer received is in the teacher cache, and the answers so far in {out}/completion_data")
    stats = Stats()
    try:
        with progress_bar(TextColumn("{task.fields[info]}")) as progress:
            bar = progress.add_task(f"teach {task.key}", total=None, info="")

            def update(s: Stats) -> None:
                if announce[0]:
                    announce[0] = False
                    announce_precision(None)
                spent = s.usage
                info = (f"cached {s.cache_hits}  retries {s.retries}  failed {s.failed}  "
                        f"tokens {spent.prompt_tokens + spent.completion_tokens}  ${spent.dollars:.4f}")
                progress.update(bar, total=s.total, completed=s.done + s.failed, info=info)

            result = run_teach(config, on_progress=update, stats=stats)
    except EndpointFailed:
        raise
    except TeacherError:
        _summary(stats)  # some samples failed for good: say what the rest cost, then the one-line error
        raise
    _summary(stats)
    path = output_path(config, result.base_model, result.dataset_key)
    console.print(f"wrote {result.total_completions} completions of {len(result)} questions to {path}",
                  highlight=False, soft_wrap=True)


def _summary(stats) -> None:
    """Print tokens and dollars spent in this run and replayed from the cache."""
    spent, replayed = stats.usage, stats.replayed
    err_console.print(
        f"requests {spent.requests} (+{stats.cache_hits} cached, {stats.shared} shared with an identical one), "
        f"retries {stats.retries}, "
        f"tokens {spent.prompt_tokens} in / {spent.completion_tokens} out, estimated ${spent.dollars:.4f} "
        f"(cached answers had cost ${replayed.dollars:.4f})", highlight=False, soft_wrap=True)
