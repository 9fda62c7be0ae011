"""Bad training input fails early with one-line fcot errors and leaves no finished-looking run; configs round-trip."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import TrainerCallback

from fcot.errors import ConfigError, DataError, ModelError
from fcot.student import StudentConfig, is_complete, train
from train_helpers import curated_file, trainable_model


@pytest.fixture(scope="module")
def setup(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("errors")
    data = curated_file(shared_data, root / "F_zs_cot_multiarith.jsonl", n=8)
    return root, data, trainable_model(root / "gpt2", data)


def _quick(model, **extra) -> StudentConfig:
    return StudentConfig(model=str(model), lora=False, max_steps=2, batch_size=4, val_fraction=0, **extra)


def test_empty_and_malformed_files(setup, tmp_path):
    _, _, model = setup
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(DataError, match="no training samples"):
        train(_quick(model), empty, tmp_path / "run")
    missing = tmp_path / "missing.jsonl"
    missing.write_text(json.dumps({"input": "2 + 2 ###", "label": " 4 END"}) + "\n" + json.dumps({"input": "x"}) + "\n")
    with pytest.raises(DataError, match=r"missing\.jsonl:2: missing or empty 'label'"):
        train(_quick(model), missing, tmp_path / "run")
    with pytest.raises(DataError, match="no such file"):
        train(_quick(model), tmp_path / "nowhere.jsonl", tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_bad_models_and_mismatched_model_types(setup, shared_data, tmp_path):
    _, data, model = setup
    with pytest.raises(ModelError, match="no such model folder"):
        train(_quick(tmp_path / "no-model"), data, tmp_path / "run")
    (tmp_path / "notes").mkdir()
    with pytest.raises(ModelError, match="not a model folder"):
        train(_quick(tmp_path / "notes"), data, tmp_path / "run")
    t5 = trainable_model(tmp_path / "t5", data, "encoder_decoder")
    with pytest.raises(ModelError, match="curated for decoder models but the model is encoder_decoder"):
        train(_quick(t5), data, tmp_path / "run")
    natural = curated_file(shared_data, tmp_path / "F_natural.jsonl", template="ft_cot_natural")
    with pytest.raises(ModelError, match="ft_cot_natural is decoder-only"):
        train(_quick(t5), natural, tmp_path / "run")
    assert not is_complete(tmp_path / "run")


class _Allocate(TrainerCallback):
    """Asks for more memory than any machine has, as a too-large batch would."""

    def on_step_begin(self, args, state, control, **kwargs):
        torch.empty(1 << 60, dtype=torch.uint8)


def test_out_of_memory_suggests_smaller_batches(setup, tmp_path):
    _, data, model = setup
    with pytest.raises(ConfigError, match="out of memory .* smaller --micro-batch-size or --max-len"):
        train(_quick(model), data, tmp_path / "run", callbacks=[_Allocate()])
    assert not is_complete(tmp_path / "run") and not (tmp_path / "run" / "model.safetensors").exists()


def test_finished_runs_and_resume_flags_are_checked(setup, tmp_path):
    _, data, model = setup
    with pytest.raises(ConfigError, match="no checkpoint to resume from"):
        train(_quick(model), data, tmp_path / "run", resume=True)
    train(_quick(model), data, tmp_path / "run")
    with pytest.raises(ConfigError, match="finished run with another config"):
        train(_quick(model, seed=1), data, tmp_path / "run")
    with pytest.raises(ConfigError, match="all 8 samples are longer than max_len=8"):
        train(_quick(model, max_len=8), data, tmp_path / "short")


def test_student_config_yaml_round_trip_and_problems(tmp_path):
    config = StudentConfig(model="runs/x", lora=False, epochs=2, learning_rate=1e-4, lora_targets=["q_proj"])
    path = tmp_path / "student.yaml"
    path.write_text(config.to_yaml(header="fcot train data.jsonl --config student.yaml"))
    assert path.read_text().startswith("# fcot train")
    assert StudentConfig.from_yaml(path) == config
    assert StudentConfig.from_yaml(path, epochs=5, learning_rate=None).epochs == 5
    assert StudentConfig().resolved().learning_rate == 1e-3 and StudentConfig(lora=False).resolved_lr == 5e-5
    micro = {(b, m, a): StudentConfig(batch_size=b, micro_batch_size=m, grad_accum=a).micro_batches
             for b, m, a in ((8, 4, 1), (8, 8, 1), (6, 4, 1), (3, 4, 1), (7, 4, 2))}
    assert micro == {(8, 4, 1): (4, 2), (8, 8, 1): (8, 1), (6, 4, 1): (3, 2), (3, 4, 1): (3, 1), (7, 4, 2): (1, 14)}
    wrapped = tmp_path / "fcot.yaml"
    wrapped.write_text("student:\n  model: tiny\n  batch_size: 2\ndata:\n  template: ft_cot_token\n")
    assert StudentConfig.from_yaml(wrapped).batch_size == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: -1\nbatching: zigzag\nlayers: 3\n")
    with pytest.raises(ConfigError) as info:
        StudentConfig.from_yaml(bad)
    message = str(info.value)
    assert "\n" not in message and all(word in message for word in ("epochs", "batching", "layers"))
    with pytest.raises(ConfigError, match="no such config file"):
        StudentConfig.from_yaml(tmp_path / "nothing.yaml")
