"""Fixtures for the teacher tests: a fault-injecting OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from fault_server import FaultServer, ServerConfig, recorded_answers


@pytest.fixture
def serve_faults():
    """`serve_faults(**ServerConfig fields)` starts a FaultServer for the test and returns it."""
    servers = []

    def start(**options) -> FaultServer:
        server = FaultServer(ServerConfig(**options)).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


@pytest.fixture(scope="session")
def recorded(shared_data):
    """`recorded(task)`: the recorded text-davinci-002 CompletionDataset JSON and its prompt -> completion map."""
    def load(task: str) -> tuple[dict, dict[str, str]]:
        path = shared_data / "completion_data" / "B_text-davinci-002__C_zs_cot" / f"D_{task}.json"
        return json.loads(path.read_text(encoding="utf-8")), recorded_answers(path)

    return load
