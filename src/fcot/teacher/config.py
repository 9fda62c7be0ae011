"""`TeachConfig`: every option of `fcot teach`, with the paper's defaults (the CLI and `fcot run` read them here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fcot.errors import ConfigError
from fcot.formats import DEFAULT_OUT, check_sampling, safe_name, sampled_key
from fcot.tasks import Task
from fcot.tasks.task import SPLITS
from fcot.templates import RATIONALE_TOKENS, ZS_COT_ANSWER_TOKENS

BACKENDS = ("openai", "local", "recorded")
PROMPTS = ("zs_cot", "fs_cot")


@dataclass
class TeachConfig:
    """Everything `fcot teach` needs; the defaults follow the paper."""

    task: str | Task  # a task key, or the Task itself (e.g. a custom task)
    teacher: str  # backend:model, e.g. openai:gpt-4o-mini, local:runs/x, recorded:text-davinci-002
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    prompt: str = "zs_cot"  # zs_cot (two steps) or fs_cot (the task's few-shot exemplars, one step)
    samples: int = 1  # D rationales per question (diverse reasoning)
    temperature: float = 0.0  # the paper: 0 for one greedy sample, 0.7 for diverse reasoning
    top_p: float = 1.0
    max_tokens: int = RATIONALE_TOKENS  # rationale length limit
    answer_max_tokens: int = ZS_COT_ANSWER_TOKENS  # step-2 answer length limit
    split: str = "train"  # train, test or all samples of the task's default split
    limit: int | None = None  # only the first N questions (cheap trial runs)
    chat: bool = False  # send the text as one user message to /chat/completions
    concurrency: int = 16
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    max_retries: int = 6
    timeout: float = 60.0
    backoff: float = 1.0
    batch: bool = False  # OpenAI Batch API (half price, hours of latency)
    batch_poll: float = 30.0  # seconds between batch status checks
    prices: Path | None = None  # JSON {"model": [input, output]} dollars per 1M tokens
    cache: Path | None = None  # SQLite cache (default: fcot.teacher.cache.default_cache_path())
    save_every: float = 10.0  # seconds between partial writes of the output file
    out: Path = DEFAULT_OUT
    data_dir: Path | None = None
    teacher_name: str | None = None  # names the output folder B_<name> (default: the model's name)

    def validate(self) -> None:
        """Raise ConfigError naming the first bad option."""
        backend, _ = parse_teacher(self.teacher)
        if self.prompt not in PROMPTS:
            raise ConfigError(f"--prompt {self.prompt!r}: use one of {', '.join(PROMPTS)}")
        if self.split not in SPLITS:
            raise ConfigError(f"--split {self.split!r}: use one of {', '.join(SPLITS)}")
        check_sampling(self.samples, self.temperature)
        for flag, per_minute in (("--rpm", self.requests_per_minute), ("--tpm", self.tokens_per_minute)):
            if per_minute is not None and not per_minute >= 1:
                raise ConfigError(f"{flag} {per_minute:g}: use at least 1 per minute, or leave it out for no limit")
        if self.max_retries < 0:
            raise ConfigError(f"--max-retries {self.max_retries}: use 0 (no retries) or more")
        for flag, seconds in (("--timeout", self.timeout), ("--backoff", self.backoff),
                              ("--batch-poll", self.batch_poll), ("--save-every", self.save_every)):
            if not seconds > 0:
                raise ConfigError(f"{flag} {seconds:g}: use a number of seconds above 0")
        if self.teacher_name is not None and not safe_name(self.teacher_name).strip(" .-"):
            raise ConfigError(f"--teacher-name {self.teacher_name!r}: use a name with letters or digits")
        if self.batch and backend != "openai":
            raise ConfigError(f"--batch works with openai: teachers only, not {backend}:")
        if self.base_url and backend != "openai":
            raise ConfigError(f"--base-url is for openai: teachers only, not {backend}:")
        if self.concurrency < 1 or self.max_tokens < 1 or self.answer_max_tokens < 1:
            raise ConfigError("--concurrency, --max-tokens and --answer-max-tokens must be at least 1")

    @property
    def completion_key(self) -> str:
        """`zs_cot` for one greedy sample, else e.g. `zs_cot_t70_d8`."""
        return sampled_key(self.prompt, self.samples, self.temperature)


def parse_teacher(spec: str) -> tuple[str, str]:
    """(backend, model) from `backend:model`, e.g. `openai:gpt-4o-mini`."""
    backend, sep, model = spec.partition(":")
    if not sep or backend not in BACKENDS or not model:
        raise ConfigError(f"--teacher {spec!r}: expected <backend>:<model> with backend one of "
                          f"{', '.join(BACKENDS)}, e.g. openai:gpt-4o-mini or recorded:text-davinci-002")
    return backend, model
