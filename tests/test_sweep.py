"""Sweeps: a config's `sweep:` axes expand into resumable points; baselines no axis changes run once; --dry-run."""

from __future__ import annotations

import json

import pytest
import yaml

from fcot.config import load_config
from fcot.errors import ConfigError
from fcot.models import save_tiny_model
from fcot.sweep import plan, point_name, points


def test_axes_expand_into_named_points_with_baselines_run_once():
    config = load_config(None, ["sweep={curate.max_questions: [8, null], student.seed: [0, 1]}",
                                "baselines=[zs, ft_token]"])
    found = points(config)
    assert [point_name(p.values) for p in found] == ["max_questions-8__seed-0", "max_questions-8__seed-1",
                                                     "max_questions-all__seed-0", "max_questions-all__seed-1"]
    assert [p.config.name for p in found][0] == "demo/max_questions-8__seed-0"
    assert [(p.config.curate.max_questions, p.config.student.seed) for p in found] == [(8, 0), (8, 1), (None, 0),
                                                                                         (None, 1)]
    # zero-shot prompting depends on no axis here: once; vanilla fine-tuning on both: at every point
    assert [p.config.baselines for p in found] == [["zs", "ft_token"], ["ft_token"], ["ft_token"], ["ft_token"]]
    assert all(not p.config.sweep for p in found)
    teachers = points(load_config(None, ["sweep={teacher.samples: [1, 2]}", "teacher.temperature=0.7",
                                          "tasks=[coin_flip, multiarith]"]))
    assert [p.config.baselines for p in teachers] == [["zs", "ft_token"], []]  # D changes no baseline
    tasks = points(load_config(None, ["sweep={tasks: [coin_flip, [multiarith, svamp]]}"]))
    assert [p.config.tasks for p in tasks] == [["coin_flip"], ["multiarith", "svamp"]]
    assert point_name({"student.model": "/models/flan-t5-small", "teacher.teacher": "openai:gpt-4o"}) == \
        "model-flan-t5-small__teacher-openai-gpt-4o"


@pytest.mark.parametrize("sweep, message", [
    ("{eval.limit: [1, 2]}", "eval.limit cannot be swept"),
    ("{student.epochs: [1, -2]}", "student.epochs"),
    ("{student.nonsense: [1]}", "student.nonsense"),
])
def test_bad_axes_are_one_line(sweep, message, fcot):
    with pytest.raises(ConfigError, match=message):
        points(load_config(None, [f"sweep={sweep}"]))
    result = fcot("run", "--dry-run", "--set", f"sweep={sweep}")
    assert result.code == 2 and result.stderr.count("\n") == 1 and message in result.stderr


def test_dry_run_counts_only_the_teacher_requests_not_made_before():
    config = load_config(None, ["sweep={teacher.samples: [1, 2, 4]}", "teacher.teacher=openai:gpt-4o-mini",
                                "teacher.temperature=0.7", "tasks=[multiarith]"])
    rows = plan(config)
    questions = 600  # multiarith, train and test: the teacher's row needs the test answers too
    assert [r.teacher_requests for r in rows] == [2 * questions, 2 * questions, 2 * 2 * questions]
    assert rows[0].teacher_usd > 0 and rows[2].teacher_usd == pytest.approx(2 * rows[1].teacher_usd)
    assert [r.students for r in rows] == [2, 1, 1] and rows[0].test_answers == 3 * 180
    recorded = plan(load_config(None, ["sweep={curate.max_questions: [8, 32]}", "tasks=[coin_flip]"]))
    assert [(r.teacher_requests, r.train_questions) for r in recorded] == [(0, 8), (0, 32)]


def test_a_sweep_runs_each_point_resumably_and_gathers_the_results(fcot, tmp_path, shared_data, monkeypatch):
    monkeypatch.setenv("FCOT_PRECISION", "fp32")
    model = save_tiny_model(tmp_path / "tiny", "decoder")
    config = {"name": "size", "tasks": ["multiarith"], "out": str(tmp_path / "out"), "data_dir": str(shared_data),
              "student": {"model": str(model), "max_steps": 1, "batch_size": 4, "val_questions": 8},
              "eval": {"limit": 2, "max_new_tokens": 4, "batch_size": 2}, "baselines": ["zs", "ft_token"],
              "curate": {"calculator": False}, "sweep": {"curate.max_questions": [8, 16]}}
    path = tmp_path / "size.yaml"
    path.write_text(yaml.safe_dump(config))
    dry = fcot("run", path, "--dry-run")
    assert dry.code == 0 and "2 point(s)" in dry.stdout and not (tmp_path / "out").exists()
    first = fcot("run", path, "--threads", "1")
    assert first.code == 0, first.stderr
    root = tmp_path / "out" / "size"
    rows = json.loads((root / "results.json").read_text())
    students = [(r["method"], r["point"]["curate.max_questions"]) for r in rows if r["role"] == "student"]
    assert sorted(students) == [("Fine-tune-CoT", 8), ("Fine-tune-CoT", 16), ("vanilla fine-tune", 8),
                                ("vanilla fine-tune", 16), ("zero-shot", 8)]
    assert {r["train_questions"] for r in rows if r["method"] == "vanilla fine-tune"} == {8, 16}
    cot = [r for r in rows if r["method"] == "Fine-tune-CoT"]
    assert all(r["teacher"] == "recorded:text-davinci-002" and r["samples"] == 1 and r["seed"] == 0 for r in cot)
    for point in ("max_questions-8", "max_questions-16"):
        assert (root / point / "runs" / f"zs_cot_multiarith_q{point.split('-')[1]}" / "train_metrics.json").exists()
    assert (root / "report" / "dataset_size.png").stat().st_size > 0
    assert "![dataset_size](dataset_size.png)" in (root / "report" / "summary.md").read_text()
    stamp = (root / "max_questions-8" / "runs" / "zs_cot_multiarith_q8" / "train_metrics.json").stat().st_mtime_ns
    again = fcot("run", path)
    assert again.code == 0, again.stderr
    assert (root / "max_questions-8" / "runs" / "zs_cot_multiarith_q8" / "train_metrics.json").stat().st_mtime_ns \
        == stamp
    report = fcot("report", root)  # the points' own results.json files and the sweep's hold the same rows
    assert report.code == 0 and report.stdout.count("Fine-tune-CoT [max_questions=8]") == 1
