"""Helpers shared by the serve tests (imported by name: a `conftest` module name is not unique in the suite)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

API_KEY = "sk-fcot-test"
ONE_THREAD = {"OMP_NUM_THREADS": "1"}  # tiny models on shared CPUs: extra torch threads only wait


def multiarith_train(shared_data: Path, count: int) -> list[dict]:
    """The first count samples of multiarith's train split."""
    dataset = json.loads((shared_data / "dataset" / "multiarith.json").read_text(encoding="utf-8"))["data"]
    train = json.loads((shared_data / "split" / "multiarith__default.json").read_text(encoding="utf-8"))["train"]
    by_index = {s["sample_index"]: s for s in dataset}
    return [by_index[i] for i in train[:count]]


@contextlib.contextmanager
def serve_in_thread(app):
    """Run app with uvicorn on 127.0.0.1 (a free port) in a thread; yields its /v1 URL."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def serve_in_subprocess(args: list[str], log: Path, env: dict[str, str]):
    """Run `fcot serve ARGS --port 0` until the block ends; yields its /v1 URL once it answers."""
    import os
    import re
    import subprocess
    import sys
    import time

    import httpx

    with log.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "fcot", "serve", *args, "--port", "0"], stdout=sink,
                                stderr=sink, env={**os.environ, **env})
    try:
        deadline = time.time() + 120
        while not (found := re.search(r"at (http://\S+/v1)", log.read_text())):
            assert proc.poll() is None and time.time() < deadline, log.read_text()
            time.sleep(0.1)
        url = found.group(1)
        while True:
            try:
                httpx.get(f"{url}/models")
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.time() < deadline, log.read_text()
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
