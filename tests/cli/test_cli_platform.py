"""`fcot curate/train/eval --platform openai` end to end against the local fake fine-tuning API, bad input included."""

from __future__ import annotations

import json

import pytest
from fake_platform import FakePlatform, serve

from fcot.formats import CompletionDataset, finetune_data_path, model_metadata_path, read_json

KEY = "sk-test"
NANO = "gpt-4.1-nano-2025-04-14"
FT_KEY = "zs_cot_multiarith"


def one_error_line(result, after_progress: bool = False) -> str:
    """The single `error: ...` line of a failed command (exit 2, no traceback), after the job's events if any."""
    assert result.code == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and sum(line.startswith("error: ") for line in lines) == 1, result.stderr
    assert after_progress or len(lines) == 1, result.stderr
    return lines[-1]


@pytest.fixture
def env():
    return {"OPENAI_API_KEY": KEY}


def test_curate_train_eval_through_the_cli(fcot, tmp_path, shared_data, env):
    out = tmp_path / "out"
    curated = fcot("curate", "multiarith", "--platform", "openai", "--out", out, "--data-dir", shared_data)
    assert curated.code == 0, curated.stderr
    train_file = finetune_data_path(out, "openai", FT_KEY)
    first = json.loads(train_file.read_text().splitlines()[0])
    assert [m["role"] for m in first["messages"]] == ["user", "assistant"]
    assert first["messages"][0]["content"].endswith(" ###") and first["messages"][1]["content"].endswith(" END")
    assert finetune_data_path(out, "openai", FT_KEY, suffix=".validation.jsonl").exists()

    fake = FakePlatform(api_key=KEY, running_polls=2)
    with serve(fake) as url:
        train = ["train", "--platform", "openai", "--base-model", NANO, "--finetune-key", FT_KEY, "--epochs", "2",
                 "--base-url", url, "--poll-interval", "0", "--out", out]
        trained = fcot(*train, env=env)
        assert trained.code == 0, trained.stderr
        meta = read_json(model_metadata_path(out, FT_KEY))
        assert meta["status"] == "succeeded" and meta["fine_tuned_model"].startswith(f"ft:{NANO}:")
        assert meta["hyperparameters"]["n_epochs"] == 2 and meta["estimated_cost_usd"] > 0
        assert meta["fine_tuned_model"] in trained.stdout and "Fine-tuning job started" in trained.stderr
        assert KEY not in model_metadata_path(out, FT_KEY).read_text()

        again = fcot(*train, env=env)  # finished already: re-attaches, uploads nothing, creates no job
        assert again.code == 0, again.stderr
        assert len(fake.jobs) == 1 and fake.calls.count("POST /v1/files") == 2

        evaluated = fcot("eval", FT_KEY, "--platform", "openai", "--split", "train", "--limit", "40", "--out", out,
                         "--data-dir", shared_data, env=env)
        assert evaluated.code == 0, evaluated.stderr
    path = out / "completion_data" / f"B_{NANO}__C_ft_cot_token" / f"F_{FT_KEY}__D_multiarith.json"
    cd = CompletionDataset.load(path)
    assert len(cd) == 40 and cd.metadata["fine_tuned_model"] == meta["fine_tuned_model"]
    assert "accuracy" in evaluated.stdout and str(path) in evaluated.stdout.replace("\n", "")


def test_bad_input_gives_one_line_errors(fcot, tmp_path, shared_data, env):
    out = tmp_path / "out"
    path = finetune_data_path(out, "openai", "small")
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(json.dumps({"prompt": f"q{i} ###", "completion": " a END"}) for i in range(5)))
    fake = FakePlatform(api_key=KEY, running_polls=1)
    with serve(fake) as url:
        base = ["train", "--platform", "openai", "--base-url", url, "--poll-interval", "0", "--out", out]
        line = one_error_line(fcot(*base, "--base-model", NANO, "--finetune-key", "small", env={"OPENAI_API_KEY": ""}))
        assert "no API key: set OPENAI_API_KEY" in line
        line = one_error_line(fcot(*base, "--base-model", NANO, "--finetune-key", "small", env=env))
        assert "Training file has 5 example(s), but must have at least 10" in line
        assert not fake.jobs

        path.write_text("\n".join(json.dumps({"prompt": f"q{i} ###", "completion": " a END"}) for i in range(12)))
        line = one_error_line(fcot(*base, "--base-model", "gpt-9", "--finetune-key", "small", env=env))
        assert "Model gpt-9 is not available for fine-tuning" in line

        fake.fail_with = {"code": "server_error", "message": "The job failed due to an internal error"}
        line = one_error_line(fcot(*base, "--base-model", NANO, "--finetune-key", "small", env=env), True)
        assert "failed (server_error: The job failed due to an internal error)" in line
        assert read_json(model_metadata_path(out, "small"))["status"] == "failed"

    assert "unknown platform 'azure'" in one_error_line(fcot(*base, "--base-model", NANO, "--finetune-key", "small",
                                                             "--platform", "azure", env=env))
    line = one_error_line(fcot("eval", "nothing", "--platform", "openai", "--task", "multiarith", "--out", out,
                               env=env))
    assert "F_nothing.json: no such file; train first" in line
    line = one_error_line(fcot("eval", "small", "--platform", "openai", "--task", "multiarith", "--out", out,
                               env=env))
    assert "has no fine-tuned model (status failed)" in line
