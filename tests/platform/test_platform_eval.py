"""The API-student path on real data: curate MultiArith, fine-tune on the fake platform, evaluate the result."""

from __future__ import annotations

import pytest
from fake_platform import FakePlatform, serve

from fcot.curate import curate
from fcot.errors import PlatformError
from fcot.formats import CompletionDataset, completion_path
from fcot.platform import (
    PlatformEvalConfig,
    evaluate_platform_model,
    make_client,
    train_on_platform,
    write_finetune_files,
)
from fcot.tasks import get_task
from fcot.templates import format_input
from fcot.teacher.engine import Stats

KEY = "sk-test"
NANO = "gpt-4.1-nano-2025-04-14"


def scripted_answers(shared_data, trained: list[dict], every: int = 3) -> tuple[dict[str, str], float]:
    """What the fake model says to MultiArith test questions it was not trained on: right for every third one,
    else off by one; and the accuracy that makes (a test question repeated in training gets its training label)."""
    task = get_task("multiarith")
    test = task.load_dataset(shared_data).select(task.load_split("default", shared_data)["test"])
    labels = {s["input"]: s["label"] for s in trained}
    answers = {}
    for s in test:
        said = int(float(s["answer"])) + (s["sample_index"] % every != 0)
        answers.setdefault(format_input("ft_cot_token", s), f" Let me add them up. --> {said} END")
    said = {**answers, **labels}  # the same question twice gets one answer
    right = sum(f"--> {int(float(s['answer']))} END" in said[format_input("ft_cot_token", s)] for s in test)
    return answers, right / len(test)


@pytest.fixture(scope="module")
def curated(shared_data):
    cd = CompletionDataset.load(shared_data / "completion_data/B_text-davinci-002__C_zs_cot/D_multiarith.json")
    return curate(cd, "multiarith", "ft_cot_token", data_dir=shared_data)


def test_curate_train_evaluate_multiarith(tmp_path, shared_data, curated, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    answers, expected = scripted_answers(shared_data, curated.samples)
    fake = FakePlatform(api_key=KEY, running_polls=1, answers=answers, inference_errors=2)
    write_finetune_files(tmp_path, "zs_cot_multiarith", curated.samples, validation_fraction=0, info=curated.config)
    with serve(fake) as url:
        meta = train_on_platform(tmp_path, "zs_cot_multiarith", NANO, make_client(url), poll_interval=0)
        assert (meta.template, meta.dataset_key) == ("ft_cot_token", "multiarith")

        config = PlatformEvalConfig("zs_cot_multiarith", out=tmp_path, data_dir=shared_data, backoff=0.01,
                                    cache=tmp_path / "cache.sqlite3")
        stats = Stats()
        cd, evaluation, path = evaluate_platform_model(config, stats=stats)
        assert path == completion_path(tmp_path, NANO, "ft_cot_token", "multiarith", finetune_key="zs_cot_multiarith")
        assert path.name == "F_zs_cot_multiarith__D_multiarith.json" and path.parent.name == f"B_{NANO}__C_ft_cot_token"
        assert evaluation.n == 180 and evaluation.accuracy == pytest.approx(expected)
        distinct = len({r["prompt"] for r in cd.select()})  # a question asked twice is sent once
        sent = fake.calls.count("POST /v1/chat/completions")
        assert stats.retries >= 2 and sent == distinct + stats.retries
        saved = CompletionDataset.load(path)
        assert saved.metadata["fine_tuned_model"] == meta.fine_tuned_model and saved.metadata["chat"] is True
        first = saved.select()[0]
        assert first["prompt"] == format_input("ft_cot_token", first) and " --> " in first["completion"]
        assert first["finish_reason"] == "stop" and "END" not in first["completion"]  # cut at the stop phrase

        again = Stats()
        _, evaluation2, _ = evaluate_platform_model(config, stats=again)
        assert again.cache_hits == 180 and fake.calls.count("POST /v1/chat/completions") == sent
        assert evaluation2.accuracy == evaluation.accuracy

        # On the train split the student repeats its training labels: right exactly where the teacher was.
        train_config = PlatformEvalConfig("zs_cot_multiarith", split="train", out=tmp_path, data_dir=shared_data,
                                          cache=tmp_path / "cache.sqlite3")
        _, on_train, _ = evaluate_platform_model(train_config)
        assert on_train.accuracy == pytest.approx(curated.stats.kept_samples / curated.stats.split_samples)


def test_completion_model_is_evaluated_on_v1_completions(tmp_path, shared_data, curated, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    fake = FakePlatform(api_key=KEY, running_polls=1)
    write_finetune_files(tmp_path, "ma", curated.samples[:40], data_format="completion", validation_fraction=0,
                         info=curated.config)
    with serve(fake) as url:
        train_on_platform(tmp_path, "ma", "babbage-002", make_client(url), poll_interval=0)
        config = PlatformEvalConfig("ma", task="multiarith", split="train", limit=10, out=tmp_path,
                                    data_dir=shared_data, cache=tmp_path / "cache.sqlite3")
        cd, evaluation, path = evaluate_platform_model(config)
    assert fake.calls.count("POST /v1/completions") == 10 and "POST /v1/chat/completions" not in fake.calls
    assert path.parent.name == "B_babbage-002__C_ft_cot_token" and evaluation.n == 10
    assert cd.metadata["chat"] is False


def test_unfinished_or_missing_fine_tune_is_a_clear_error(tmp_path, shared_data, curated, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with pytest.raises(PlatformError, match=r"F_nothing.json: no such file; train first"):
        evaluate_platform_model(PlatformEvalConfig("nothing", task="multiarith", out=tmp_path))
    fake = FakePlatform(api_key=KEY)
    write_finetune_files(tmp_path, "ma", curated.samples[:12], validation_fraction=0)
    with serve(fake) as url:
        train_on_platform(tmp_path, "ma", NANO, make_client(url), wait=False)
    with pytest.raises(PlatformError, match=r"has no fine-tuned model \(status validating_files\)"):
        evaluate_platform_model(PlatformEvalConfig("ma", task="multiarith", out=tmp_path))
