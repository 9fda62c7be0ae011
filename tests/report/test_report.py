"""The report turns results files into a table and plots, and rejects malformed results clearly."""

from __future__ import annotations

import json

import pytest

from fcot.errors import DataError
from fcot.report import Result, load_results, render_report, save_results

ROWS = [
    Result(task="multiarith", method="teacher (Zero-shot-CoT)", role="teacher", model="text-davinci-002",
           template="zs_cot", n=180, accuracy=78.67, params=175_000_000_000, usd=1.2),
    Result(task="multiarith", method="Fine-tune-CoT", model="smollm2-135m", template="ft_cot_token", n=180,
           accuracy=12.5, params=135_000_000, wall_s=90.0, usd=0.002),
    Result(task="multiarith", method="zero-shot", model="smollm2-135m", template="zs", n=180, accuracy=2.2,
           params=135_000_000, wall_s=30.0, usd=0.001),
]


def test_save_merges_and_load_round_trips(tmp_path):
    path = tmp_path / "results.json"
    save_results(path, ROWS[:2])
    save_results(path, [ROWS[1].model_copy(update={"accuracy": 20.0}), ROWS[2]])
    rows = load_results(path)
    assert len(rows) == 3
    assert {r.method: r.accuracy for r in rows}["Fine-tune-CoT"] == 20.0
    assert rows[1].s_per_answer == pytest.approx(0.5)


def test_render_writes_table_and_plots(tmp_path):
    files = render_report(ROWS, tmp_path / "report")
    summary = files["summary"].read_text()
    assert "| multiarith | teacher (Zero-shot-CoT) | text-davinci-002 | 175B | 180 | 78.67 |" in summary
    assert summary.index("teacher") < summary.index("Fine-tune-CoT")
    for name in ("accuracy", "cost"):
        assert files[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert files[name].stat().st_size > 5000


def test_cli_report(tmp_path, fcot):
    save_results(tmp_path / "exp" / "results.json", ROWS)
    result = fcot("report", tmp_path)
    assert result.code == 0, result.stderr
    assert "Fine-tune-CoT" in result.stdout and "78.67" in result.stdout
    assert (tmp_path / "report" / "accuracy.png").exists()


@pytest.mark.parametrize(
    "content, message",
    [("[{\"task\": \"x\"}]", "result field"), ("{}", "expected a JSON list"), ("nope", "not valid JSON")],
)
def test_bad_results_file(tmp_path, fcot, content, message):
    (tmp_path / "results.json").write_text(content)
    with pytest.raises(DataError, match=message):
        load_results(tmp_path / "results.json")
    result = fcot("report", tmp_path / "results.json")
    assert result.code == 2
    assert result.stderr.startswith("error:") and message in result.stderr
    assert "Traceback" not in result.stderr


def test_empty_folder(tmp_path, fcot):
    result = fcot("report", tmp_path)
    assert result.code == 2 and "no results.json" in result.stderr
    json.dumps([r.model_dump() for r in ROWS])  # results stay JSON-serialisable


def test_wilson_interval_matches_known_values():
    from fcot.report.results import Result
    from fcot.stats import wilson_interval

    assert wilson_interval(0.0, 10) == (0.0, 27.75)  # 0 of 10: the classic upper bound
    assert wilson_interval(100.0, 10) == (72.25, 100.0)
    low, high = wilson_interval(90.0, 150)
    assert (low, high) == (84.16, 93.85) and wilson_interval(90.0, 1500)[0] > low  # more questions, tighter
    row = Result(task="t", method="m", model="x", template="zs", n=150, accuracy=90.0)
    assert row.model_dump()["ci95"] == (84.16, 93.85)


def test_analysis_pictures_are_drawn_for_what_varies(tmp_path):
    from fcot.report import Result, render_report
    from fcot.report.analyses import plot_analyses

    def row(method, accuracy, **extra):
        return Result(task="coin_flip", method=method, model=extra.pop("model", "s"), template="ft_cot_token", n=150,
                      accuracy=accuracy, **extra)

    sizes = [row("Fine-tune-CoT", 50 + n / 10, model=f"s{n}", params=n * 10**6, seed=seed,
                 point={"student.model": f"s{n}", "student.seed": seed}) for n in (135, 360) for seed in (0, 1)]
    baseline = row("zero-shot", 30.0, params=135 * 10**6, point={"student.model": "s135", "student.seed": 0})
    assert list(plot_analyses([*sizes, baseline], tmp_path)) == ["student_size"]  # only the student varies
    assert plot_analyses([baseline], tmp_path / "none") == {}
    files = render_report([*sizes, baseline], tmp_path / "report")
    summary = files["summary"].read_text()
    assert "![student_size](student_size.png)" in summary and "Fine-tune-CoT [model=s360 seed=1]" in summary
    assert files["student_size"].read_bytes().startswith(b"\x89PNG")


def test_a_sweeps_rows_are_read_once_from_its_folder(tmp_path):
    from fcot.report import Result, load_results, save_results

    rows = [Result(task="t", method="Fine-tune-CoT", model="m", template="ft_cot_token", n=10, accuracy=a,
                   point={"curate.max_questions": q}) for a, q in ((10.0, 8), (20.0, 32))]
    save_results(tmp_path / "results.json", rows)  # the sweep's own file
    for row in rows:  # and each point's
        save_results(tmp_path / f"q{row.point['curate.max_questions']}" / "results.json", [row])
    assert sorted(r.accuracy for r in load_results(tmp_path)) == [10.0, 20.0]


def test_the_time_split_adds_training_and_answering_per_method_and_leaves_the_rest():
    from fcot.report.render import time_split

    rows = [Result(task="t", method="teacher (Zero-shot-CoT)", model="m", template="zs_cot", n=10, accuracy=50,
                   role="teacher", wall_s=99.0),
            Result(task="t", method="zero-shot", model="s", template="zs", n=10, accuracy=0, wall_s=30.0),
            Result(task="t", method="Fine-tune-CoT", model="s", template="ft_cot_token", n=10, accuracy=40,
                   wall_s=60.0, train_wall_s=288.0),
            Result(task="u", method="Fine-tune-CoT", model="s", template="ft_cot_token", n=10, accuracy=40,
                   wall_s=40.0, train_wall_s=12.0)]
    assert time_split(rows, 500) == ("time: training 300 s (Fine-tune-CoT 300); answering 130 s (zero-shot 30, "
                                     "Fine-tune-CoT 100); the rest 70 s (teacher, curation, loading)")
    assert time_split(rows, 100).endswith("; stages finished by an earlier invocation included")
