"""`fcot run`: the whole recipe on a tiny student, resumable, with configs validated up front."""

from __future__ import annotations

import json

import pytest
import yaml

from fcot.config import load_config
from fcot.errors import ConfigError
from fcot.models import save_tiny_model


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("pipeline")
    model = save_tiny_model(root / "tiny", "decoder")
    config = {
        "name": "tiny",
        "tasks": ["multiarith"],
        "out": str(root / "out"),
        "data_dir": str(shared_data),
        "student": {"model": str(model), "max_steps": 2, "batch_size": 4, "learning_rate": 1e-3, "val_questions": 8},
        "curate": {"max_samples": 24, "calculator": False},  # the paper's rationales (on by default for numbers)
        "eval": {"limit": 4, "max_new_tokens": 8, "batch_size": 4},
        "baselines": ["zs", "ft_token"],
    }
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_quick(fcot, tiny_config, name: str, *overrides: str):
    """A one-step run of the tiny config without baselines, on two test questions; its folder."""
    sets = [arg for o in ("baselines=[]", "student.max_steps=1", "eval.limit=2", *overrides) for arg in ("--set", o)]
    result = fcot("run", tiny_config, "--threads", "1", "--set", f"name={name}", *sets)
    assert result.code == 0, result.stderr
    return tiny_config.parent / "out" / name


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_run_end_to_end_then_resume(tiny_config, fcot, precision, monkeypatch):
    monkeypatch.setenv("FCOT_PRECISION", precision)
    named = ("--set", f"name=tiny-{precision}")
    first = fcot("run", tiny_config, "--threads", "1", *named)
    assert first.code == 0, first.stderr
    assert first.stdout.count(f"precision: {precision} (FCOT_PRECISION={precision})") == 1
    root = tiny_config.parent / "out" / f"tiny-{precision}"
    results = json.loads((root / "results.json").read_text())
    assert {r.get("precision") for r in results if r["role"] == "student"} == {precision}
    assert all(r["ci95"][0] <= r["accuracy"] <= r["ci95"][1] for r in results)
    methods = {r["method"]: r for r in results}
    assert set(methods) == {"teacher (Zero-shot-CoT)", "zero-shot", "Fine-tune-CoT", "vanilla fine-tune"}
    teacher = methods["teacher (Zero-shot-CoT)"]
    assert teacher["n"] == 4 and teacher["model"] == "text-davinci-002" and teacher["teacher_tokens"] > 0
    for method in ("zero-shot", "Fine-tune-CoT", "vanilla fine-tune"):
        assert methods[method]["n"] == 4 and methods[method]["wall_s"] > 0
    assert methods["Fine-tune-CoT"]["train_samples"] > 0
    cot_file = root / "completion_data" / f"B_{methods['Fine-tune-CoT']['model'].replace('/', '--')}__C_ft_cot_token"
    assert list(cot_file.glob("F_zs_cot_multiarith__D_multiarith.json"))
    for name in ("summary.md", "accuracy.png", "cost.png"):
        assert (root / "report" / name).stat().st_size > 0
    assert "Fine-tune-CoT" in first.stdout and "results:" in first.stdout

    metrics = root / "runs" / "zs_cot_multiarith" / "train_metrics.json"
    assert json.loads(metrics.read_text())["precision"] == precision
    stamp = metrics.stat().st_mtime_ns
    second = fcot("run", tiny_config, *named)
    assert second.code == 0, second.stderr
    assert metrics.stat().st_mtime_ns == stamp  # nothing retrained
    assert json.loads((root / "results.json").read_text()) == results


def test_a_multiple_choice_task_trains_on_ft_cot_choice(tiny_config, fcot, monkeypatch):
    monkeypatch.setenv("FCOT_PRECISION", "fp32")
    root = run_quick(fcot, tiny_config, "tiny-choice", "tasks=[date_understanding]")
    [sample, *_] = (root / "finetune_data" / "P_decoder" / "F_zs_cot_choice_date_understanding.jsonl").read_text().splitlines()
    assert json.loads(sample)["prompt"].endswith(" (F) ###")  # options listed text first
    [student] = [r for r in json.loads((root / "results.json").read_text()) if r["role"] == "student"]
    assert student["method"] == "Fine-tune-CoT (option text)" and student["n"] == 2


def test_changed_settings_under_same_name_are_refused(tiny_config, fcot):
    result = fcot("run", tiny_config, "--set", "name=tiny-fp32", "--set", "student.lora_r=4")
    assert result.code == 2
    assert result.stderr.startswith("error:") and "other student settings" in result.stderr


def test_a_config_from_before_a_setting_existed_still_resumes(tiny_config, fcot, monkeypatch):
    monkeypatch.setenv("FCOT_PRECISION", "fp32")  # as that run was made
    root = tiny_config.parent / "out" / "tiny-fp32"
    old = yaml.safe_load((root / "fcot.yaml").read_text())
    del old["student"]["activation_checkpointing"], old["self_train"], old["curate"]["calculator"]  # added later
    (root / "fcot.yaml").write_text(yaml.safe_dump(old))
    run = root / "runs" / "zs_cot_multiarith" / "fcot.yaml"
    record = yaml.safe_load(run.read_text())
    del record["student"]["activation_checkpointing"]
    run.write_text(yaml.safe_dump(record))
    result = fcot("run", tiny_config, "--set", "name=tiny-fp32")
    assert result.code == 0, result.stderr


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["student.epochs=-1"], "student.epochs"),
        (["nonsense=1"], "nonsense"),
        (["teacher"], "expected section.field=value"),
        (["eval.limit=0", "student.lora=maybe"], "eval.limit"),
    ],
)
def test_bad_config_is_one_line(overrides, message, fcot):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)
    result = fcot("run", *[a for o in overrides for a in ("--set", o)])
    assert result.code == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr


def test_every_problem_reported_at_once():
    with pytest.raises(ConfigError) as exc:
        load_config(None, ["eval.limit=0", "student.lora=maybe"])
    assert "eval.limit" in str(exc.value) and "student.lora" in str(exc.value)


def test_missing_and_malformed_config_files(tmp_path, fcot):
    assert "no such config file" in fcot("run", tmp_path / "nope.yaml").stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("student: [unclosed")
    result = fcot("run", bad)
    assert result.code == 2 and "not valid YAML" in result.stderr


def test_shipped_configs_load():
    from fcot.cli.run import bundled_config

    config = load_config(bundled_config())
    assert config.tasks == ["coin_flip"] and config.teacher.teacher.startswith("recorded:")
    paper = load_config(bundled_config("paper.yaml"))
    s = paper.student
    assert (s.lora, s.epochs, s.batch_size, s.learning_rate, paper.curate.template) == (False, 20, 8, 3e-4,
                                                                                         "ft_cot_token")


def test_a_bundled_config_is_found_by_name(fcot):
    result = fcot("run", "paper.yaml", "--show-config", "--set", "tasks=[last_letter_concatenation]")
    assert result.code == 0 and "lora: false" in result.stdout and "last_letter_concatenation" in result.stdout


def test_an_encoder_decoder_student_runs_end_to_end(tiny_config, fcot, monkeypatch):
    monkeypatch.setenv("FCOT_PRECISION", "fp32")
    t5 = save_tiny_model(tiny_config.parent / "t5", "encoder_decoder")
    result = fcot("run", tiny_config, "--threads", "1", "--set", "name=tiny-t5", "--set", f"student.model={t5}",
                  "--set", "student.lora=false", "--set", "student.max_steps=1", "--set", "eval.limit=2")
    assert result.code == 0, result.stderr
    root = tiny_config.parent / "out" / "tiny-t5"
    assert (root / "finetune_data" / "P_encoder_decoder" / "F_zs_cot_multiarith.jsonl").exists()
    assert (root / "finetune_data" / "P_encoder_decoder" / "F_multiarith.jsonl").exists()  # vanilla too
    methods = {r["method"] for r in json.loads((root / "results.json").read_text()) if r["role"] == "student"}
    assert methods == {"zero-shot", "Fine-tune-CoT", "vanilla fine-tune"}


def test_a_template_the_student_cannot_train_on_is_refused_before_any_work(tiny_config, fcot):
    t5 = save_tiny_model(tiny_config.parent / "t5-refused", "encoder_decoder")
    result = fcot("run", tiny_config, "--set", "name=tiny-t5-natural", "--set", f"student.model={t5}",
                  "--set", "curate.template=ft_cot_natural")
    assert result.code == 2 and result.stderr.count("\n") == 1
    assert "curate.template" in result.stderr and "decoder-only" in result.stderr
    assert not (tiny_config.parent / "out" / "tiny-t5-natural" / "completion_data").exists()


def test_the_papers_template_split_runs_end_to_end(tiny_config, fcot, monkeypatch, shared_data):
    from fcot.tasks import get_task

    monkeypatch.setenv("FCOT_PRECISION", "fp32")
    root = run_quick(fcot, tiny_config, "tiny-template", "split_name=template", "eval.limit=3")
    split = get_task("multiarith").load_split("template", shared_data)
    [answers] = (root / "completion_data").glob("B_*__C_ft_cot_token/F_*__D_multiarith.json")
    assert sorted(int(i) for i in json.loads(answers.read_text())["data"]) == sorted(split["test"][:3])
    side = json.loads((root / "finetune_data" / "P_decoder" / "F_zs_cot_multiarith.curate.json").read_text())
    assert side["split_name"] == "template" and side["questions"] == split["train"]
    bad = fcot("run", tiny_config, "--set", "name=tiny-nosplit", "--set", "split_name=nope")
    assert bad.code == 2 and "nope" in bad.stderr and "Traceback" not in bad.stderr


def test_a_calculator_run_trains_on_annotated_steps_and_answers_with_the_calculator(tiny_config, fcot, monkeypatch):
    from fcot.models import read_run_info

    monkeypatch.setenv("FCOT_PRECISION", "fp32")
    root = run_quick(fcot, tiny_config, "tiny-calc", "curate.calculator=null")  # the default: on for number answers
    side = json.loads((root / "finetune_data" / "P_decoder" / "F_zs_cot_multiarith_calc.curate.json").read_text())
    assert side["calculator"] is True and side["stats"]["annotated"] > 0
    [student] = [r for r in json.loads((root / "results.json").read_text()) if r["role"] == "student"]
    assert student["method"] == "Fine-tune-CoT + calculator" and student["n"] == 2
    assert list(root.glob("completion_data/B_*__C_ft_cot_token_calc/F_zs_cot_multiarith_calc__D_multiarith.json"))
    run = root / "runs" / "zs_cot_multiarith_calc"
    assert read_run_info(run).calculator  # fcot eval, fcot serve, the local: teacher and exports decode with it
    out = tiny_config.parent / "eval-calc"
    for flags, key in (((), "C_ft_cot_token_calc"), (("--no-calculator",), "C_ft_cot_token")):
        answered = fcot("eval", run, "--limit", "1", "--out", out, *flags)
        assert answered.code == 0, answered.stderr
        assert list(out.glob(f"completion_data/B_*__{key}/F_zs_cot_multiarith_calc__D_multiarith.json"))
