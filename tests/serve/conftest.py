"""Fixtures for the serve tests: tiny causal LMs built offline, a trained run folder, and apps served in a thread."""

from __future__ import annotations

from pathlib import Path

import pytest
from serve_helpers import API_KEY, multiarith_train, serve_in_thread
from tiny_lm import ANSWERED, CHAT_TEMPLATE, teach_to_answer

from fcot.models import save_tiny_model

@pytest.fixture(scope="session")
def answering_model_dir(tmp_path_factory, shared_data) -> Path:
    """A tiny causal LM (context 512) that answers the first ANSWERED multiarith train questions correctly."""
    samples = multiarith_train(shared_data, ANSWERED)
    path = save_tiny_model(tmp_path_factory.mktemp("tiny-lm"), texts=tuple(s["question"] for s in samples))
    return teach_to_answer(path, samples, "Therefore, the answer (arabic numerals) is")


@pytest.fixture(scope="session")
def served_app(tmp_path_factory):
    """(`/v1` URL, app) of create_app() for a tiny model with a chat template, run by uvicorn in a thread."""
    from fcot.models import open_student
    from fcot.serve import create_app

    path = save_tiny_model(tmp_path_factory.mktemp("tiny-chat-lm"), chat_template=CHAT_TEMPLATE)
    app = create_app(open_student(path, device="cpu"), model_name="tiny", max_batch=4)
    with serve_in_thread(app) as url:
        yield url, app


@pytest.fixture(scope="session")
def served_run(run_dir):
    """(`/v1` URL, app) of the trained run served task-aware, with API_KEY required."""
    from fcot.models import open_student
    from fcot.serve import StudentTask, create_app
    from fcot.tasks import get_task

    task = StudentTask(get_task("multiarith"), "ft_cot_token", "END")
    app = create_app(open_student(run_dir, device="cpu"), model_name="run", task=task, api_key=API_KEY)
    with serve_in_thread(app) as url:
        yield url, app
