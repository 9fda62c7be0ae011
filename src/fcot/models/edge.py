"""Generation with an exported student and no torch: llama.cpp for a `.gguf` file, onnxruntime for an ONNX folder.

`load_edge(path)` gives an `EdgeGenerator`: `complete(prompt, ...)` returns the same `Generation` record as
`fcot.models.generate.generate`, and `stream` completes one prompt token by token, greedy or sampled; evaluation,
`fcot serve` and the `local:` teacher use it through `fcot.models.completions.EdgeCompletions`.
`export_info(path)` reads the run an export came from (task, template, stop phrase), which `fcot.models.runinfo`
gives the same schema as a run folder's.
"""

from __future__ import annotations

import json
import os
import random
import threading
import weakref
from pathlib import Path
from typing import Any, Generator, Iterator, Sequence

from fcot.errors import ModelError
from fcot.formats import read_json
from fcot.models.calculator import Calculator
from fcot.models.generate import Generation
from fcot.models.streaming import StreamRow, advance

GGUF_RUN_KEY = "fcot.run"  # GGUF metadata key holding the run info as JSON
ONNX_MANIFEST = "fcot-export.json"  # in an ONNX export folder: model file, shapes, EOS ids and the run info
EDGE_CONTEXT = 2048  # context (prompt + completion tokens) of an export; the students' prompts are far shorter
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
    """Completions of prompts, one token at a time, by an exported model.

    Subclasses tokenize (`encode`, `decode`), name the tokens that end a completion (`eos_ids`) and pick next
    tokens (`_steps`); decoding steps of concurrent streams take a lock one at a time.
    """

    model_type = "decoder"
    context_length = EDGE_CONTEXT
    eos_ids: set[int]

    def __init__(self, path: Path, dtype: str) -> None:
        self.name = str(path)
        self.dtype = dtype  # e.g. "gguf q8_0", "onnx int8": recorded with the completions
        self._lock = threading.Lock()

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: list[int]) -> str:
        raise NotImplementedError

    def encode_text(self, text: str) -> list[int]:
        """Tokens of text inside a completion (no BOS)."""
        raise NotImplementedError

    def _steps(self, ids: list[int], temperature: float, top_p: float) -> Generator[int, list[int], None]:
        """The next token after ids, then, each time it is sent the tokens that followed (the one it gave, or the
        calculator's), the next after those (greedy when temperature is 0)."""
        raise NotImplementedError

    def stream(self, prompt: str, max_new_tokens: int, stop: Sequence[str] = (), temperature: float = 0.0,
               top_p: float = 1.0, calculator: bool = False) -> Iterator[StreamRow]:
        """The completion of prompt after each decoding step, the last one finished (see `streaming.advance`);
        `calculator` writes the results of arithmetic it states (`fcot.models.calculator`)."""
        ids = self.encode(prompt)
        room = self.context_length - len(ids)
        if room <= 0:
            raise ModelError(f"{self.name}: the prompt's {len(ids)} tokens fill the {self.context_length}-token "
                             "context; shorten it")
        steps, tokens, limit = self._steps(ids, temperature, top_p), [], min(max_new_tokens, room)
        stop = tuple(s for s in stop if s)
        calc = Calculator(self.decode, self.encode_text) if calculator else None
        unseen: list[int] = []  # tokens of the completion the model has not been given yet
        with self._lock:
            token = next(steps)
        for step in range(limit):
            row = advance(self.decode, tokens, token, self.eos_ids, stop, step == limit - 1)
            yield row
            if row.finish_reason:
                return
            unseen.append(token)
            forced = calc.forced(tokens) if calc else None
            if forced is not None:
                token = forced  # the calculator writes it; the model reads it with the next tokens it is sent
                continue
            with self._lock:
                token, unseen = steps.send(unseen), []

    def batch_rows(self, max_batch: int) -> Any:
        """Rows for continuous batching of up to max_batch sequences (`fcot.models.continuous`), or None where the
        runtime decodes one sequence at a time."""
        return None

    def complete(self, prompt: str, max_new_tokens: int, stop: Sequence[str] = (), temperature: float = 0.0,
                 top_p: float = 1.0, calculator: bool = False) -> Generation:
        """The finished completion of prompt, cut before its first stop phrase."""
        text, reason, new_tokens = "", "length", 0
        for row in self.stream(prompt, max_new_tokens, stop, temperature, top_p, calculator):
            text, reason, new_tokens = row.text, row.finish_reason, row.new_tokens
        return Generation(text=text, finish_reason=reason or "length", new_tokens=new_tokens)


class LlamaCppGenerator(EdgeGenerator):
    """A GGUF model run by llama.cpp (llama-cpp-python); its sampler picks the tokens."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        try:
            import llama_cpp
        except ImportError as exc:
            raise ModelError(f"{path}: running a .gguf model needs llama-cpp-python; {EDGE_INSTALL}") from exc
        from gguf import GGUFReader, LlamaFileType

        super().__init__(path, "gguf")
        self.threads = threads or os.cpu_count() or 1
        trained = GGUFReader(path).get_field("llama.context_length")
        context = min(EDGE_CONTEXT, int(trained.contents())) if trained is not None else EDGE_CONTEXT
        self.llm = llama_cpp.Llama(model_path=str(path), n_ctx=context, n_threads=self.threads,
                                   n_threads_batch=self.threads, seed=0, verbose=False)
        weakref.finalize(self, self.llm.close)  # free it before interpreter shutdown, not in a noisy __del__
        self.context_length = self.llm.n_ctx()
        file_type = self.llm.metadata.get("general.file_type")
        self.dtype = f"gguf {LlamaFileType(int(file_type)).name.lower()}" if file_type else "gguf"
        vocab = self.llm._model.vocab  # llama.cpp's end-of-generation tokens (EOS, EOT, ...), as its completions stop
        self.eos_ids = {t for t in range(self.llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, t)}
        self._seeds = random.Random()

    def batch_rows(self, max_batch: int) -> Any:
        from fcot.models.llama_rows import LlamaRows

        return LlamaRows(self, max_batch)

    def encode(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)  # BOS/EOS as the model adds them

    def decode(self, ids: list[int]) -> str:
        return self.llm.detokenize(ids).decode("utf-8", errors="replace")

    def encode_text(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def _steps(self, ids: list[int], temperature: float, top_p: float) -> Generator[int, list[int], None]:
        # One llama.cpp `generate` per token: it keeps the KV cache of the longest prefix it has already seen,
        # so a sequence continues where it left off, also after another sequence's steps ran in between.
        sampling = dict(temp=temperature, top_k=0, top_p=top_p, min_p=0.0) if temperature > 0 else dict(temp=0.0)
        ids = list(ids)
        while True:
            if temperature > 0:
                self.llm.set_seed(self._seeds.getrandbits(32))  # a fresh draw each step
            token = next(self.llm.generate(ids, repeat_penalty=1.0, **sampling))
            ids.extend((yield token))


class OnnxGenerator(EdgeGenerator):
    """An fcot ONNX export (logits of the last position, KV cache in and out) run by onnxruntime."""

    def __init__(self, folder: Path, threads: int | None = None) -> None:
        try:
            import numpy as np
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelError(f"{folder}: running an ONNX model needs onnxruntime and tokenizers; {EDGE_INSTALL}") from exc
        self.manifest = read_json(folder / ONNX_MANIFEST)
        super().__init__(folder, f"onnx {self.manifest['quantize']}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count()  # as llama.cpp: one thread per core
        self.session = ort.InferenceSession(str(folder / self.manifest["file"]), options,
                                            providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.past_names = [i.name for i in self.session.get_inputs()][1:]
        self.eos_ids = set(self.manifest["eos_token_ids"])
        self.context_length = min(EDGE_CONTEXT, self.manifest.get("context_length", EDGE_CONTEXT))
        self._rng = np.random.default_rng()

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text).ids

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids)

    def encode_text(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def _steps(self, ids: list[int], temperature: float, top_p: float) -> Generator[int, list[int], None]:
        import numpy as np

        shape = (1, self.manifest["kv_heads"], 0, self.manifest["head_dim"])
        past = {name: np.zeros(shape, dtype=np.float32) for name in self.past_names}
        while True:
            logits, *present = self.session.run(None, {"input_ids": np.array([ids], dtype=np.int64), **past})
            token = pick_token(logits[0], temperature, top_p, self._rng)
            ids, past = (yield token), dict(zip(self.past_names, present))


def pick_token(logits: Any, temperature: float, top_p: float, rng: Any) -> int:
    """The next token from logits: the most likely (temperature 0), else sampled from the top_p nucleus."""
    import numpy as np

    if temperature <= 0:
        return int(logits.argmax())
    probs = np.exp((logits - logits.max()) / temperature)
    order = np.argsort(-probs)
    kept = order[:int(np.searchsorted(np.cumsum(probs[order]) / probs.sum(), top_p)) + 1]
    return int(rng.choice(kept, p=probs[kept] / probs[kept].sum()))
