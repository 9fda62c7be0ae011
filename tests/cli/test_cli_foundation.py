"""`fcot tasks` and `fcot score` end to end, including bad input (exit 2, one `error:` line)."""

from __future__ import annotations

import json

import pytest

TEACHER = "completion_data/B_text-davinci-002__C_zs_cot"
PAPER_ACCURACY = {"single_eq": 79.53, "addsub": 71.39, "multiarith": 78.67, "gsm8k": 41.02, "aqua": 33.46,
                  "date_understanding": 67.48, "tracking_shuffled_objects": 52.40,
                  "last_letter_concatenation": 57.60, "coin_flip": 91.40, "commonsense_qa": 64.62}


def test_tasks_table(fcot, shared_data):
    result = fcot("tasks", "--data-dir", shared_data)
    assert result.code == 0, result.stderr
    for key in PAPER_ACCURACY:
        assert f"│ {key} " in result.stdout
    assert "356/152" in result.stdout and "413/187" in result.stdout


def test_tasks_json(fcot, shared_data):
    result = fcot("tasks", "--json", "--data-dir", shared_data)
    rows = {r["key"]: r for r in json.loads(result.stdout)}
    assert len(rows) == 12 and rows["strategy_qa"]["size"] == 2290
    assert rows["date_understanding"]["splits"]["template"] == {"train": 261, "test": 108}
    assert rows["aqua"]["answer_type"] == "choice"


def test_evaluate_folder_json_matches_paper(fcot, shared_data):
    result = fcot("score", shared_data / "completion_data", "--json")
    assert result.code == 0, result.stderr
    found = {r["dataset_key"]: round(100 * r["accuracy"], 2) for r in json.loads(result.stdout)}
    assert found == PAPER_ACCURACY


def test_evaluate_test_split_table(fcot, shared_data):
    result = fcot("score", shared_data / TEACHER / "D_gsm8k.json", "--split", "test", "--data-dir", shared_data)
    assert result.code == 0, result.stderr
    assert "396" in result.stdout and "38.64" in result.stdout


def _sums(tmp_path, key: str) -> dict:
    return {"metadata": {"dataset_key": key, "prediction_template": "ft_cot_token"},
            "data": {str(i): [{"sample_index": i, "completion_index": 0, "answer": str(2 * i),
                               "completion": f"{i}+{i} --> {2 * i if i % 2 else 0}"}] for i in range(10)}}


def test_evaluate_custom_task(fcot, tmp_path):
    questions = tmp_path / "sums.csv"
    questions.write_text("q,a\n" + "".join(f"{i}+{i}?,{2 * i}\n" for i in range(10)))
    path = _write(tmp_path / "D_sums.json", _sums(tmp_path, "sums"))
    result = fcot("score", path, "--task", questions, "--answer-type", "number")
    assert result.code == 2 and "sums.csv: row 1: no 'question' or 'answer'" in result.stderr
    args = ["score", path, "--task", questions, "--answer-type", "number", "--question-field", "q",
            "--answer-field", "a", "--json"]
    result = fcot(*args)
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)[0]["accuracy"] == pytest.approx(0.6)  # i = 0 and the five odd i
    assert json.loads(fcot(*args, "--split", "test").stdout)[0]["n"] == 3
    unregistered = fcot("score", path)
    assert unregistered.code == 2 and "unknown task 'sums'" in unregistered.stderr


def _write(path, content):
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


CD_META = {"dataset_key": "gsm8k", "prediction_template": "zs_cot"}
ONE = {"0": [{"sample_index": 0, "completion_index": 0, "answer": "18", "completion": " 18."}]}


@pytest.mark.parametrize(
    "name, content, extra, expected",
    [
        ("D_bad.json", "{not json", [], "not valid JSON"),
        ("D_empty.json", "", [], "empty file"),
        ("D_dataset.json", {"metadata": {"dataset_key": "gsm8k"}, "data": []}, [], "'prediction_template'"),
        ("D_nokey.json", {"metadata": {"prediction_template": "zs_cot"}, "data": ONE}, [], "'dataset_key'"),
        ("D_typo.json", {"metadata": {**CD_META, "dataset_key": "gsm8kk"}, "data": ONE}, [], "did you mean: gsm8k?"),
        ("D_tpl.json", {"metadata": {**CD_META, "prediction_template": "zs_cott"}, "data": ONE}, [],
         "unknown prediction template 'zs_cott'"),
        ("D_nocompletion.json", {"metadata": CD_META, "data": {"0": [{"sample_index": 0, "completion_index": 0,
                                                                      "answer": "1"}]}}, [], "no 'completion' text"),
        ("D_list.json", [1, 2], [], "expected a JSON object"),
        ("D_ok.json", {"metadata": CD_META, "data": ONE}, ["--split", "dev"], "unknown split part"),
        ("D_ok.json", {"metadata": CD_META, "data": ONE}, ["--split-name", "template", "--split", "test"],
         "no split 'template'"),
        ("D_ok.json", {"metadata": CD_META, "data": ONE}, ["--answer-type", "number"], "--answer-type needs --task"),
        ("D_ok.json", {"metadata": CD_META, "data": ONE}, ["--task", "q.jsonl"], "needs --answer-type"),
        ("D_ok.json", {"metadata": CD_META, "data": ONE}, ["--task", "q.jsonl", "--answer-type", "float"],
         "unknown answer type 'float'"),
        ("D_ok.json", {"metadata": CD_META, "data": ONE}, ["--split", "test", "--data-dir", "."], "no dataset/ folder"),
        ("D_ok.json", {"metadata": CD_META, "data": ONE}, ["--split", "train"], "nothing to evaluate"),
    ],
)
def test_evaluate_bad_input(fcot, tmp_path, name, content, extra, expected):
    path = _write(tmp_path / name, content)
    _write(tmp_path / "q.jsonl", '{"question": "Q", "answer": "1"}\n')
    result = fcot("score", path, *extra, cwd=tmp_path)
    assert result.code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert expected in lines[0] and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, expected",
    [
        (["score", "missing.json"], "missing.json: no such file or folder"),
        (["score", "."], "no D_*.json completion files"),
        (["tasks", "--data-dir", "nowhere"], "nowhere: no dataset/ folder"),
    ],
)
def test_path_errors(fcot, tmp_path, args, expected):
    result = fcot(*args, cwd=tmp_path)
    assert result.code == 2 and result.stderr.startswith("error: ") and expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_help_lists_options(fcot):
    result = fcot("score", "--help")
    assert result.code == 0 and "--split" in result.stdout and "--json" in result.stdout


def test_evaluate_folder_finds_student_files(tmp_path, shared_data, fcot):
    source = shared_data / "completion_data" / "B_text-davinci-002__C_zs_cot" / "D_addsub.json"
    (tmp_path / "F_zs_cot_addsub__D_addsub.json").write_bytes(source.read_bytes())
    (tmp_path / "notes.json").write_text("{}")  # not a completion file: ignored
    result = fcot("score", tmp_path, "--json", "--data-dir", shared_data)
    assert result.code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [round(100 * r["accuracy"], 2) for r in rows] == [71.39]


def test_old_verb_evaluate_still_scores_and_names_the_new_one(fcot, shared_data):
    old = fcot("evaluate", shared_data / TEACHER / "D_gsm8k.json", "--json")
    new = fcot("score", shared_data / TEACHER / "D_gsm8k.json", "--json")
    assert old.code == new.code == 0 and old.stdout == new.stdout
    assert "`fcot evaluate` is now `fcot score`" in old.stderr
    assert "│ evaluate" not in fcot("--help").stdout and "│ score" in fcot("--help").stdout  # hidden from the list
