"""`fcot run` with `self_train`: the Fine-tune-CoT student samples its own rationales and a second student trains on
its correct ones plus the teacher's (a tiny student that already answers four train questions)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from tiny_lm import overfit, rationale

from fcot.formats import read_json, read_jsonl
from fcot.models import save_tiny_model
from fcot.templates import format_input, format_label

KNOWN = 4


def test_self_training_adds_the_students_correct_rationales_and_a_row(fcot, tmp_path, shared_data):
    dataset = {s["sample_index"]: s for s in read_json(shared_data / "dataset" / "multiarith.json")["data"]}
    train = read_json(shared_data / "split" / "multiarith__default.json")["train"]
    known = [{**dataset[i], "rationale": rationale(dataset[i])} for i in train[:KNOWN]]
    student = save_tiny_model(tmp_path / "student", texts=tuple(s["question"] for s in known))
    overfit(student, [format_input("ft_cot_token", s) + format_label("ft_cot_token", s, stop_phrase="END")
                      for s in known])
    config = {"name": "self", "tasks": ["multiarith"], "out": str(tmp_path / "out"), "data_dir": str(shared_data),
              "student": {"model": str(student), "lora": False, "max_steps": 1, "batch_size": 4,
                          "learning_rate": 1e-7, "val_fraction": 0},
              "curate": {"max_samples": 8, "calculator": False}, "eval": {"limit": 4, "max_new_tokens": 24, "batch_size": 64},
              "baselines": [], "self_train": {"samples": 2, "temperature": 0.3}}
    path = tmp_path / "self.yaml"
    path.write_text(yaml.safe_dump(config))
    result = fcot("run", path, "--threads", "1")
    assert result.code == 0, result.stderr
    root = tmp_path / "out" / "self"
    rows = {r["method"]: r for r in json.loads((root / "results.json").read_text())}
    assert set(rows) == {"teacher (Zero-shot-CoT)", "Fine-tune-CoT", "Fine-tune-CoT + self-training"}
    (own,) = root.glob("completion_data/B_*student__C_ft_cot_token_t30_d2/F_zs_cot_multiarith__D_multiarith.json")
    sampled = read_json(own)["data"]
    assert len(sampled) == len(train) and all(len(v) == 2 for v in sampled.values())
    combined = read_jsonl(root / "finetune_data" / "P_decoder" / "F_zs_cot+ft_cot_token_t30_d2_multiarith.jsonl")
    teachers, own_rows = combined[:8], combined[8:]  # the teacher's samples (curate.max_samples), then the student's
    assert all(r["completion_index"] == 0 for r in teachers)
    assert {r["sample_index"] for r in own_rows} >= set(train[:KNOWN])  # and others its answers happen to fit
    assert sum(r["label"].startswith(" So it is") for r in own_rows) >= KNOWN
    row = rows["Fine-tune-CoT + self-training"]
    assert row["train_samples"] == len(combined) and f"{len(own_rows)} own correct rationales" in row["note"]
    assert (root / "runs" / "zs_cot+ft_cot_token_t30_d2_multiarith" / "train_metrics.json").is_file()
