"""Fixtures for the serve tests: tiny causal LMs built offline, and the app served in a thread."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_lm import ANSWERED, build_tiny_model, teach_to_answer


@pytest.fixture(scope="session")
def answering_model_dir(tmp_path_factory, shared_data) -> Path:
    """A tiny causal LM (context 512) that answers the first ANSWERED multiarith train questions correctly."""
    import json

    dataset = json.loads((shared_data / "dataset" / "multiarith.json").read_text(encoding="utf-8"))["data"]
    train = json.loads((shared_data / "split" / "multiarith__default.json").read_text(encoding="utf-8"))["train"]
    by_index = {s["sample_index"]: s for s in dataset}
    samples = [by_index[i] for i in train[:ANSWERED]]
    path = build_tiny_model(tmp_path_factory.mktemp("tiny-lm"), corpus=tuple(s["question"] for s in samples))
    return teach_to_answer(path, samples, "Therefore, the answer (arabic numerals) is")


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
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1", app
    server.should_exit = True
    thread.join(timeout=10)
