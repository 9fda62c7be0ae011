"""A tiny finished `fcot train` run (Llama, byte-level BPE) that answers the first multiarith test questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tiny_lm import overfit

from fcot.models import save_tiny_model

KNOWN = 3  # multiarith test questions the tiny run answers (and the parity checks ask)
TEMPLATE, STOP = "ft_cot_token", "END"


@pytest.fixture(scope="session")
def known_samples(shared_data) -> list[dict]:
    """The first KNOWN multiarith test questions, each with the rationale the tiny run learnt for it."""
    dataset = json.loads((shared_data / "dataset" / "multiarith.json").read_text(encoding="utf-8"))["data"]
    test = json.loads((shared_data / "split" / "multiarith__default.json").read_text(encoding="utf-8"))["test"]
    by_index = {s["sample_index"]: s for s in dataset}
    return [{**by_index[i], "rationale": f"So it is {by_index[i]['answer']}."} for i in test[:KNOWN]]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, known_samples) -> Path:
    """A run folder (model, tokenizer, fcot.yaml, done marker) trained on "{question} ###" → " … --> {answer} END"."""
    from fcot.models.loading import DONE_MARKER
    from fcot.templates import format_input, format_label

    samples = known_samples
    path = save_tiny_model(tmp_path_factory.mktemp("tiny-run"), texts=tuple(s["question"] for s in samples))
    overfit(path, [format_input(TEMPLATE, s) + format_label(TEMPLATE, s, stop_phrase=STOP) for s in samples])
    record = {"student": {"model": "tiny"}, "data": {"dataset_key": "multiarith", "template": TEMPLATE,
                                                     "stop_phrase": STOP}}
    (path / "fcot.yaml").write_text(yaml.safe_dump(record), encoding="utf-8")
    (path / DONE_MARKER).write_text("done\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def known() -> int:
    """How many of the first multiarith test questions the tiny run answers correctly."""
    return KNOWN


@pytest.fixture(scope="session")
def tiny_info(tiny_run):
    """What `fcot eval` reads from the tiny run's fcot.yaml."""
    from fcot.models import read_run_info

    return read_run_info(tiny_run)
