"""`--option-text`: multiple-choice rationales end naming the gold option's text, then its letter."""

from __future__ import annotations

import re

from fcot.curate import curate, read_sidecar
from fcot.curate.option_text import option_texts, with_option_text
from fcot.formats import CompletionDataset, read_jsonl

TEACHER_DIR = "completion_data/B_text-davinci-002__C_zs_cot"


def test_date_rationales_end_on_the_gold_options_text_then_its_letter(shared_data):
    completions = CompletionDataset.load(shared_data / TEACHER_DIR / "D_date_understanding.json")
    plain = curate(completions, "date_understanding", data_dir=shared_data)
    named = curate(completions, "date_understanding", data_dir=shared_data, option_text=True)
    assert [s["sample_index"] for s in named.samples] == [s["sample_index"] for s in plain.samples]
    assert named.config["option_text"] is True and "option_text" not in plain.config
    letter_only = re.compile(r"answer is \(?[A-F]\)?\.? -->")
    assert sum(bool(letter_only.search(s["label"])) for s in plain.samples) > 50  # what the option text replaces
    for before, after in zip(plain.samples, named.samples):
        gold = after["label"].rsplit("-->", 1)[1].split()[0]
        text = option_texts(after["input"].removesuffix(" ###"))[gold]
        assert re.fullmatch(r"\d\d/\d\d/\d{4}", text)
        assert after["label"].endswith(f" So the answer is {text}, option ({gold}). --> {gold} END")
        assert not letter_only.search(after["label"])
        assert after["input"] == before["input"]


def test_other_answer_types_are_untouched(shared_data):
    completions = CompletionDataset.load(shared_data / TEACHER_DIR / "D_multiarith.json")
    assert curate(completions, "multiarith", data_dir=shared_data, option_text=True).samples == \
        curate(completions, "multiarith", data_dir=shared_data).samples


def test_option_text_is_written_once_and_options_are_trimmed():
    question = "Which? Answer Choices: (A) 5 (√3 + 1)  (B) orange ball.  (C) None of these"
    assert option_texts(question) == {"A": "5 (√3 + 1)", "B": "orange ball.", "C": "None of these"}
    once = with_option_text("Alice ends with it. Therefore, the correct answer is (B", question, "B")
    assert once == "Alice ends with it. So the answer is orange ball., option (B)."
    assert with_option_text(once, question, "B") == once  # a student's own rationale, curated again
    assert with_option_text("No options here.", "What is 2 + 2?", "A") == "No options here."


def test_cli_option_text(fcot, tmp_path):
    result = fcot("curate", "date_understanding", "--option-text", "--out", tmp_path)
    assert result.code == 0, result.stderr
    path = tmp_path / "finetune_data/P_decoder/F_zs_cot_date_understanding.jsonl"
    assert all(", option (" in row["label"] for row in read_jsonl(path))
    assert read_sidecar(path)["option_text"] is True
