"""Tiny random-init models (a 2-layer Llama or T5 with a byte-level tokenizer) for tests and smoke runs."""

from __future__ import annotations

from pathlib import Path

from fcot.errors import ModelError

TINY_CORPUS = [
    "Q: Tom has 3 apples and buys 5 more. How many apples does he have? A: 3 + 5 = 8. --> 8",
    "Let's think step by step. Therefore, the answer (arabic numerals) is 42.",
    "Answer Choices: (A) yes (B) no (C) heads up (D) tails. The answer is A.",
    "0 1 2 3 4 5 6 7 8 9 10 100 1000 + - * / = . , ? ! : ( ) ###",
]


def save_tiny_model(path: str | Path, model_type: str = "decoder", seed: int = 0) -> Path:
    """Save a 2-layer, 64-wide random-init model (Llama decoder or T5 encoder-decoder) with a byte-level tokenizer."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, T5Config
    from transformers import T5ForConditionalGeneration

    if model_type not in ("decoder", "encoder_decoder"):
        raise ModelError(f"model_type {model_type!r}: unknown; use decoder or encoder_decoder")
    path = Path(path)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(TINY_CORPUS, vocab_size=400, min_frequency=1, special_tokens=["<pad>", "<eos>", "<unk>"])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, pad_token="<pad>", eos_token="<eos>",
                                        unk_token="<unk>")
    ids = {"vocab_size": len(tokenizer), "pad_token_id": 0, "eos_token_id": 1}
    torch.manual_seed(seed)
    if model_type == "decoder":
        config = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                             num_key_value_heads=2, max_position_embeddings=1024, tie_word_embeddings=False,
                             initializer_range=0.1,
                             bos_token_id=1, **ids)
        model = LlamaForCausalLM(config)
    else:
        config = T5Config(d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4, decoder_start_token_id=0,
                          initializer_factor=4.0, **ids)
        model = T5ForConditionalGeneration(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
