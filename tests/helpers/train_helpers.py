"""Small curated files for training tests, and a tiny model to train on one."""

from __future__ import annotations

from pathlib import Path

from fcot.curate import CurateResult, curate, write_curated
from fcot.formats import CompletionDataset
from fcot.models import save_tiny_model

TEACHER_FILES = "completion_data/B_text-davinci-002__C_zs_cot"


def curated_file(shared_data: Path, out: Path, model_type: str = "decoder", n: int = 8,
                 template: str = "ft_cot_token", task: str = "multiarith") -> Path:
    """The n shortest curated samples of a task, written like `fcot curate` does (JSONL + sidecar)."""
    cd = CompletionDataset.load(shared_data / TEACHER_FILES / f"D_{task}.json")
    result = curate(cd, task, template=template, model_type=model_type, data_dir=shared_data)
    shortest = sorted(result.samples, key=lambda s: len(s["input"]) + len(s["label"]))[:n]
    return write_curated(CurateResult(shortest, result.stats, result.config), out)


def all_texts(path: Path) -> list[str]:
    """Every input and label of a curated file (the tokenizer's training text)."""
    from fcot.formats import read_jsonl

    return [text for row in read_jsonl(path) for text in (row["input"], row["label"])]


def trainable_model(path: Path, curated: Path, model_type: str = "decoder") -> Path:
    """A tiny GPT-2 (or T5) with a word-level tokenizer of the curated file's text, initialised for training."""
    return save_tiny_model(path, model_type, gpt2=True, word_level=True, texts=all_texts(curated), init_scale=1)
