"""`TeachConfig`: every option of `fcot teach`, with the paper's defaults (the CLI and `fcot run` read them here).

`TeacherOptions` are the options a run config's `teacher:` section shares with `fcot teach`; both are pydantic
models that report every problem at once. `TeachConfig.checked(**options)` turns those problems into one
`ConfigError` line that names the CLI flags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, InstanceOf, ValidationError, ValidationInfo, field_validator

from fcot.errors import ConfigError, field_problems
from fcot.formats import DEFAULT_OUT, MAX_SAMPLES, MAX_TEMPERATURE, safe_name, sampled_key
from fcot.tasks import Task
from fcot.templates import RATIONALE_TOKENS, ZS_COT_ANSWER_TOKENS

BACKENDS = ("openai", "local", "recorded")
FLAGS = {"requests_per_minute": "--rpm", "tokens_per_minute": "--tpm"}  # the rest: --field-name


class TeacherOptions(BaseModel):
    """Which teacher answers, and how many rationales it writes per question."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), frozen=True)

    teacher: str  # backend:model, e.g. openai:gpt-4o-mini, local:runs/x, recorded:text-davinci-002
    base_url: Optional[str] = None  # OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server, ...)
    samples: int = Field(1, ge=1, le=MAX_SAMPLES)  # D rationales per question (diverse reasoning)
    temperature: float = Field(0.0, ge=0, le=MAX_TEMPERATURE, validate_default=True)  # the paper: 0, or 0.7 for D > 1
    max_tokens: int = Field(RATIONALE_TOKENS, ge=1)  # rationale length limit
    concurrency: int = Field(16, ge=1)  # requests in flight at once

    @field_validator("teacher")
    @classmethod
    def _known_backend(cls, spec: str) -> str:
        if problem := _teacher_problem(spec):
            raise ValueError(problem)
        return spec

    @field_validator("base_url")
    @classmethod
    def _openai_only(cls, url: str | None, info: ValidationInfo) -> str | None:
        if url and (other := _other_backend(info)):
            raise ValueError(f"set it only for openai: teachers (this one is {other}:)")
        return url

    @field_validator("temperature")
    @classmethod
    def _diverse(cls, temperature: float, info: ValidationInfo) -> float:
        samples = info.data.get("samples", 1)
        if samples > 1 and temperature <= 0:
            raise ValueError(f"with {samples} samples per question, temperature 0 gives identical rationales; "
                             "use 0.7 for diverse reasoning")
        return temperature


class TeachConfig(TeacherOptions):
    """Everything `fcot teach` needs; the defaults follow the paper."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    task: str | InstanceOf[Task]  # a task key, or the Task itself (e.g. a custom task)
    api_key_env: str = "OPENAI_API_KEY"
    prompt: Literal["zs_cot", "fs_cot"] = "zs_cot"  # zs_cot (two steps) or fs_cot (few-shot exemplars, one step)
    top_p: float = Field(1.0, gt=0, le=1)
    answer_max_tokens: int = Field(ZS_COT_ANSWER_TOKENS, ge=1)  # step-2 answer length limit
    split: Literal["train", "test", "all"] = "train"  # train, test or all samples of the task's default split
    limit: Optional[int] = Field(None, ge=1)  # only the first N questions (cheap trial runs)
    chat: bool = False  # send the text as one user message to /chat/completions
    requests_per_minute: Optional[float] = Field(None, ge=1)
    tokens_per_minute: Optional[float] = Field(None, ge=1)
    max_retries: int = Field(6, ge=0)
    timeout: float = Field(60.0, gt=0)  # seconds per request
    backoff: float = Field(1.0, gt=0)  # first retry waits up to this many seconds, doubling
    batch: bool = False  # OpenAI Batch API (half price, hours of latency)
    batch_poll: float = Field(30.0, gt=0)  # seconds between batch status checks
    prices: Optional[Path] = None  # JSON {"model": [input, output]} dollars per 1M tokens
    cache: Optional[Path] = None  # SQLite cache (default: fcot.teacher.cache.default_cache_path())
    save_every: float = Field(10.0, gt=0)  # seconds between partial writes of the output file
    out: Path = DEFAULT_OUT
    data_dir: Optional[Path] = None
    teacher_name: Optional[str] = None  # names the output folder B_<name> (default: the model's name)

    @field_validator("teacher_name")
    @classmethod
    def _nameable(cls, name: str | None) -> str | None:
        if name is not None and not safe_name(name).strip(" .-"):
            raise ValueError("use a name with letters or digits")
        return name

    @field_validator("batch")
    @classmethod
    def _batch_openai_only(cls, batch: bool, info: ValidationInfo) -> bool:
        if batch and (other := _other_backend(info)):
            raise ValueError(f"the Batch API is for openai: teachers only, not {other}:")
        return batch

    @property
    def completion_key(self) -> str:
        """`zs_cot` for one greedy sample, else e.g. `zs_cot_t70_d8`."""
        return sampled_key(self.prompt, self.samples, self.temperature)

    @classmethod
    def checked(cls, **options: Any) -> TeachConfig:
        """The config, or one ConfigError naming every bad option by its `fcot teach` flag and value."""
        try:
            return cls(**options)
        except ValidationError as exc:
            raise ConfigError("; ".join(field_problems(exc.errors(), _flag))) from exc


def _other_backend(info: ValidationInfo) -> str | None:
    """The teacher's backend when it is not openai (None for openai, or a teacher that failed its own check)."""
    backend = (info.data.get("teacher") or "openai:").partition(":")[0]
    return None if backend == "openai" else backend


def _flag(error: dict) -> str:
    field = str(error["loc"][0]) if error["loc"] else ""
    flag = FLAGS.get(field, "--" + field.replace("_", "-"))
    value = error.get("input")
    if isinstance(value, bool):
        return flag
    return f"{flag} {value:g}" if isinstance(value, float) else f"{flag} {value!r}"


def parse_teacher(spec: str) -> tuple[str, str]:
    """(backend, model) from `backend:model`, e.g. `openai:gpt-4o-mini`."""
    if problem := _teacher_problem(spec):
        raise ConfigError(f"--teacher {spec!r}: {problem}")
    backend, _, model = spec.partition(":")
    return backend, model


def _teacher_problem(spec: str) -> str | None:
    backend, sep, model = spec.partition(":")
    if sep and backend in BACKENDS and model:
        return None
    return (f"expected <backend>:<model> with backend one of {', '.join(BACKENDS)}, "
            "e.g. openai:gpt-4o-mini or recorded:text-davinci-002")
