"""`RunConfig`: one Fine-tune-CoT experiment (teacher → curate → student → evaluate → report), YAML on disk.

`load_config(path, overrides)` reads a YAML file, applies `section.field=value` overrides and reports every
problem at once as one `ConfigError` line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fcot.errors import ConfigError, field_problems
from fcot.evaluate.generate import EVAL_BATCH_SIZE
from fcot.formats import DEFAULT_OUT, MAX_SAMPLES, MAX_TEMPERATURE, read_yaml
from fcot.resources import RECORDED_TEACHER
from fcot.student.config import StudentConfig
from fcot.tasks import DEFAULT_SPLIT
from fcot.teacher.config import TeacherOptions
from fcot.templates import TEMPLATES

CONFIG_FILE = "fcot.yaml"  # the experiment's config, kept beside its results
# Fine-tune-CoT trains on rationales; every other template is a baseline (prompting, or vanilla fine-tuning)
RationaleTemplate = Literal[tuple(n for n, t in TEMPLATES.items() if t.trainable and t.writes_rationale)]
Baseline = Literal[tuple(n for n, t in TEMPLATES.items() if not (t.trainable and t.writes_rationale))]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class TeacherSection(TeacherOptions):
    """Where the rationales come from: the options shared with `fcot teach` (`TeacherOptions`), and a price."""

    model_config = ConfigDict(frozen=False)

    teacher: str = f"recorded:{RECORDED_TEACHER}"  # backend:model — recorded:<name|path>, openai:<model>, local:<path>
    usd_per_1k_tokens: float = Field(0.02, ge=0)  # text-davinci-002's price when the paper's data was made


class CurateSection(_Section):
    """How teacher completions become training samples."""

    template: Optional[RationaleTemplate] = None  # None: ft_cot_choice for multiple-choice tasks, else ft_cot_token
    max_rationale_tokens: Optional[int] = Field(None, ge=1)  # drop longer rationales (whitespace words)
    dedupe: bool = False  # drop repeated rationales of the same question
    max_samples: Optional[int] = Field(None, ge=1)  # cap the training set (quick runs)
    max_questions: Optional[int] = Field(None, ge=1)  # only the first N train questions (seeded by student.seed,
    # nested: the 8 are among the 32; vanilla fine-tuning gets the same ones): the dataset-size analysis
    samples: Optional[int] = Field(None, ge=1)  # only the first d teacher completions per question: a D=64 teacher
    # file serves every smaller D
    calculator: Optional[bool] = None  # write results stated in words as explicit steps (`30 - 7 = 23`) and answer
    # with calculator decoding (fcot.curate.annotate, fcot.models.calculator); None: on where the answer is a number

    def calculator_for(self, task: Any) -> bool:
        """Whether the task's rationales are annotated for a calculator: as set, else where its answer is a number
        (MultiArith 15.56 -> 55.56, README "Student quality")."""
        return self.calculator if self.calculator is not None else task.answer_type == "number"


class EvalSection(_Section):
    """How the student answers the test split."""

    split: Literal["train", "test"] = "test"
    limit: Optional[int] = Field(None, ge=1)  # first N test questions only (quick runs)
    batch_size: int = Field(EVAL_BATCH_SIZE, ge=1)
    max_new_tokens: Optional[int] = Field(None, ge=1)  # for templates that write a rationale; None: the template's
    usd_per_cpu_hour: float = Field(0.05, ge=0)  # what an hour of the machine answering costs

    def questions(self, split: dict[str, list[int]]) -> list[int]:
        """The questions answered: the split's part, its first `limit` when set."""
        return split[self.split][: self.limit] if self.limit else split[self.split]


class SelfTrainSection(_Section):
    """Self-training (in the spirit of STaR): the Fine-tune-CoT student samples rationales for the train questions,
    its correct ones join the teacher's, and a second student trains on both (a row of its own in the results)."""

    samples: int = Field(8, ge=1, le=MAX_SAMPLES)  # rationales per train question
    temperature: float = Field(0.7, gt=0, le=MAX_TEMPERATURE)


class RunConfig(_Section):
    """A whole Fine-tune-CoT experiment."""

    name: str = "demo"  # the experiment folder under `out`
    tasks: list[str] = Field(default_factory=lambda: ["multiarith"], min_length=1)  # keys or custom task files
    answer_type: Optional[str] = None  # for custom task files: number | choice | yes_no | text
    out: Path = DEFAULT_OUT
    data_dir: Optional[Path] = None  # fcot-data copy; default: the bundled one
    split_name: str = DEFAULT_SPLIT  # split/<task>__<name>.json, e.g. template: the paper's template-held-out splits
    teacher: TeacherSection = Field(default_factory=TeacherSection)
    curate: CurateSection = Field(default_factory=CurateSection)
    student: StudentConfig = Field(default_factory=StudentConfig)
    eval: EvalSection = Field(default_factory=EvalSection)
    baselines: list[Baseline] = Field(default_factory=lambda: ["zs", "ft_token"])  # also measured, same student
    vanilla_epochs: Optional[float] = Field(None, gt=0)  # epochs of the ft_token baseline; None: student.epochs
    self_train: Optional[SelfTrainSection] = None  # e.g. `--set self_train={}` for D=8 at temperature 0.7
    sweep: dict[str, list[Any]] = Field(default_factory=dict)  # axis (a field, e.g. curate.max_questions) -> values:
    # one sub-run per combination (fcot.sweep), e.g. `--set "sweep={teacher.samples: [1, 2, 4, 8]}"`

    @property
    def root(self) -> Path:
        return self.out / self.name

    def to_yaml(self) -> str:
        header = f"# fcot run {self.root / CONFIG_FILE}\n"
        return header + yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def set_path(tree: dict, dotted: str, value: Any) -> None:
    """Set `section.field` of a raw config mapping."""
    *parents, leaf = dotted.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
        if not isinstance(tree, dict):
            raise ConfigError(f"override {dotted!r}: {part!r} is not a section")
    tree[leaf] = value


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Read a RunConfig from YAML (defaults when path is None) plus `a.b=value` overrides."""
    where = str(path) if path else "default config"
    raw: Any = {}
    if path:
        raw = read_yaml(path) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping of config sections, got {type(raw).__name__}")
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r}: expected section.field=value, e.g. student.epochs=2")
        set_path(raw, key.strip(), yaml.safe_load(value))
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(field_problems(exc.errors()))
        raise ConfigError(f"{where}: {problems}") from exc
