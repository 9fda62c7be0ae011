"""Generation with an exported student and no torch: llama.cpp for a `.gguf` file, onnxruntime for an ONNX folder.

`load_edge(path)` gives an `EdgeGenerator` whose `generate(prompts, max_new_tokens=, stop=)` returns the same
`Generation` records as `fcot.models.generate.generate` (greedy, one prompt at a time). `export_info(path)` reads
the run an export came from (task, template, stop phrase), so `fcot eval` and `fcot serve` can be task-aware.
"""

from __future__ import annotations

import json
import os
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from fcot.errors import ModelError
from fcot.formats import read_json

if TYPE_CHECKING:
    from fcot.models.generate import Generation, GenerationStats

GGUF_RUN_KEY = "fcot.run"  # GGUF metadata key holding the run info as JSON
ONNX_MANIFEST = "fcot-export.json"  # in an ONNX export folder: model file, shapes, EOS ids and the run info
EDGE_CONTEXT = 2048  # llama.cpp context (prompt + completion tokens); the students' prompts are far shorter
EDGE_INSTALL = "pip install 'fcot[edge]'"


def export_info(path: str | Path) -> dict | None:
    """The run info stored in an fcot export (task, template, stop_phrase, finetune_key, base_model, export), or None."""
    path = Path(path).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        from gguf import GGUFReader

        try:
            field = GGUFReader(path).get_field(GGUF_RUN_KEY)
        except (ValueError, OSError) as exc:
            raise ModelError(f"{path}: not a readable GGUF file ({exc}); export it again with fcot export") from exc
        return json.loads(field.contents()) if field is not None else None
    if (path / ONNX_MANIFEST).is_file():
        return read_json(path / ONNX_MANIFEST)["run"]
    return None


def load_edge(path: str | Path, threads: int | None = None) -> "EdgeGenerator":
    """An EdgeGenerator for a `.gguf` file (llama.cpp) or an fcot ONNX export folder (onnxruntime)."""
    path = Path(path).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return LlamaCppGenerator(path, threads)
    if (path / ONNX_MANIFEST).is_file():
        return OnnxGenerator(path, threads)
    raise ModelError(f"{path}: not an exported model; pass a .gguf file or a folder written by fcot export --format onnx")


class EdgeGenerator:
    """Greedy completions of prompts, one at a time, by an exported model; subclasses implement `_complete`."""

    model_type = "decoder"

    def __init__(self, path: Path, dtype: str) -> None:
        self.name = str(path)
        self.dtype = dtype  # e.g. "gguf q8_0", "onnx int8": recorded with the completions

    def generate(
        self, prompts: Sequence[str], *, max_new_tokens: int = 128, stop: Sequence[str] = (),
        progress: Callable[[int], None] | None = None,
    ) -> tuple[list[Generation], GenerationStats]:
        """Completions of prompts in the order given, each cut before its first stop phrase; `progress(1)` after each."""
        from fcot.models.generate import GenerationStats

        stop = tuple(s for s in stop if s)
        started, outs = time.perf_counter(), []
        for prompt in prompts:
            outs.append(self._complete(prompt, max_new_tokens, stop))
            if progress is not None:
                progress(1)
        seconds = time.perf_counter() - started
        return outs, GenerationStats(len(outs), sum(o.new_tokens for o in outs), seconds)

    def _complete(self, prompt: str, max_new_tokens: int, stop: tuple[str, ...]) -> Generation:
        raise NotImplementedError


class LlamaCppGenerator(EdgeGenerator):
    """A GGUF model run by llama.cpp (llama-cpp-python)."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelError(f"{path}: running a .gguf model needs llama-cpp-python; {EDGE_INSTALL}") from exc
        from gguf import GGUFReader, LlamaFileType

        super().__init__(path, "gguf")
        trained = GGUFReader(path).get_field("llama.context_length")
        context = min(EDGE_CONTEXT, int(trained.contents())) if trained is not None else EDGE_CONTEXT
        self.llm = Llama(model_path=str(path), n_ctx=context, n_threads=threads or os.cpu_count(),
                         n_threads_batch=threads or os.cpu_count(), seed=0, verbose=False)
        weakref.finalize(self, self.llm.close)  # free it before interpreter shutdown, not in a noisy __del__
        file_type = self.llm.metadata.get("general.file_type")
        self.dtype = f"gguf {LlamaFileType(int(file_type)).name.lower()}" if file_type else "gguf"

    def _complete(self, prompt: str, max_new_tokens: int, stop: tuple[str, ...]) -> Generation:
        from fcot.models.generate import Generation

        try:
            out = self.llm.create_completion(prompt, max_tokens=max_new_tokens, temperature=0.0, top_k=1,
                                             repeat_penalty=1.0, stop=list(stop) or None)
        except ValueError as exc:  # the prompt does not fit the context
            raise ModelError(f"{self.name}: {exc}; shorten the prompt or max_new_tokens") from exc
        choice = out["choices"][0]
        return Generation(text=choice["text"], finish_reason=choice["finish_reason"] or "length",
                          new_tokens=out["usage"]["completion_tokens"])


class OnnxGenerator(EdgeGenerator):
    """An fcot ONNX export (logits of the last position, KV cache in and out) run by onnxruntime."""

    def __init__(self, folder: Path, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelError(f"{folder}: running an ONNX model needs onnxruntime and tokenizers; {EDGE_INSTALL}") from exc
        self.manifest = read_json(folder / ONNX_MANIFEST)
        super().__init__(folder, f"onnx {self.manifest['quantize']}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0  # 0: onnxruntime's default, one per core
        self.session = ort.InferenceSession(str(folder / self.manifest["file"]), options,
                                            providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.past_names = [i.name for i in self.session.get_inputs()][1:]
        self.eos_ids = set(self.manifest["eos_token_ids"])

    def _empty_past(self) -> dict[str, Any]:
        import numpy as np

        shape = (1, self.manifest["kv_heads"], 0, self.manifest["head_dim"])
        return {name: np.zeros(shape, dtype=np.float32) for name in self.past_names}

    def _complete(self, prompt: str, max_new_tokens: int, stop: tuple[str, ...]) -> Generation:
        import numpy as np

        from fcot.models.generate import Generation, trim_at_stop

        feed, past, new = self.tokenizer.encode(prompt).ids, self._empty_past(), []
        window = max((len(s) for s in stop), default=0) + 4  # tokens: each holds at least one character
        ended = False
        while len(new) < max_new_tokens:
            logits, *present = self.session.run(None, {"input_ids": np.array([feed], dtype=np.int64), **past})
            token = int(logits[0].argmax())
            if token in self.eos_ids:
                ended = True
                break
            new.append(token)
            feed, past = [token], dict(zip(self.past_names, present))
            if stop and trim_at_stop(self.tokenizer.decode(new[-window:]), stop)[1]:
                break
        text, hit_stop = trim_at_stop(self.tokenizer.decode(new), stop)
        return Generation(text=text, finish_reason="stop" if ended or hit_stop else "length", new_tokens=len(new))
