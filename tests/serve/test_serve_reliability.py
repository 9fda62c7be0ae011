"""Malformed requests each get an OpenAI-shaped 4xx on a connection that stays usable; streams can be dropped."""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlsplit

import openai
import pytest
from serve_helpers import API_KEY

from fcot.serve.app import MAX_BODY_BYTES

CHAT, COMPLETIONS = "/v1/chat/completions", "/v1/completions"
USER = [{"role": "user", "content": "How many apples?"}]
MALFORMED = [  # (method, path, body: dict -> JSON, bytes -> as is, headers, status)
    ("POST", COMPLETIONS, b'{"prompt": ', {}, 400),  # bad JSON
    ("POST", COMPLETIONS, b'["a list"]', {}, 400),  # not an object
    ("POST", COMPLETIONS, {"prompt": 5}, {}, 400),
    ("POST", COMPLETIONS, {"prompt": "x", "max_tokens": "ten"}, {}, 400),
    ("POST", COMPLETIONS, {"prompt": "x", "temperature": "hot"}, {}, 400),
    ("POST", COMPLETIONS, {"prompt": "x", "stop": 5}, {}, 400),
    ("POST", COMPLETIONS, {"prompt": "x", "top_p": 0}, {}, 400),
    ("POST", COMPLETIONS, {"prompt": "x", "stream": [1]}, {}, 400),
    ("POST", COMPLETIONS, {"prompt": ""}, {}, 400),
    ("POST", COMPLETIONS, {"prompt": []}, {}, 400),
    ("POST", COMPLETIONS, {"prompt": ["a", ""]}, {}, 400),
    ("POST", COMPLETIONS, {"prompt": "x", "max_tokens": 0}, {}, 400),
    ("POST", COMPLETIONS, {"prompt": "x", "max_tokens": 10**9}, {}, 400),
    ("POST", COMPLETIONS, {"prompt": "x", "n": 129}, {}, 400),
    ("POST", COMPLETIONS, {"prompt": "apples " * 1200}, {}, 400),  # over the 1024-token context
    ("POST", COMPLETIONS, {"prompt": "x", "model": "gpt-4"}, {}, 404),
    ("POST", COMPLETIONS, json.dumps({"prompt": "x"}).encode(), {"Content-Type": "text/plain"}, 400),
    ("POST", COMPLETIONS, b"x" * (MAX_BODY_BYTES + 1), {}, 413),
    ("POST", CHAT, {"model": "run"}, {}, 400),  # no messages
    ("POST", CHAT, {"messages": []}, {}, 400),
    ("POST", CHAT, {"messages": [{"role": "wizard", "content": "x"}]}, {}, 400),
    ("POST", CHAT, {"messages": [{"role": "user", "content": 7}]}, {}, 400),
    ("POST", CHAT, {"messages": [{"role": "user", "content": " "}]}, {}, 400),  # no question
    ("POST", CHAT, {"messages": USER, "max_tokens": 0}, {}, 400),
    ("POST", CHAT, {"messages": USER, "n": 1000, "stream": True}, {}, 400),
    ("GET", COMPLETIONS, None, {}, 405),
    ("GET", CHAT, None, {}, 405),
    ("POST", "/v1/models", {}, {}, 405),
    ("GET", "/v1/engines", None, {}, 404),
    ("GET", "/v1/models", None, {"Authorization": ""}, 401),  # no key
    ("POST", CHAT, {"messages": USER}, {"Authorization": "Bearer sk-wrong"}, 401),
    ("POST", COMPLETIONS, b'{"prompt": ', {"Authorization": "Basic c2s6"}, 401),  # the key comes first
]


def send(conn: http.client.HTTPConnection, method: str, path: str, body, headers: dict) -> tuple[int, dict, bool]:
    """(status, JSON body, whether the server will close the connection) of one request."""
    payload = json.dumps(body).encode() if isinstance(body, dict) else body
    conn.request(method, path, body=payload, headers={"Authorization": f"Bearer {API_KEY}",
                                                      "Content-Type": "application/json", **headers})
    response = conn.getresponse()
    return response.status, json.loads(response.read()), response.will_close


def test_malformed_requests_get_openai_errors_and_the_connection_stays_usable(served_run):
    assert len(MALFORMED) >= 20
    url = urlsplit(served_run[0])
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    normal = {"prompt": "Q: 2 apples", "max_tokens": 2, "temperature": 0}
    send(conn, "POST", COMPLETIONS, normal, {})
    sock = conn.sock
    for method, path, body, headers, status in MALFORMED:
        where = f"{method} {path} {str(body)[:60]} {headers}"
        got, error, closing = send(conn, method, path, body, headers)
        assert got == status, f"{where}: {got} {error}"
        assert set(error) == {"error"} and isinstance(error["error"]["message"], str), where
        assert error["error"]["type"] == "invalid_request_error" and "code" in error["error"], where
        assert not closing, where
        got, answer, closing = send(conn, "POST", COMPLETIONS, normal, {})
        assert got == 200 and answer["choices"][0]["finish_reason"] in ("stop", "length"), where
        assert conn.sock is sock and not closing, f"{where}: the connection was replaced"
    conn.close()


def test_a_client_that_drops_a_stream_stops_its_generation(served_app):
    url, app = served_app  # an untrained model: it rarely ends by itself
    batcher = app.state.batcher
    client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
    long = dict(model="tiny", prompt="Q: apples apples", max_tokens=480, temperature=0)
    full = client.completions.create(**long, stream=True)
    assert sum(1 for chunk in full if chunk.choices[0].finish_reason == "length") == 1  # runs to max_tokens

    before = batcher.decode_steps
    stream = client.completions.create(**long, stream=True)
    next(iter(stream))
    stream.close()
    steps = -1
    while steps != batcher.decode_steps:  # until generation is idle
        steps = batcher.decode_steps
        time.sleep(0.5)
    assert steps - before < long["max_tokens"]
    served = client.chat.completions.create(model="tiny", messages=USER, max_tokens=3)  # still serving
    assert served.choices[0].finish_reason in ("stop", "length")


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_a_stream_is_refused_before_it_starts(served_run, endpoint):
    client = openai.OpenAI(base_url=served_run[0], api_key=API_KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as refused:
        if endpoint == "chat":
            client.chat.completions.create(model="run", messages=USER, max_tokens=10**6, stream=True)
        else:
            client.completions.create(model="run", prompt="x", max_tokens=10**6, stream=True)
    assert refused.value.code == "context_length_exceeded"
