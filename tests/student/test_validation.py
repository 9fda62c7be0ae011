"""Validation measures what `fcot eval` measures: a run's recorded accuracy is that of its questions answered again."""

from __future__ import annotations

import json

from fcot.evaluate import evaluate_completions
from fcot.formats import CompletionDataset, read_json
from fcot.models import save_tiny_model
from fcot.student import StudentConfig, train
from train_helpers import curated_file, trainable_model


def test_recorded_validation_accuracy_is_what_fcot_eval_gives(fcot, shared_data, tmp_path):
    data = curated_file(shared_data, tmp_path / "F_zs_cot_coin_flip.jsonl", n=24, task="coin_flip")
    model = trainable_model(tmp_path / "gpt2", data)
    config = StudentConfig(model=str(model), lora=False, epochs=20, learning_rate=3e-3, warmup_ratio=0,
                           val_questions=24, eval_steps=30, precision="fp32")
    result = train(config, data, tmp_path / "run")
    kept = next(a for a in result.eval_accuracies if result.best_checkpoint.endswith(f"checkpoint-{a['step']}"))
    assert len(result.val_questions) == 24 and 0 < kept["correct"] < 24  # yes or no: some right, some wrong

    answered = fcot("eval", tmp_path / "run", "--split", "validation", "--max-new-tokens", result.val_max_new_tokens,
                    "--batch-size", 32, "--out", tmp_path / "out", "--data-dir", shared_data, "--json",
                    env={"FCOT_PRECISION": "fp32"})
    assert answered.code == 0, answered.stderr
    summary = json.loads(answered.stdout)
    assert summary["n"] == 24 and summary["accuracy"] == kept["eval_accuracy"]
    evaluation = evaluate_completions(CompletionDataset.load(summary["file"]), sample_indices=result.val_questions)
    assert sorted(r["sample_index"] for r in evaluation.records if r["correct"]) == kept["right"]
    assert read_json(tmp_path / "run" / "train_metrics.json")["val_questions"] == result.val_questions


def test_validation_split_needs_a_training_run(fcot, shared_data, tmp_path):

    plain = save_tiny_model(tmp_path / "plain", "decoder")
    result = fcot("eval", plain, "--task", "coin_flip", "--split", "validation", "--out", tmp_path / "out")
    assert result.code == 2 and "no finished training run" in result.stderr and "Traceback" not in result.stderr


def test_a_finished_run_folder_can_move(shared_data, tmp_path):
    data = curated_file(shared_data, tmp_path / "F_zs_cot_coin_flip.jsonl", n=8, task="coin_flip")
    model = trainable_model(tmp_path / "gpt2", data)
    config = StudentConfig(model=str(model), lora=False, max_steps=4, eval_steps=2, val_questions=4,
                           precision="fp32")
    result = train(config, data, tmp_path / "run")
    (tmp_path / "run").rename(tmp_path / "moved")
    for record in ("train_metrics.json", "fcot.yaml"):  # nothing but the command that made it names where it was
        text = (tmp_path / "moved" / record).read_text()
        assert str(tmp_path / "run") not in "".join(line for line in text.splitlines() if not line.startswith("#"))
    again = train(config, data, tmp_path / "moved")  # finished: read back, not retrained
    name = result.best_checkpoint.rsplit("/", 1)[-1]
    assert again.best_checkpoint == str(tmp_path / "moved" / "checkpoints" / name)
    assert again.out_dir == tmp_path / "moved"
    assert again.global_step == result.global_step and again.val_questions == result.val_questions
