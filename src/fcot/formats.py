"""On-disk records between stages, in the Fine-tune-CoT repository's JSON formats.

`Dataset`: {"metadata": {"dataset_key"}, "data": [{sample_index, question, answer, rationale?}]}
`CompletionDataset`: {"metadata": {dataset_key, base_model, finetune_key, train_key, prediction_template, ...},
                      "data": {"<sample_index>": [{sample_index, completion_index, question, answer, prompt,
                               completion, finish_reason, reasoning_prompt, reasoning_completion,
                               reasoning_finish_reason}]}}
Loading then saving a file gives a JSON-equal file: unknown keys are kept as they are.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from fcot.errors import ConfigError, DataError, storage_guard

DEFAULT_OUT = Path("fcot-out")  # the output root every verb writes its paper-layout folders under

COMPLETION_FIELDS = (
    "sample_index",
    "completion_index",
    "question",
    "answer",
    "prompt",
    "completion",
    "finish_reason",
    "reasoning_prompt",
    "reasoning_completion",
    "reasoning_finish_reason",
)


# --- files -----------------------------------------------------------------------------------------


def read_text(path: str | Path) -> str:
    """A UTF-8 text file's content, raising DataError naming the file on any problem."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DataError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise DataError(f"{path}: is a folder; pass a file") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a UTF-8 text file (byte {exc.start}); save it as UTF-8") from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror}); check its permissions") from exc


def read_json(path: str | Path) -> Any:
    """Parse a JSON file, raising DataError with the file name on any problem."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); fix or regenerate the file") from exc


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML config file, raising ConfigError (DataError when unreadable) naming the file on any problem."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such config file")
    try:
        return yaml.safe_load(read_text(path))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from exc


def check_writable(folder: str | Path, fix: str = "pass another --out") -> Path:
    """Raise ConfigError unless `folder` is, or could be created as, a writable folder; creates nothing."""
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{existing}: is a file, where a folder is expected; {fix} or move the file away")
    try:
        tempfile.TemporaryFile(dir=existing).close()  # the only sure test (root, read-only mounts, ACLs)
    except OSError as exc:
        raise ConfigError(f"{existing}: cannot write there ({exc.strerror}); {fix} or fix its permissions") from exc
    return folder


def _new_file_mode() -> int:
    """The permissions `open()` gives a new file under this process's umask (mkstemp's own are 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


NEW_FILE_MODE = _new_file_mode()


def write_atomic(path: str | Path, content: str | bytes) -> Path:
    """Write text (UTF-8) or bytes to path via a temporary file and a rename, so readers never see half a file."""
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    tmp = None
    try:
        with storage_guard(path, "the file", len(data)):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                os.fchmod(f.fileno(), NEW_FILE_MODE)
            os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ConfigError(f"{path}: cannot write it ({exc.strerror}); pick another output folder or fix its "
                              "permissions") from exc
        raise
    return path


def save_figure(fig: Any, path: str | Path, dpi: int) -> Path:
    """Save a matplotlib figure as a PNG, atomically, and close it."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return write_atomic(path, buffer.getvalue())


def write_json(path: str | Path, obj: Any, indent: int | None = 4) -> Path:
    """Write obj as JSON atomically."""
    return write_atomic(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def jsonl_text(rows: Iterable[dict]) -> str:
    """Rows as JSON lines: one compact JSON object per line, each ending in a newline."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    """Write rows as JSON lines atomically."""
    return write_atomic(path, jsonl_text(rows))


def read_jsonl(path: str | Path) -> list[dict]:
    """Read JSON lines, naming the file and line of the first bad row."""
    rows = []
    for lineno, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{lineno}: not a JSON line ({exc.msg}); expected one JSON object per line") from exc
    return rows


def _require(obj: Any, keys: Iterable[str], where: str, fix: str) -> None:
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}; {fix}")
    missing = [k for k in keys if k not in obj]
    if missing:
        raise DataError(f"{where}: missing {', '.join(repr(k) for k in missing)}; {fix}")


# --- Dataset -----------------------------------------------------------------------------------------


@dataclass
class Dataset:
    """Questions with gold answers for one task, as the paper's `Dataset` JSON."""

    dataset_key: str
    data: list[dict]
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.metadata = {"dataset_key": self.dataset_key, **self.metadata}
        self._by_index = {int(s["sample_index"]): s for s in self.data}

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, sample_index: int) -> dict:
        return self._by_index[sample_index]

    @property
    def indices(self) -> list[int]:
        return [int(s["sample_index"]) for s in self.data]

    def select(self, sample_indices: Iterable[int] | None = None) -> list[dict]:
        """Samples with the given indices (all when None), in the order given."""
        if sample_indices is None:
            return list(self.data)
        indices = list(sample_indices)
        unknown = [i for i in indices if i not in self._by_index]
        if unknown:
            raise DataError(f"dataset {self.dataset_key}: no samples with index {unknown[:5]}; check the split file")
        return [self._by_index[i] for i in indices]

    def to_json(self) -> dict:
        return {"metadata": self.metadata, "data": self.data}

    @classmethod
    def from_json(cls, raw: Any, where: str = "dataset") -> "Dataset":
        fix = 'a Dataset is {"metadata": {"dataset_key": ...}, "data": [{"sample_index", "question", "answer"}]}'
        _require(raw, ["metadata", "data"], where, fix)
        _require(raw["metadata"], ["dataset_key"], f"{where}: metadata", fix)
        if not isinstance(raw["data"], list):
            raise DataError(f'{where}: "data" must be a list of samples; {fix}')
        for i, sample in enumerate(raw["data"]):
            _require(sample, ["sample_index", "question", "answer"], f"{where}: data[{i}]", fix)
        meta = dict(raw["metadata"])
        return cls(dataset_key=meta.pop("dataset_key"), data=raw["data"], metadata=meta)

    @classmethod
    def load(cls, path: str | Path) -> "Dataset":
        return cls.from_json(read_json(path), where=str(path))

    def save(self, path: str | Path) -> Path:
        return write_json(path, self.to_json())


# --- Split --------------------------------------------------------------------------------------------


def load_split(path: str | Path) -> dict[str, list[int]]:
    """A split file: {"train": [sample_index...], "test": [...]} (other keys allowed)."""
    raw = read_json(path)
    _require(raw, ["train", "test"], str(path), 'a split is {"train": [indices], "test": [indices]}')
    return {k: [int(i) for i in v] for k, v in raw.items()}


# --- CompletionDataset -----------------------------------------------------------------------------------


@dataclass
class CompletionDataset:
    """Model completions per sample, as the paper's `CompletionDataset` JSON."""

    metadata: dict
    data: dict[int, list[dict]] = field(default_factory=dict)

    @property
    def dataset_key(self) -> str:
        return self.metadata["dataset_key"]

    @property
    def base_model(self) -> str | None:
        return self.metadata.get("base_model")

    @property
    def prediction_template(self) -> str:
        return self.metadata["prediction_template"]

    def __len__(self) -> int:
        return len(self.data)

    @property
    def indices(self) -> list[int]:
        return list(self.data)

    @property
    def total_completions(self) -> int:
        return sum(len(v) for v in self.data.values())

    def add(self, completion: dict) -> None:
        """Insert or replace one completion, keyed on (sample_index, completion_index)."""
        rows = self.data.setdefault(int(completion["sample_index"]), [])
        index = int(completion["completion_index"])
        for i, row in enumerate(rows):
            if row["completion_index"] == index:
                rows[i] = completion
                return
        rows.append(completion)
        rows.sort(key=lambda r: r["completion_index"])

    def select(
        self, sample_indices: Iterable[int] | None = None, completion_indices: Iterable[int] | None = None
    ) -> list[dict]:
        """Completions of the given samples (all when None), optionally only the given completion indices."""
        keys = list(self.data) if sample_indices is None else [i for i in sample_indices if i in self.data]
        wanted = None if completion_indices is None else set(completion_indices)
        return [c for k in keys for c in self.data[k] if wanted is None or c["completion_index"] in wanted]

    def to_json(self) -> dict:
        return {"metadata": self.metadata, "data": {str(k): v for k, v in self.data.items()}}

    @classmethod
    def from_json(cls, raw: Any, where: str = "completions") -> "CompletionDataset":
        fix = "a CompletionDataset needs metadata.dataset_key and metadata.prediction_template"
        _require(raw, ["metadata", "data"], where, fix)
        _require(raw["metadata"], ["dataset_key", "prediction_template"], f"{where}: metadata", fix)
        if not isinstance(raw["data"], dict):
            raise DataError(f'{where}: "data" must map sample_index to a list of completions; {fix}')
        data: dict[int, list[dict]] = {}
        for key, rows in raw["data"].items():
            try:
                index = int(key)
            except ValueError as exc:
                raise DataError(f'{where}: data key {key!r} is not a sample index; {fix}') from exc
            if not isinstance(rows, list):
                raise DataError(f"{where}: data[{key!r}] must be a list of completions")
            for j, row in enumerate(rows):
                _require(row, ["sample_index", "completion_index", "answer"], f"{where}: data[{key!r}][{j}]",
                         "each completion needs sample_index, completion_index and answer")
            data[index] = rows
        return cls(metadata=dict(raw["metadata"]), data=data)

    @classmethod
    def load(cls, path: str | Path) -> "CompletionDataset":
        return cls.from_json(read_json(path), where=str(path))

    def save(self, path: str | Path) -> Path:
        return write_json(path, self.to_json())


# --- paths (the paper's layout) ------------------------------------------------------------------------


def completion_path(
    root: str | Path,
    base_model: str,
    completion_key: str,
    dataset_key: str,
    finetune_key: str | None = None,
    train_key: str | None = None,
) -> Path:
    """`completion_data/B_<base>__C_<key>/[F_<finetune>__][T_<train>__]D_<dataset>.json` under root."""
    name = f"D_{dataset_key}.json"
    if train_key:
        name = f"T_{train_key}__{name}"
    if finetune_key:
        name = f"F_{finetune_key}__{name}"
    return Path(root) / "completion_data" / f"B_{safe_name(base_model)}__C_{completion_key}" / name


def finetune_data_path(root: str | Path, platform: str, finetune_key: str, suffix: str = ".jsonl") -> Path:
    """`finetune_data/P_<platform>/F_<finetune_key>.jsonl` under root."""
    return Path(root) / "finetune_data" / f"P_{platform}" / f"F_{finetune_key}{suffix}"


MAX_SAMPLES = 64  # rationales per question when sampling (diverse reasoning)
MAX_TEMPERATURE = 2.0  # the OpenAI API's limit


def check_sampling(samples: int, temperature: float) -> None:
    """Raise ConfigError unless D samples at this temperature make sense (D > 1 needs a temperature above 0)."""
    if not 1 <= samples <= MAX_SAMPLES:
        raise ConfigError(f"--samples {samples}: use 1 to {MAX_SAMPLES} rationales per question")
    if not 0 <= temperature <= MAX_TEMPERATURE:
        raise ConfigError(f"--temperature {temperature:g}: use 0 to {MAX_TEMPERATURE:g} (0 for one greedy "
                          "rationale, 0.7 for diverse reasoning)")
    if samples > 1 and temperature <= 0:
        raise ConfigError(f"--samples {samples} with --temperature 0 gives identical rationales; "
                          "use --temperature 0.7 for diverse reasoning")


def sampled_key(prompt: str, samples: int = 1, temperature: float = 0.0) -> str:
    """The completion key of D samples at a temperature: `<prompt>` for one greedy sample, else the paper's
    diverse-reasoning name, e.g. `zs_cot_t70_d8`."""
    if samples == 1 and temperature == 0:
        return prompt
    return f"{prompt}_t{round(temperature * 100)}_d{samples}"


def fewer_samples_key(completion_key: str, samples: int) -> str:
    """The completion key of the first `samples` completions per question of a D-sample key (`zs_cot_t70_d64` ->
    `zs_cot_t70_d8`); a key of one greedy sample is unchanged."""
    return re.sub(r"_d\d+$", f"_d{samples}", completion_key)


_KEY_INFIX = {"ft_cot_token": "", "ft_cot_natural": "natural_", "ft_cot_choice": "choice_"}


def finetune_key(dataset_key: str, template: str, completion_key: str | None = None, questions: int | None = None,
                 calculator: bool = False) -> str:
    """The paper's name for curated data: `<dataset>` for ft_token, `<completion_key>_<dataset>` for ft_cot_token,
    `<completion_key>_natural_<dataset>` for ft_cot_natural (`_choice_` for ft_cot_choice); the completion key
    defaults to zs_cot, the teacher's prompt. Data from the first N training questions only ends in `_q<N>`,
    rationales annotated for a calculator in `_calc`."""
    key = dataset_key if template == "ft_token" else f"{completion_key or 'zs_cot'}_{_KEY_INFIX[template]}{dataset_key}"
    return key + (f"_q{questions}" if questions else "") + ("_calc" if calculator else "")


def finetune_key_of(path: str | Path) -> str:
    """The finetune key a training file is named for (`F_<key>.jsonl` -> `<key>`)."""
    return Path(path).stem.removeprefix("F_")


def model_metadata_path(root: str | Path, finetune_key: str) -> Path:
    """`model_metadata/F_<finetune_key>.json` under root."""
    return Path(root) / "model_metadata" / f"F_{finetune_key}.json"


def safe_name(name: str) -> str:
    """A model name usable as one path component (`org/model` -> `org--model`)."""
    return name.replace("/", "--").replace("\\", "--").replace(":", "-")
