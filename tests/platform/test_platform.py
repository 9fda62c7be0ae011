"""Hosted fine-tuning: training files, uploads, jobs and their metadata, against a local fake of the API."""

from __future__ import annotations

import json

import pytest
from fake_platform import FakePlatform, serve

from fcot.curate import hold_out, questions_of, split_validation
from fcot.errors import DataError, PlatformError
from fcot.formats import finetune_data_path, model_metadata_path, read_json
from fcot.platform import (
    cancel_job,
    load_model_metadata,
    make_client,
    read_finetune_file,
    train_on_platform,
    write_finetune_files,
)
from fcot.platform.data import convert_rows

KEY = "sk-test"
NANO = "gpt-4.1-nano-2025-04-14"


def curated(n: int, per_question: int = 1) -> list[dict]:
    """Curated samples shaped like fcot.curate's output."""
    return [{"sample_index": i, "completion_index": j, "input": f"What is {i} plus {j}? ###",
             "label": f" {i} plus {j} is {i + j}. --> {i + j} END"}
            for i in range(n) for j in range(per_question)]


@pytest.fixture
def platform():
    fake = FakePlatform(api_key=KEY, running_polls=2)
    with serve(fake) as url:
        fake.url = url
        yield fake


@pytest.fixture
def client(platform):
    return make_client(platform.url, api_key=KEY, max_retries=0)


def uploads(platform: FakePlatform) -> int:
    return platform.calls.count("POST /v1/files")


# --- training files ------------------------------------------------------------------------------------


def test_write_chat_files_carves_seeded_validation_by_question(tmp_path):
    files = write_finetune_files(tmp_path, "k", curated(40, per_question=2), validation_fraction=0.25, seed=3)
    assert files.train == finetune_data_path(tmp_path, "openai", "k")
    assert files.validation == tmp_path / "finetune_data" / "P_openai" / "F_k.validation.jsonl"
    train, fmt = read_finetune_file(files.train)
    validation, _ = read_finetune_file(files.validation)
    assert fmt == "chat" and (len(train), len(validation)) == (60, 20)
    assert train[0]["messages"][0] == {"role": "user", "content": train[0]["messages"][0]["content"]}
    assert train[0]["messages"][1]["content"].endswith(" END") and not train[0]["messages"][1]["content"][0].isspace()
    questions = lambda rows: {r["messages"][0]["content"].split(" plus")[0] for r in rows}  # noqa: E731
    assert not questions(train) & questions(validation)  # both rationales of a question stay on one side
    again = write_finetune_files(tmp_path / "again", "k", curated(40, per_question=2), validation_fraction=0.25, seed=3)
    assert again.validation.read_bytes() == files.validation.read_bytes()
    samples = curated(40, per_question=2)
    other = split_validation(samples, hold_out(questions_of(samples), 0.25, seed=4))[1]
    assert {s["sample_index"] for s in other} != {int(q.split()[-1]) for q in questions(validation)}


def test_write_completion_files_in_the_papers_shape(tmp_path):
    files = write_finetune_files(tmp_path, "k", curated(12), data_format="completion", validation_fraction=0)
    rows, fmt = read_finetune_file(files.train)
    assert fmt == "completion" and files.validation is None and len(rows) == 12
    assert rows[0] == {"prompt": "What is 0 plus 0? ###", "completion": " 0 plus 0 is 0. --> 0 END"}


def test_too_few_curated_samples_is_refused(tmp_path):
    with pytest.raises(DataError, match="at least 10"):
        write_finetune_files(tmp_path, "k", curated(9))


def test_papers_finetune_file_reads_and_converts(tmp_path):
    # The paper writes lines joined by "\n" with no final newline.
    path = tmp_path / "finetune_data" / "P_openai" / "F_zs_cot_date_understanding.jsonl"
    path.parent.mkdir(parents=True)
    rows = [{"prompt": f"Q{i} ###", "completion": f" because {i} --> A END"} for i in range(3)]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    got, fmt = read_finetune_file(path)
    assert (got, fmt) == (rows, "completion")
    chat = convert_rows(got, "chat")
    assert chat[1] == {"messages": [{"role": "user", "content": "Q1 ###"},
                                    {"role": "assistant", "content": "because 1 --> A END"}]}
    assert convert_rows(chat, "completion") == rows
    path.write_text('{"prompt": "x"}\n')
    with pytest.raises(DataError, match=r"F_zs_cot_date_understanding.jsonl:1: expected"):
        read_finetune_file(path)


# --- jobs --------------------------------------------------------------------------------------------


def test_train_follows_job_and_records_metadata(tmp_path, platform, client):
    write_finetune_files(tmp_path, "ma", curated(40), validation_fraction=0.25)
    updates = []
    meta = train_on_platform(tmp_path, "ma", NANO, client, hyperparameters={"n_epochs": 2}, poll_interval=0,
                             on_update=updates.append)
    statuses = [u.job["status"] for u in updates]
    assert statuses == ["queued", "running", "running", "succeeded"]
    messages = [e["message"] for u in updates for e in u.events]
    assert messages[0].startswith("Validating training file") and messages[-1] == "The job has successfully completed"
    assert len(messages) == len(set(messages))  # each event reported once

    job = platform.jobs[meta.job_id]
    assert job["method"]["supervised"]["hyperparameters"]["n_epochs"] == 2
    assert job["validation_file"] == meta.validation_file.id and job["training_file"] == meta.training_file.id
    saved = read_json(model_metadata_path(tmp_path, "ma"))
    assert saved["status"] == "succeeded" and saved["fine_tuned_model"] == job["fine_tuned_model"]
    assert saved["fine_tuned_model"].startswith(f"ft:{NANO}:")
    assert saved["base_model"] == NANO and saved["job_id"] == meta.job_id and saved["data_format"] == "chat"
    assert saved["hyperparameters"] == {"n_epochs": 2, "batch_size": 1, "learning_rate_multiplier": 2.0}
    assert saved["trained_tokens"] == job["trained_tokens"] > 0
    assert saved["estimated_cost_usd"] == pytest.approx(job["trained_tokens"] * 1.5 / 1e6, abs=1e-6)
    assert (saved["training_file"]["examples"], saved["validation_file"]["examples"]) == (30, 10)
    assert KEY not in model_metadata_path(tmp_path, "ma").read_text()


def test_interrupted_train_reattaches_without_paying_twice(tmp_path, platform, client):
    write_finetune_files(tmp_path, "ma", curated(20), validation_fraction=0)

    def interrupt(update):
        if update.job["status"] == "running":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_on_platform(tmp_path, "ma", NANO, client, poll_interval=0, on_update=interrupt)
    assert load_model_metadata(tmp_path, "ma").status == "running"
    meta = train_on_platform(tmp_path, "ma", NANO, client, poll_interval=0)
    assert meta.status == "succeeded" and len(platform.jobs) == 1 and uploads(platform) == 1

    # Lost metadata (a crash between creating the job and writing the record): found again by content hash and tags.
    model_metadata_path(tmp_path, "ma").unlink()
    meta = train_on_platform(tmp_path, "ma", NANO, client, poll_interval=0)
    assert meta.status == "succeeded" and len(platform.jobs) == 1 and uploads(platform) == 1
    # Same data under another key: the file is not uploaded again, but a new job is made.
    write_finetune_files(tmp_path, "copy", curated(20), validation_fraction=0)
    train_on_platform(tmp_path, "copy", NANO, client, wait=False)
    assert len(platform.jobs) == 2 and uploads(platform) == 1


def test_other_base_model_under_a_used_key_is_refused(tmp_path, platform, client):
    write_finetune_files(tmp_path, "ma", curated(12), validation_fraction=0)
    train_on_platform(tmp_path, "ma", NANO, client, wait=False)
    with pytest.raises(PlatformError, match="records job .* for base model gpt-4.1-nano"):
        train_on_platform(tmp_path, "ma", "gpt-4o-mini-2024-07-18", client, wait=False)


def test_completion_base_model_gets_a_converted_file(tmp_path, platform, client):
    write_finetune_files(tmp_path, "ma", curated(12), validation_fraction=0)  # chat rows
    meta = train_on_platform(tmp_path, "ma", "babbage-002", client, poll_interval=0)
    assert meta.status == "succeeded" and meta.data_format == "completion"
    assert platform.file_rows[meta.training_file.id][1] == "completion"
    assert meta.estimated_cost_usd == pytest.approx(meta.trained_tokens * 0.4 / 1e6, abs=1e-6)


def test_papers_prompt_completion_file_trains_a_chat_model(tmp_path, platform, client):
    path = finetune_data_path(tmp_path, "openai", "zs_cot_multiarith")
    path.parent.mkdir(parents=True)
    rows = [{"prompt": f"What is {i} plus 1? ###", "completion": f" {i} plus 1 is {i + 1}. --> {i + 1} END"}
            for i in range(12)]
    path.write_text("\n".join(json.dumps(r) for r in rows))  # the paper's layout: no final newline
    meta = train_on_platform(tmp_path, "zs_cot_multiarith", NANO, client, poll_interval=0)
    uploaded, fmt = platform.file_rows[meta.training_file.id]
    assert fmt == "chat" and meta.data_format == "chat" and len(uploaded) == 12
    assert uploaded[3]["messages"][1]["content"] == "3 plus 1 is 4. --> 4 END"


def test_too_few_examples_are_rejected_by_the_api(tmp_path, platform, client):
    path = finetune_data_path(tmp_path, "openai", "small")
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(json.dumps({"prompt": f"q{i} ###", "completion": " a END"}) for i in range(5)))
    with pytest.raises(PlatformError, match="uploading F_small.jsonl: HTTP 400: Training file has 5 example"):
        train_on_platform(tmp_path, "small", NANO, client)
    assert not platform.jobs


def test_unknown_base_model_is_a_clear_error(tmp_path, platform, client):
    write_finetune_files(tmp_path, "ma", curated(12), validation_fraction=0)
    with pytest.raises(PlatformError, match="creating the fine-tuning job: HTTP 400: Model gpt-9 is not available"):
        train_on_platform(tmp_path, "ma", "gpt-9", client)


def test_failed_job_is_recorded(tmp_path, platform, client):
    platform.fail_with = {"code": "invalid_training_file", "message": "Example 3 exceeds the context length"}
    write_finetune_files(tmp_path, "ma", curated(12), validation_fraction=0)
    with pytest.raises(PlatformError, match=r"failed \(invalid_training_file: Example 3 exceeds"):
        train_on_platform(tmp_path, "ma", NANO, client, poll_interval=0)
    saved = read_json(model_metadata_path(tmp_path, "ma"))
    assert saved["status"] == "failed" and saved["error"]["message"] == "Example 3 exceeds the context length"
    assert saved["fine_tuned_model"] is None


def test_cancelled_job_is_recorded_and_a_rerun_starts_a_new_one(tmp_path, platform, client):
    write_finetune_files(tmp_path, "ma", curated(12), validation_fraction=0)

    def cancel(update):
        if update.job["status"] == "queued":
            cancel_job(client, update.job["id"])

    with pytest.raises(PlatformError, match="was cancelled"):
        train_on_platform(tmp_path, "ma", NANO, client, poll_interval=0, on_update=cancel)
    assert load_model_metadata(tmp_path, "ma").status == "cancelled"
    meta = train_on_platform(tmp_path, "ma", NANO, client, poll_interval=0)
    assert meta.status == "succeeded" and len(platform.jobs) == 2 and uploads(platform) == 1


def test_missing_or_wrong_api_key(tmp_path, platform, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(PlatformError, match="no API key: set OPENAI_API_KEY"):
        make_client(platform.url)
    write_finetune_files(tmp_path, "ma", curated(12), validation_fraction=0)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    with pytest.raises(PlatformError, match="API key was rejected"):
        train_on_platform(tmp_path, "ma", NANO, make_client(platform.url, max_retries=0))


def test_papers_openai_metadata_is_read(tmp_path):
    folder = tmp_path / "openai_metadata"
    folder.mkdir()
    model_key = "B_ada__D_date_understanding__T_ft_cot"
    (folder / "file_ids.json").write_text(json.dumps({"zs_cot_date_understanding": "file-3lwlV7lJRebTr0JTniuZ7lCX"}))
    (folder / "finetune_ids.json").write_text(json.dumps({model_key: "ft-AbC"}, indent=4))
    (folder / "model_ids.json").write_text(json.dumps({model_key: "ada:ft-kaist-2022-11-20-10-00-00"}, indent=4))
    meta = load_model_metadata(tmp_path, model_key)
    assert (meta.base_model, meta.job_id, meta.fine_tuned_model, meta.status) == (
        "ada", "ft-AbC", "ada:ft-kaist-2022-11-20-10-00-00", "succeeded")
    assert load_model_metadata(tmp_path, "zs_cot_date_understanding").training_file.id.startswith("file-3lw")
    assert load_model_metadata(tmp_path, "unknown") is None
