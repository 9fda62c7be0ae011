"""`fcot curate` end to end: folders, task keys, the per-task table, and one-line errors."""

from __future__ import annotations

import json

from fcot.formats import read_json, read_jsonl

TEACHER_DIR = "completion_data/B_text-davinci-002__C_zs_cot"


def test_curates_a_folder_of_completion_files(fcot, tmp_path, shared_data):
    res = fcot("curate", shared_data / TEACHER_DIR, "--out", tmp_path, "--data-dir", shared_data, "--dedupe")
    assert res.code == 0, res.stderr
    assert "multiarith" in res.stdout and "332" in res.stdout and "gsm8k" in res.stdout
    files = sorted((tmp_path / "finetune_data" / "P_decoder").glob("F_*.jsonl"))
    assert len(files) == 10
    rows = read_jsonl(tmp_path / "finetune_data" / "P_decoder" / "F_zs_cot_gsm8k.jsonl")
    assert rows and all(r["label"].endswith(" END") and " --> " in r["label"] for r in rows)


def test_task_key_curates_bundled_completions_or_gold_answers(fcot, tmp_path):
    res = fcot("curate", "coin_flip", "--model-type", "encoder_decoder", "--max-rationale-tokens", "50", "--out",
               tmp_path)
    assert res.code == 0, res.stderr
    side = read_json(tmp_path / "finetune_data" / "P_encoder_decoder" / "F_zs_cot_coin_flip.curate.json")
    assert side["model_type"] == "encoder_decoder" and side["max_rationale_tokens"] == 50
    assert side["stats"]["kept"] + side["stats"]["too_long"] == side["stats"]["correct"]
    res = fcot("curate", "coin_flip", "--template", "ft_token", "--out", tmp_path)
    assert res.code == 0, res.stderr
    rows = read_jsonl(tmp_path / "finetune_data" / "P_decoder" / "F_coin_flip.jsonl")
    assert len(rows) == 350 and rows[0]["label"] in (" yes END", " no END")


def test_bad_inputs_fail_with_one_line_and_write_nothing(fcot, tmp_path, shared_data):
    raw = read_json(shared_data / TEACHER_DIR / "D_addsub.json")
    for rows in raw["data"].values():
        for row in rows:
            row["completion"] = " none."
    bad = tmp_path / "D_addsub.json"
    bad.write_text(json.dumps(raw))
    out = tmp_path / "out"
    cases = [
        (bad, ["--data-dir", shared_data], "no correct completion"),
        (tmp_path / "missing.json", [], "no such file"),
        ("multiarth", [], "did you mean: multiarith"),
        ("multiarith", ["--template", "ft_cot_natural", "--model-type", "encoder_decoder"], "decoder-only"),
        ("multiarith", ["--split", "test"], "test samples"),
    ]
    for source, extra, message in cases:
        res = fcot("curate", source, "--out", out, *extra)
        assert res.code == 2, (source, res.stderr)
        assert res.stderr.startswith("error: ") and message in res.stderr and res.stderr.count("\n") == 1
        assert "Traceback" not in res.stderr
    assert not out.exists()
