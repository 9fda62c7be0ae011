"""The `local:` and `recorded:` teachers, and `make_backend`, which reads a `backend:model` spec.

`local:<path-or-model>` generates with a transformers causal LM in batches; `recorded:<path>` replays a
completion file or folder (`recorded:text-davinci-002` is the paper teacher's bundled completions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from fcot.errors import ContextTooLong, DataError, ModelError, RequestFailed
from fcot.formats import CompletionDataset
from fcot.resources import data_dir as resolve_data_dir
from fcot.teacher.cache import Choice
from fcot.teacher.config import parse_teacher
from fcot.teacher.engine import Backend, Sampling, Stats
from fcot.teacher.openai_backend import EndpointConfig, OpenAIBackend

class LocalBackend:
    """A local causal LM; concurrent requests share one continuously batched decoding loop, with calculator
    decoding for a run trained on calculator-annotated rationales."""

    cacheable = True

    def __init__(self, name_or_path: str, max_batch: int = 8, device: str | None = None) -> None:
        from fcot.models import open_student, read_run_info
        from fcot.models.completions import batcher_for

        self.calculator = read_run_info(name_or_path).calculator
        self.generator = open_student(name_or_path, device=device)
        if self.generator.model_type != "decoder":
            raise ModelError(f"{name_or_path}: an encoder-decoder model; the local: teacher needs a causal LM")
        self.batcher = batcher_for(self.generator, max_batch)
        path = Path(name_or_path).expanduser()
        self.identity = {"backend": "local", "model": str(path.resolve()) if path.exists() else name_or_path,
                         **({"calculator": True} if self.calculator else {})}
        self.model_name = path.name or name_or_path

    async def generate(
        self, prompt: str, sampling: Sampling, indices: Sequence[int], sample_index: int | None = None
    ) -> list[Choice]:
        """Generate one completion per index (as `n` sequences of one prompt)."""
        from fcot.models.completions import GenParams

        params = GenParams(sampling.max_tokens, sampling.temperature, sampling.top_p, len(indices), sampling.stop or (),
                           self.calculator)
        try:
            out = await self.batcher.submit(prompt, params)
        except ContextTooLong as exc:
            raise RequestFailed(f"prompt exceeds the context of {self.model_name}: {exc}") from exc
        share = out.completion_tokens // max(1, len(indices))
        return [Choice(text, reason, out.prompt_tokens if j == 0 else 0, share)
                for j, (text, reason) in enumerate(zip(out.texts, out.finish_reasons))]

    async def aclose(self) -> None:
        """Stop the batching worker."""
        await self.batcher.aclose()


class RecordedBackend:
    """Replays recorded completions: each prompt (step 1 or step 2) is answered with what was recorded for it."""

    cacheable = False

    def __init__(self, source: str, task_key: str, data_dir: str | Path | None = None) -> None:
        self.path = self.resolve(source, task_key, data_dir)
        recorded = CompletionDataset.load(self.path)
        # prompt -> sample_index -> completion_index -> answer (a question asked twice may have two answers)
        self.answers: dict[str, dict[int, dict[int, Choice]]] = {}
        for row in recorded.select():
            sample, index = int(row["sample_index"]), int(row["completion_index"])
            for prompt, text, reason in (("reasoning_prompt", "reasoning_completion", "reasoning_finish_reason"),
                                         ("prompt", "completion", "finish_reason")):
                if row.get(prompt) is not None and row.get(text) is not None:
                    by_sample = self.answers.setdefault(row[prompt], {})
                    by_sample.setdefault(sample, {})[index] = Choice(row[text], row.get(reason))
        self.model_name = recorded.base_model or Path(source).name
        self.identity = {"backend": "recorded", "path": str(self.path)}

    @staticmethod
    def resolve(source: str, task_key: str, data_dir: str | Path | None = None) -> Path:
        """A completion file from a file, a `B_<model>__C_<key>` folder, or a model name in the data root."""
        path = Path(source).expanduser()
        if path.is_file():
            return path
        if not path.is_dir():
            path = resolve_data_dir(data_dir) / "completion_data" / f"B_{source}__C_zs_cot"
        candidate = path / f"D_{task_key}.json"
        if not candidate.is_file():
            raise DataError(f"{candidate}: no recorded completions for task {task_key}; pass recorded:<file or folder> "
                            "holding D_<task>.json")
        return candidate

    async def generate(
        self, prompt: str, sampling: Sampling, indices: Sequence[int], sample_index: int | None = None
    ) -> list[Choice]:
        """The recorded completions of this prompt (for this question, if it was asked twice), by completion index."""
        by_sample = self.answers.get(prompt, {})
        recorded = by_sample.get(sample_index) or next(iter(by_sample.values()), {})
        missing = [i for i in indices if i not in recorded]
        if missing:
            raise RequestFailed(f"{self.path}: no recorded completion {missing[0]} for this prompt")
        return [recorded[i] for i in indices]

    async def aclose(self) -> None:
        """Nothing to release."""


def make_backend(
    spec: str,
    task_key: str,
    endpoint: EndpointConfig | None = None,
    stats: Stats | None = None,
    data_dir: str | Path | None = None,
) -> Backend:
    """The backend for a `backend:model` spec; `endpoint` carries the HTTP options of `openai:`."""
    backend, model = parse_teacher(spec)
    if backend == "openai":
        config = endpoint or EndpointConfig(model=model)
        config.model = model
        return OpenAIBackend(config, stats)
    if backend == "local":
        return LocalBackend(model, max_batch=endpoint.concurrency if endpoint else 8)
    return RecordedBackend(model, task_key, data_dir)
