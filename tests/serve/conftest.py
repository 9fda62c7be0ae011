"""A tiny random-init causal LM with a byte-level BPE tokenizer, built offline into a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

CORPUS = [
    "Q: Tom has 3 apples and buys 5 more. How many apples does he have?",
    "A: Let's think step by step. 3 + 5 = 8. Therefore, the answer (arabic numerals) is 8.",
    "There were 12 birds on a tree and 4 flew away, so 12 - 4 = 8 birds are left.",
]


def build_tiny_model(path: Path, chat_template: str | None = None) -> Path:
    """Save a 2-layer, 64-wide Llama with a trained byte-level BPE tokenizer to path."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS, vocab_size=320, min_frequency=1, special_tokens=["<pad>", "<eos>"])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, pad_token="<pad>", eos_token="<eos>")
    if chat_template:
        tokenizer.chat_template = chat_template
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         pad_token_id=0, eos_token_id=1, bos_token_id=1, tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny causal LM folder (context 512 tokens), shared by the serve tests."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-lm"))


@pytest.fixture(scope="session")
def served_app(tmp_path_factory):
    """(`/v1` URL, app) of create_app() for a tiny model with a chat template, run by uvicorn in a thread."""
    import socket
    import threading
    import time

    import uvicorn

    from fcot.serve import create_app, load_generator

    template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}<assistant>"
    path = build_tiny_model(tmp_path_factory.mktemp("tiny-chat-lm"), chat_template=template)
    app = create_app(load_generator(path, device="cpu"), model_name="tiny", max_batch=4)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1", app
    server.should_exit = True
    thread.join(timeout=10)
