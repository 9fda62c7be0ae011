"""Every shared Dataset and CompletionDataset file survives load + save JSON-equal; writes are atomic."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from fcot.formats import (
    CompletionDataset,
    Dataset,
    finetune_key,
    finetune_key_of,
    load_split,
    write_json,
)

# Parametrization needs the paths at collection time; same location as the `shared_data` fixture.
SHARED_DATA = Path(os.environ.get("FCOT_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "fcot-data"))

DATASETS = sorted((SHARED_DATA / "dataset").glob("*.json"))
COMPLETIONS = sorted((SHARED_DATA / "completion_data").glob("*/D_*.json"))


def test_reference_files_are_all_there():
    assert len(DATASETS) == 12 and len(COMPLETIONS) == 10


@pytest.mark.parametrize("path", DATASETS, ids=lambda p: p.stem)
def test_dataset_round_trip(path, tmp_path):
    out = Dataset.load(path).save(tmp_path / path.name)
    assert json.loads(out.read_text()) == json.loads(path.read_text())


@pytest.mark.parametrize("path", COMPLETIONS, ids=lambda p: p.stem)
def test_completion_dataset_round_trip(path, tmp_path):
    cd = CompletionDataset.load(path)
    out = cd.save(tmp_path / path.name)
    assert json.loads(out.read_text()) == json.loads(path.read_text())
    assert cd.total_completions == len(cd) == len(Dataset.load(SHARED_DATA / "dataset" / f"{cd.dataset_key}.json"))


def test_split_files_cover_their_datasets(shared_data):
    for path in sorted((shared_data / "split").glob("*.json")):
        split = load_split(path)
        dataset = Dataset.load(shared_data / "dataset" / f"{path.stem.split('__')[0]}.json")
        assert sorted(split["train"] + split["test"]) == sorted(dataset.indices), path.name


def test_atomic_writes_get_the_permissions_of_an_ordinary_new_file(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    path = write_json(tmp_path / "results.json", {"accuracy": 1.0})
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # readable by others as usual, not 0600
    assert json.loads(path.read_text()) == {"accuracy": 1.0} and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_finetune_keys_follow_the_papers_names():
    assert finetune_key("multiarith", "ft_cot_token") == "zs_cot_multiarith"
    assert finetune_key("multiarith", "ft_token") == "multiarith"
    assert finetune_key("multiarith", "ft_cot_natural", "fs_cot") == "fs_cot_natural_multiarith"
    assert finetune_key("date_understanding", "ft_cot_choice") == "zs_cot_choice_date_understanding"
    assert finetune_key_of(Path("out/finetune_data/P_openai/F_zs_cot_gsm8k.jsonl")) == "zs_cot_gsm8k"
