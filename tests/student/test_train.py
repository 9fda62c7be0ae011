"""Really train tiny random-init students on curated real completions: loss falls, format is learned, runs resume."""

from __future__ import annotations

import pytest
import torch
from peft.tuners.tuners_utils import BaseTunerLayer
from safetensors import safe_open
from transformers import TrainerCallback

from fcot.curate import hold_out, split_validation
from fcot.formats import read_json, read_jsonl
from fcot.student import StudentConfig, is_complete, last_checkpoint, train
from fcot.student.data import read_train_file, real_tokens, tokenize
from fcot.student.choose import Point, choose
from fcot.student.loss import FusedLabelLoss
from fcot.student.run import CURVE_FILE
from fcot.models import load_model, save_tiny_model
from train_helpers import curated_file, trainable_model


@pytest.fixture(scope="module")
def decoder_setup(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("decoder")
    data = curated_file(shared_data, root / "F_zs_cot_multiarith.jsonl", n=8)
    return data, trainable_model(root / "gpt2", data)


def _generate(run_dir, text: str) -> str:
    loaded = load_model(run_dir)
    batch = loaded.tokenizer([text], return_tensors="pt")
    out = loaded.model.generate(**batch, max_new_tokens=80, do_sample=False)
    if loaded.model_type == "decoder":
        out = out[:, batch.input_ids.shape[1]:]
    return loaded.tokenizer.decode(out[0], skip_special_tokens=True)


def _fits_the_format(run_dir, rows) -> list[str]:
    outputs = [_generate(run_dir, row["input"]) for row in rows]
    assert sum("-->" in text for text in outputs) > len(outputs) / 2, outputs
    assert any(text.rstrip().endswith("END") for text in outputs), outputs
    return outputs


def test_gpt2_learns_the_ft_cot_token_format(decoder_setup, tmp_path):
    data, model = decoder_setup
    config = StudentConfig(model=str(model), lora=False, epochs=60, learning_rate=3e-3, warmup_ratio=0,
                           val_fraction=0.1, eval_steps=30)
    result = train(config, data, tmp_path / "run")
    losses = [x["loss"] for x in result.losses]
    assert len(losses) == result.global_step == 60 and losses[-1] < 0.25 * losses[0]
    curated = read_train_file(data)  # validation: 10% of the 420 train questions, most without a curated sample
    held = hold_out(curated.meta["questions"], 0.1, seed=0)
    rows, rows_val = split_validation(curated.rows, held)
    assert len(held) == 42 and result.val_questions == sorted(held)
    assert (result.train_samples, result.val_samples) == (len(rows), len(rows_val))
    loaded = load_model(model)
    assert result.real_tokens == 60 * real_tokens(tokenize(rows, loaded.tokenizer, "decoder", 512)[0])
    run = tmp_path / "run"
    assert is_complete(run) and (run / "config.json").exists() and (run / "tokenizer.json").exists()
    metrics = read_json(run / "train_metrics.json")
    assert metrics["global_step"] == 60 and metrics["tokens_per_s"] > 0
    assert len(metrics["eval_losses"]) == (2 if rows_val else 0)  # the loss needs curated held-out samples
    assert metrics["selected_by"] == "accuracy" and [a["step"] for a in metrics["eval_accuracies"]] == [30, 60]
    points = [Point(a["step"], a["epoch"], tuple(q in a["right"] for q in result.val_questions))
              for a in metrics["eval_accuracies"]]
    assert [a["correct"] for a in metrics["eval_accuracies"]] == [p.correct for p in points]
    assert all(a["n"] == 42 and a["ci95"] == list(p.ci95) for a, p in zip(metrics["eval_accuracies"], points))
    kept = choose(points)
    assert result.best_checkpoint.endswith(f"checkpoint-{points[kept.kept].step}") and result.choice == kept.reason
    assert (run / CURVE_FILE).read_bytes().startswith(b"\x89PNG")  # the learning curve, drawn
    record = (run / "fcot.yaml").read_text()
    assert record.startswith("# fcot train") and "template: ft_cot_token" in record and "stop_phrase: END" in record
    _fits_the_format(run, read_jsonl(data)[:5])


def test_t5_learns_the_ft_cot_token_format(shared_data, tmp_path):
    data = curated_file(shared_data, tmp_path / "F_t5.jsonl", model_type="encoder_decoder", n=8)
    model = trainable_model(tmp_path / "t5", data, "encoder_decoder")
    # fp32 on every CPU: bf16 autocast rounds differently on AVX512-BF16 and AMX, and on the former this tiny
    # random T5 at lr 1e-2 fits the format less often (2 of 5 answers)
    config = StudentConfig(model=str(model), lora=False, epochs=100, learning_rate=1e-2, warmup_ratio=0,
                           val_fraction=0, precision="fp32")
    result = train(config, data, tmp_path / "run")
    assert result.losses[-1]["loss"] < 0.25 * result.losses[0]["loss"]
    assert result.real_tokens > 0 and is_complete(tmp_path / "run")
    _fits_the_format(tmp_path / "run", read_jsonl(data)[:5])


def test_lora_adapters_are_merged_into_a_plain_model(shared_data, tmp_path):
    model = save_tiny_model(tmp_path / "llama", "decoder")
    data = curated_file(shared_data, tmp_path / "F.jsonl", n=16)
    config = StudentConfig(model=str(model), lora=True, lora_r=4, max_steps=6, batch_size=4, learning_rate=1e-2,
                           val_fraction=0)
    result = train(config, data, tmp_path / "run")
    assert result.losses[-1]["loss"] < result.losses[0]["loss"] and result.best_checkpoint is None
    with safe_open(tmp_path / "run" / "model.safetensors", "pt") as f:
        keys = list(f.keys())
        assert not [k for k in keys if "lora" in k]
        tuned = f.get_tensor("model.layers.0.self_attn.q_proj.weight")
    base = load_model(model).model.state_dict()["model.layers.0.self_attn.q_proj.weight"]
    assert not torch.allclose(tuned, base)  # the adapter's update is in the merged weight
    assert "lora_merged: true" in (tmp_path / "run" / "fcot.yaml").read_text()


def test_activation_checkpointing_trains_lora_like_the_plain_trainer(shared_data, tmp_path):
    model = save_tiny_model(tmp_path / "llama", "decoder")
    data = curated_file(shared_data, tmp_path / "F.jsonl", n=16)
    losses = {}
    for checkpointing in (False, True):
        config = StudentConfig(model=str(model), lora_r=4, max_steps=4, batch_size=4, learning_rate=1e-2,
                               val_fraction=0, activation_checkpointing=checkpointing)
        losses[checkpointing] = [x["loss"] for x in train(config, data, tmp_path / str(checkpointing)).losses]
    assert losses[True][-1] < losses[True][0]  # the adapters get gradients through the recomputed layers
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)


def test_micro_batches_make_the_same_updates_as_one_batch(shared_data, tmp_path):
    model = save_tiny_model(tmp_path / "llama", "decoder")
    data = curated_file(shared_data, tmp_path / "F.jsonl", n=24)
    results = {}
    for micro in (8, 4, 3):  # 3 does not divide 8: micro-batches of 2
        config = StudentConfig(model=str(model), lora_r=4, max_steps=3, batch_size=8, micro_batch_size=micro,
                               learning_rate=1e-2, val_fraction=0)
        results[micro] = train(config, data, tmp_path / str(micro))
    losses = {micro: [x["loss"] for x in r.losses] for micro, r in results.items()}
    assert losses[8][-1] < losses[8][0] and len(losses[8]) == 3
    assert losses[4] == pytest.approx(losses[8], rel=1e-4) and losses[3] == pytest.approx(losses[8], rel=1e-4)
    assert results[4].real_tokens == results[3].real_tokens == results[8].real_tokens  # the same 24 samples
    assert results[3].padding_share <= results[4].padding_share <= results[8].padding_share  # sorted within a step


def test_packed_batches_train_like_padded_ones(decoder_setup, tmp_path):
    data, model = decoder_setup
    results = {}
    for batching in ("padded", "packed", "group_by_length"):
        config = StudentConfig(model=str(model), lora=False, max_steps=2, batch_size=4, batching=batching,
                               val_fraction=0)
        results[batching] = train(config, data, tmp_path / batching)
    padded, packed = results["padded"], results["packed"]
    assert packed.losses[0]["loss"] == pytest.approx(padded.losses[0]["loss"], rel=1e-4)
    assert packed.real_tokens == padded.real_tokens  # same batches, counted without padding either way
    assert results["group_by_length"].real_tokens == padded.real_tokens  # 2 steps x 4 = all 8 samples


class _Interrupt(TrainerCallback):
    """Stops the process like Ctrl-C right after step `at`."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.at:
            raise KeyboardInterrupt


def test_interrupted_training_resumes_to_the_same_steps(decoder_setup, tmp_path):
    data, model = decoder_setup
    config = StudentConfig(model=str(model), lora=False, epochs=4, batch_size=4, eval_steps=2, val_fraction=0.1)
    full = train(config, data, tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        train(config, data, tmp_path / "run", callbacks=[_Interrupt(5)])
    assert not is_complete(tmp_path / "run") and not (tmp_path / "run" / "model.safetensors").exists()
    assert last_checkpoint(tmp_path / "run").name == "checkpoint-4"
    resumed = train(config, data, tmp_path / "run")
    assert resumed.resumed_from.endswith("checkpoint-4")
    assert resumed.global_step == full.global_step == 8
    assert [x["step"] for x in resumed.losses] == list(range(1, 9))
    assert resumed.losses[-1]["loss"] == pytest.approx(full.losses[-1]["loss"], rel=1e-4)
    assert resumed.real_tokens == full.real_tokens
    again = train(config, data, tmp_path / "run")  # finished: nothing to do
    assert again.global_step == 8 and again.resumed_from == resumed.resumed_from


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_fused_loss_trains_like_the_models_own(shared_data, tmp_path, monkeypatch, precision):
    import fcot.student.trainer as trainer_module

    model = save_tiny_model(tmp_path / "llama", "decoder")
    data = curated_file(shared_data, tmp_path / "F.jsonl", n=16)
    config = StudentConfig(model=str(model), lora_r=4, max_steps=3, batch_size=8, learning_rate=1e-2,
                           val_fraction=0, precision=precision)
    calls = []
    fused = FusedLabelLoss.__call__

    def spy(self, *args):  # bf16 training must reach the model under autocast, as the model's own forward would,
        calls.append(1)    # with peft's cast of adapter inputs to fp32 (undone by the autocast) switched off
        assert torch.is_autocast_enabled("cpu") == (precision == "bf16")
        casting = {m.cast_input_dtype_enabled for m in self.body.modules() if isinstance(m, BaseTunerLayer)}
        assert casting == {precision == "fp32"}
        return fused(self, *args)

    monkeypatch.setattr(FusedLabelLoss, "__call__", spy)
    with_fused = [x["loss"] for x in train(config, data, tmp_path / "fused").losses]
    assert len(calls) == 3 * 2  # each micro-batch of each step
    monkeypatch.setattr(trainer_module, "fused_label_loss", lambda model: None)
    own = [x["loss"] for x in train(config, data, tmp_path / "own").losses]
    assert len(calls) == 6 and with_fused[-1] < with_fused[0]
    assert with_fused == pytest.approx(own, rel=1e-3 if precision == "bf16" else 1e-4)
