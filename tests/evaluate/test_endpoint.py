from __future__ import annotations

from fcot.evaluate.endpoint import EndpointStudent
from fcot.teacher.engine import Sampling
from fcot.teacher.openai_backend import OpenAIBackend


def _backend(student: EndpointStudent) -> OpenAIBackend:
    return OpenAIBackend(student.endpoint, student.stats)


def test_an_engine_is_asked_for_no_repeat_penalty_and_openai_for_nothing_unknown(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    greedy = Sampling(max_tokens=8, stop=("END",))
    engine = _backend(EndpointStudent("http://127.0.0.1:8080/v1", "student"))
    body = engine.body("Q: 1 + 1?", greedy, 1)
    assert body["repeat_penalty"] == 1.0 and body["temperature"] == 0.0 and body["stop"] == ["END"]
    assert engine.identity["extra_body"] == {"repeat_penalty": 1.0}  # answers cached without it are not reused
    hosted = _backend(EndpointStudent("https://api.openai.com/v1", "ft:gpt-4.1-nano:me"))
    assert set(hosted.body("Q", greedy, 1)) == {"model", "max_tokens", "temperature", "top_p", "stop", "prompt"}
    assert "extra_body" not in hosted.identity  # the teacher's cache keys are unchanged
