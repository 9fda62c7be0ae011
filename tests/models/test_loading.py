"""Loading students: tiny random-init models, bad paths, and the real SmolLM2-135M-Instruct from PyPI."""

from __future__ import annotations

import time

import pytest
import torch

from fcot.errors import ModelError
from fcot.models import DEFAULT_STUDENT, default_student_dir, load_model, save_tiny_model


@pytest.mark.parametrize("model_type", ["decoder", "encoder_decoder"])
def test_tiny_model_loads_with_generation_ready_tokenizer(tmp_path, model_type):
    path = save_tiny_model(tmp_path / "tiny", model_type)
    loaded = load_model(path, dtype="bfloat16")
    assert loaded.model_type == model_type
    assert loaded.name == str(path)
    assert loaded.model.dtype == torch.bfloat16
    assert not loaded.model.training
    assert loaded.tokenizer.pad_token is not None
    if model_type == "decoder":
        assert loaded.tokenizer.padding_side == "left"
    batch = loaded.tokenizer(["3 + 5 =", "Q: Tom has 3 apples"], return_tensors="pt", padding=True)
    out = loaded.model.generate(**batch, max_new_tokens=4, do_sample=False)
    assert out.shape[0] == 2


def test_missing_path_and_non_model_raise_model_error(tmp_path):
    with pytest.raises(ModelError, match="no such model folder"):
        load_model(tmp_path / "nothing-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        load_model(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelError, match="not a model"):
        load_model(tmp_path / "notes.txt")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="cannot load model"):
        load_model(tmp_path / "broken")
    tiny = save_tiny_model(tmp_path / "tiny", "decoder")
    with pytest.raises(ModelError, match="dtype 'float99'"):
        load_model(tiny, dtype="float99")


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory):
    """The default student converted once per test session (into the session's isolated cache)."""
    return default_student_dir(root=tmp_path_factory.getbasetemp() / "fcot-cache" / "models")


@pytest.mark.slow
def test_default_student_converts_from_pypi_gguf_and_generates(smollm2_dir):
    start = time.perf_counter()
    loaded = load_model(DEFAULT_STUDENT)
    assert time.perf_counter() - start < 30  # the converted folder loads fast; no second conversion
    assert loaded.name == DEFAULT_STUDENT and loaded.model_type == "decoder"
    tok = loaded.tokenizer
    assert tok.padding_side == "left" and tok.pad_token is not None
    chat = tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert chat.endswith("<|im_start|>assistant\n")
    batch = tok(["The capital of France is"], return_tensors="pt")
    out = loaded.model.generate(**batch, max_new_tokens=4, do_sample=False)
    assert "Paris" in tok.decode(out[0, batch.input_ids.shape[1]:])
