"""A GGUF export's rows for continuous batching (`fcot.models.continuous`), decoded together by llama.cpp.

Each row is a llama.cpp sequence of a context of its own beside the generator's (the weights are shared): up to
`max_batch` sequences, each with its own key/value cells (`context_length` tokens; together `cache_bytes`, as
batched generation), so a row attends only to its own tokens and joins or leaves without copying anyone's cache.
One `llama_decode` call runs the newcomers' prompts, another the running rows' next tokens.
"""

from __future__ import annotations

import contextlib
import ctypes
import weakref
from typing import Any

from fcot.errors import ModelError
from fcot.models.generate import KV_CACHE_BYTES

KV_BYTES = 2  # llama.cpp keeps keys and values in f16
CELL_STEP = 256  # llama.cpp sizes each sequence's cache in steps of this many tokens


class LlamaRows:
    """Rows of a GGUF model (`fcot.models.edge.LlamaCppGenerator`)."""

    def __init__(self, generator: Any, max_batch: int, cache_bytes: int = KV_CACHE_BYTES) -> None:
        import llama_cpp
        import numpy as np
        from llama_cpp._internals import LlamaContext

        self.gen, self.max_batch, self.ends = generator, max_batch, generator.eos_ids
        share = cache_bytes // (max_batch * _kv_bytes_per_token(generator)) // CELL_STEP * CELL_STEP
        self.context_length = min(generator.context_length, share)
        if self.context_length < CELL_STEP:
            raise ModelError(f"{generator.name}: {max_batch} sequences' key/value cache does not fit in "
                             f"{cache_bytes >> 20} MB; serve fewer at once (--max-batch)")
        params = llama_cpp.llama_context_default_params()
        params.n_seq_max, params.kv_unified = max_batch, False
        params.n_ctx = params.n_batch = max_batch * self.context_length
        params.n_threads = params.n_threads_batch = generator.threads
        self._llama, self._np = llama_cpp, np
        self.ctx = LlamaContext(model=generator.llm._model, params=params, verbose=False)
        self.batch = llama_cpp.llama_batch_init(params.n_batch, 0, 1)
        # freed before the generator's model (finalizers run newest first at exit), never in a late __del__
        weakref.finalize(self, _free, llama_cpp, self.batch, self.ctx)
        self.n_vocab = generator.llm.n_vocab()
        self.rows: list[tuple[int, int]] = []  # each row's sequence id and the position of its next token
        self.free = list(range(max_batch - 1, -1, -1))  # sequence ids not in use
        self._rng = np.random.default_rng()

    def session(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def encode(self, prompt: str) -> list[int]:
        return self.gen.encode(prompt)

    def decode(self, tokens: list[int]) -> str:
        return self.gen.decode(tokens)

    def encode_text(self, text: str) -> list[int]:
        return self.gen.encode_text(text)

    def fits(self, spans: list[int]) -> bool:
        """At most `max_batch` rows, each within its `context_length` cells."""
        return len(spans) <= self.max_batch and max(spans) <= self.context_length

    def prefill(self, prompts: list[list[int]]) -> Any:
        if len(prompts) > len(self.free):
            raise ModelError(f"{len(prompts)} sequences do not fit beside {len(self.rows)} running in "
                             f"{self.max_batch}; ask for fewer (n) or serve more at once (--max-batch)")
        self.free.sort(reverse=True)
        new = [(self.free.pop(), prompt) for prompt in prompts]  # lowest ids first: the batch goes in id order
        n = 0
        for seq, prompt in new:
            for pos, token in enumerate(prompt):
                n = self._add(n, token, pos, seq, pos == len(prompt) - 1)
            self.rows.append((seq, len(prompt)))
        return self._decode(n, len(prompts))

    def step(self, tokens: list[int]) -> Any:
        order = sorted(range(len(self.rows)), key=lambda i: self.rows[i][0])
        for n, i in enumerate(order):  # in sequence id order: out of order, llama.cpp's steps took 4-5x as long
            seq, pos = self.rows[i]
            self._add(n, tokens[i], pos, seq, True)
            self.rows[i] = (seq, pos + 1)
        logits = self._decode(len(tokens), len(tokens))
        return logits[self._np.argsort(order)]  # back in row order

    def keep(self, rows: list[int]) -> None:
        kept = set(rows)
        for i, (seq, _) in enumerate(self.rows):
            if i not in kept:
                self._llama.llama_memory_seq_rm(self.ctx.memory, seq, -1, -1)
                self.free.append(seq)
        self.rows = [self.rows[i] for i in rows]

    def clear(self) -> None:
        self._llama.llama_memory_clear(self.ctx.memory, True)
        self.rows, self.free = [], list(range(self.max_batch - 1, -1, -1))

    def greedy(self, logits: Any) -> list[int]:
        return logits.argmax(axis=1).tolist()

    def sample(self, logits: Any, row: int, temperature: float, top_p: float) -> int:
        from fcot.models.edge import pick_token

        return pick_token(logits[row], temperature, top_p, self._rng)

    def _add(self, n: int, token: int, pos: int, seq: int, output: bool) -> int:
        """Put token at position pos of sequence seq as the batch's n-th entry; the next entry's index."""
        batch = self.batch
        batch.token[n], batch.pos[n], batch.n_seq_id[n], batch.logits[n] = token, pos, 1, output
        batch.seq_id[n][0] = seq
        return n + 1

    def _decode(self, n_tokens: int, n_outputs: int) -> Any:
        """Run the batch's first n_tokens entries; the logits of its outputs, in batch order."""
        self.batch.n_tokens = n_tokens
        status = self._llama.llama_decode(self.ctx.ctx, self.batch)
        if status != 0:
            raise ModelError(f"{self.gen.name}: llama.cpp could not decode the batch (status {status})")
        logits = self._llama.llama_get_logits(self.ctx.ctx)
        buffer = ctypes.cast(logits, ctypes.POINTER(ctypes.c_float * (n_outputs * self.n_vocab))).contents
        return self._np.frombuffer(buffer, dtype=self._np.float32).reshape(n_outputs, self.n_vocab).copy()


def _free(llama_cpp: Any, batch: Any, ctx: Any) -> None:
    llama_cpp.llama_batch_free(batch)
    ctx.close()


def _kv_bytes_per_token(generator: Any) -> int:
    """Bytes of key/value cache one token takes in the GGUF model (every layer, keys and values)."""
    meta = generator.llm.metadata
    arch = meta["general.architecture"]
    heads = int(meta.get(f"{arch}.attention.head_count_kv", meta[f"{arch}.attention.head_count"]))
    head_dim = int(meta.get(f"{arch}.attention.key_length", 0)) or (
        int(meta[f"{arch}.embedding_length"]) // int(meta[f"{arch}.attention.head_count"]))
    return 2 * int(meta[f"{arch}.block_count"]) * heads * head_dim * KV_BYTES
