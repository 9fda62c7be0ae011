"""Tiny random-init models (a 2-layer Llama, GPT-2 or T5 with a small tokenizer) for tests and smoke runs."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from fcot.errors import ModelError

TINY_CORPUS = [
    "Q: Tom has 3 apples and buys 5 more. How many apples does he have? A: 3 + 5 = 8. --> 8",
    "Let's think step by step. Therefore, the answer (arabic numerals) is 42.",
    "Answer Choices: (A) yes (B) no (C) heads up (D) tails. The answer is A.",
    "0 1 2 3 4 5 6 7 8 9 10 100 1000 + - * / = . , ? ! : ( ) ###",
]


def save_tiny_model(path: str | Path, model_type: str = "decoder", seed: int = 0, *, texts: Sequence[str] = (),
                    word_level: bool = False, gpt2: bool = False, chat_template: str | None = None,
                    init_scale: float = 5.0) -> Path:
    """Save a 2-layer, 64-wide random-init model and its tokenizer to path.

    model_type: `decoder` (a Llama, or with `gpt2` a GPT-2 without dropout so batch layouts compare exactly) or
    `encoder_decoder` (a T5 whose inputs end in EOS, as T5's own tokenizer does). `word_level` makes a word-level
    tokenizer of `texts` instead of byte-level BPE over TINY_CORPUS and `texts`: short sequences, fast training tests. `init_scale`
    multiplies the architecture's usual random init: the default 5 makes an untrained model's greedy text varied
    (generation tests), 1 is what training from scratch expects.
    """
    import torch
    from tokenizers import processors
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, T5Config
    from transformers import T5ForConditionalGeneration

    if model_type not in ("decoder", "encoder_decoder"):
        raise ModelError(f"model_type {model_type!r}: unknown; use decoder or encoder_decoder")
    path = Path(path)
    tokenizer = _tokenizer(list(texts), word_level)
    if chat_template:
        tokenizer.chat_template = chat_template
    ids = {"vocab_size": len(tokenizer), "pad_token_id": 0, "eos_token_id": 1}
    torch.manual_seed(seed)
    if model_type == "encoder_decoder":
        tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
            single=f"$A {tokenizer.eos_token}", special_tokens=[(tokenizer.eos_token, 1)])
        model = T5ForConditionalGeneration(T5Config(d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4,
                                                    decoder_start_token_id=0, initializer_factor=float(init_scale),
                                                    **ids))
    elif gpt2:
        model = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=64, n_head=2, n_positions=1024, bos_token_id=1,
                                           initializer_range=0.02 * init_scale, resid_pdrop=0.0, embd_pdrop=0.0,
                                           attn_pdrop=0.0, **ids))
    else:
        model = LlamaForCausalLM(LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                                             tie_word_embeddings=False, initializer_range=0.02 * init_scale,
                                             bos_token_id=1, **ids))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _tokenizer(texts: list[str], word_level: bool):
    """<pad> = 0, <eos> = 1, <unk>: word-level over texts, or byte-level BPE over TINY_CORPUS and texts."""
    from tokenizers import ByteLevelBPETokenizer, Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<eos>", "<unk>"]
    if word_level:
        backend = Tokenizer(models.WordLevel(unk_token="<unk>"))
        backend.pre_tokenizer = pre_tokenizers.Whitespace()
        backend.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=specials))
    else:
        bpe = ByteLevelBPETokenizer()
        bpe.train_from_iterator([*TINY_CORPUS, *texts], vocab_size=400 + 40 * len(texts), min_frequency=1,
                                special_tokens=specials)
        backend = bpe._tokenizer
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
