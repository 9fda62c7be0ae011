"""Curation on the real text-davinci-002 completions: train split only, the paper's correctness filter, formats."""

from __future__ import annotations

import copy

import pytest

from fcot.curate import (count_words, curate, curated_path, hold_out, questions_of, read_sidecar, split_validation,
                         write_curated)
from fcot.errors import ConfigError, DataError, NoTrainingSamples
from fcot.evaluate import evaluate_completions
from fcot.formats import CompletionDataset, read_jsonl
from fcot.tasks import get_task

TEACHER_DIR = "completion_data/B_text-davinci-002__C_zs_cot"


@pytest.fixture(scope="module")
def multiarith(shared_data) -> CompletionDataset:
    return CompletionDataset.load(shared_data / TEACHER_DIR / "D_multiarith.json")


def test_keeps_exactly_the_correct_train_completions(shared_data, multiarith):
    split = get_task("multiarith").load_split(data_dir=shared_data)
    result = curate(multiarith, "multiarith", data_dir=shared_data)
    kept = {s["sample_index"] for s in result.samples}
    assert kept <= set(split["train"]) and not kept & set(split["test"])
    scored = evaluate_completions(multiarith, split["train"])  # the paper's evaluator, independently
    assert kept == {r["sample_index"] for r in scored.records if r["correct"]}
    assert result.stats.split_samples == 420 and result.stats.completions == 420
    assert result.stats.kept == result.stats.correct == len(kept) == 332


def test_ft_cot_token_formats_match_the_paper(shared_data, multiarith):
    decoder = curate(multiarith, "multiarith", data_dir=shared_data).samples[0]
    source = multiarith.data[decoder["sample_index"]][0]
    rationale, answer = source["reasoning_completion"].strip(), source["answer"].strip()
    assert decoder["input"] == source["question"].strip() + " ###"
    assert decoder["label"] == f" {rationale} --> {answer} END"
    assert (decoder["prompt"], decoder["completion"]) == (decoder["input"], decoder["label"])
    assert set(decoder) == {"sample_index", "completion_index", "input", "label", "prompt", "completion"}
    t5 = curate(multiarith, "multiarith", model_type="encoder_decoder", data_dir=shared_data).samples[0]
    assert t5["input"] == source["question"].strip() and t5["label"] == f"{rationale} --> {answer} END"
    natural = curate(multiarith, "multiarith", template="ft_cot_natural", stop_phrase=None,
                     data_dir=shared_data).samples[0]
    assert natural["input"] == f"Q: {source['question'].strip()}\n\nA: Let's think step by step.\n\n"
    assert natural["label"] == f" {rationale}\n\nTherefore the answer is {answer}"


def test_multiple_choice_defaults_to_ft_cot_choice_ending_each_rationale_with_the_gold_option(shared_data):
    dates = CompletionDataset.load(shared_data / TEACHER_DIR / "D_date_understanding.json")
    token = curate(dates, "date_understanding", template="ft_cot_token", data_dir=shared_data)
    choice = curate(dates, "date_understanding", data_dir=shared_data)  # the default for multiple choice
    assert [s["sample_index"] for s in choice.samples] == [s["sample_index"] for s in token.samples]
    assert choice.finetune_key == "zs_cot_choice_date_understanding"
    for s in choice.samples:
        letter = s["label"].removesuffix(" END").rpartition("--> ")[2]
        text = s["label"].rpartition(" So the answer is ")[2].removesuffix(f" ({letter}). --> {letter} END")
        assert f" {text} ({letter}) " in s["input"], s["sample_index"]


def test_ft_token_from_the_dataset_uses_gold_answers(shared_data):
    task = get_task("multiarith")
    result = curate(task.load_dataset(shared_data), task, data_dir=shared_data)
    train = task.load_split(data_dir=shared_data)["train"]
    assert [s["sample_index"] for s in result.samples] == train
    gold = task.load_dataset(shared_data)[train[0]]
    assert result.samples[0]["label"] == f" {gold['answer'].strip()} END"
    assert result.samples[0]["input"] == gold["question"].strip() + " ###"


def test_diverse_reasoning_keeps_every_correct_completion_and_dedupes(shared_data, multiarith):
    diverse = copy.deepcopy(multiarith)
    for index, rows in diverse.data.items():
        twin = {**rows[0], "completion_index": 1}  # same rationale again
        other = {**rows[0], "completion_index": 2, "reasoning_completion": rows[0]["reasoning_completion"] + " Done."}
        wrong = {**rows[0], "completion_index": 3, "completion": " 123456789."}
        diverse.data[index] = [rows[0], twin, other, wrong]
    plain = curate(diverse, data_dir=shared_data)
    assert plain.stats.kept == 3 * 332 and plain.stats.completions == 4 * 420
    assert {s["completion_index"] for s in plain.samples} == {0, 1, 2}
    deduped = curate(diverse, data_dir=shared_data, dedupe=True)
    assert deduped.stats.duplicates == 332 and deduped.stats.kept == 2 * 332


def test_max_rationale_tokens_drops_long_rationales(shared_data, multiarith):
    capped = curate(multiarith, data_dir=shared_data, max_rationale_tokens=40)
    assert 0 < capped.stats.too_long < capped.stats.correct
    assert capped.stats.kept == capped.stats.correct - capped.stats.too_long
    for s in capped.samples:
        rationale = multiarith.data[s["sample_index"]][0]["reasoning_completion"]
        assert count_words(rationale.strip()) <= 40


def test_no_correct_completion_is_a_clear_error(shared_data, multiarith):
    wrong = copy.deepcopy(multiarith)
    for rows in wrong.data.values():
        for row in rows:
            row["completion"] = " -1."
    with pytest.raises(NoTrainingSamples, match="no correct completion among 420"):
        curate(wrong, data_dir=shared_data)


def test_refuses_test_split_and_untrainable_pairs(shared_data, multiarith):
    with pytest.raises(ConfigError, match="test samples"):
        curate(multiarith, data_dir=shared_data, split="test")
    with pytest.raises(ConfigError, match="decoder-only"):
        curate(multiarith, template="ft_cot_natural", model_type="encoder_decoder", data_dir=shared_data)
    with pytest.raises(ConfigError, match="gold answers"):
        curate(multiarith, template="ft_token", data_dir=shared_data)
    with pytest.raises(DataError, match="not task 'gsm8k'"):
        curate(multiarith, "gsm8k", data_dir=shared_data)


def test_write_curated_writes_jsonl_and_sidecar(tmp_path, shared_data, multiarith):
    result = curate(multiarith, data_dir=shared_data)
    path = write_curated(result, curated_path(tmp_path, result))
    assert path == tmp_path / "finetune_data" / "P_decoder" / "F_zs_cot_multiarith.jsonl"
    assert read_jsonl(path) == result.samples
    assert result.finetune_key == "zs_cot_multiarith"
    side = read_sidecar(path)
    assert side["template"] == "ft_cot_token" and side["stop_phrase"] == "END" and side["teacher"] == "text-davinci-002"
    assert side["stats"]["kept"] == 332 and side["samples"] == 332
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary files left
    assert read_sidecar(tmp_path / "F_paper.jsonl") == {}  # the paper's files have none


def test_validation_holds_out_whole_questions():
    samples = [{"sample_index": i, "input": f"Q{i} ###", "label": f" r{j}"} for i in range(20) for j in range(2)]
    held = hold_out(questions_of(samples), 0.25, seed=3)
    train, validation = split_validation(samples, held)
    assert (len(held), len(train), len(validation)) == (5, 30, 10)
    assert not {s["sample_index"] for s in train} & {s["sample_index"] for s in validation}
    assert hold_out(questions_of(samples), 0.25, seed=3) == held and hold_out(list(range(20)), 0.25, seed=4) != held
    assert len(hold_out(list(range(20)), 0.5, seed=0, max_questions=4)) == 4
    assert hold_out(list(range(20)), 0, seed=0) == [] and hold_out([7], 0.5, seed=0) == []
    assert len(hold_out([1, 2], 0.99, seed=0)) == 1  # one question is always left to train on
    held = hold_out(list(range(100)), 0.2, seed=0)  # a pool larger than the curated questions: those left out
    train, validation = split_validation(samples, held)  # of the pool simply stay on the training side
    assert len(held) == 20 and len(validation) == 2 * len(set(held) & set(range(20)))
    by_input = [{"input": s["input"], "label": s["label"]} for s in samples[:4]]  # no sample_index: the input counts
    train, validation = split_validation(by_input, hold_out(questions_of(by_input), 0.9, seed=0))
    assert len(train) == len(validation) == 2 and train[0]["input"] != validation[0]["input"]


def test_max_questions_takes_nested_subsets_away_from_validation(shared_data, multiarith):
    split = get_task("multiarith").load_split(data_dir=shared_data)["train"]
    sizes = (8, 32, 128)
    results = [curate(multiarith, "multiarith", data_dir=shared_data, max_questions=n) for n in sizes]
    asked = [set(r.questions) for r in results]
    assert [len(a) for a in asked] == list(sizes) and asked[0] < asked[1] < asked[2]
    kept = {s["sample_index"] for s in results[1].samples}
    assert kept <= asked[1] and results[1].stats.split_samples == 32
    assert all(r.config["questions"] == split for r in results)  # validation draws on the whole split
    assert not asked[2] & set(hold_out(split, 0.2, seed=0, max_questions=100))  # held out from the other end
    assert [r.finetune_key for r in results] == [f"zs_cot_multiarith_q{n}" for n in sizes]
    other_seed = curate(multiarith, "multiarith", data_dir=shared_data, max_questions=32, seed=1)
    assert set(other_seed.questions) != asked[1]
    vanilla = curate(get_task("multiarith").load_dataset(shared_data), data_dir=shared_data, max_questions=32)
    assert set(vanilla.questions) == asked[1] and vanilla.finetune_key == "multiarith_q32"  # the same questions


def test_samples_keeps_the_first_d_completions_per_question(shared_data, multiarith):
    diverse = copy.deepcopy(multiarith)  # a D=4 teacher file: the same rationale under four completion indices
    diverse.metadata["completion_key"] = "zs_cot_t70_d4"
    for index, rows in diverse.data.items():
        diverse.data[index] = [{**rows[0], "completion_index": j} for j in range(4)]
    full = curate(diverse, "multiarith", data_dir=shared_data)
    two = curate(diverse, "multiarith", data_dir=shared_data, samples=2)
    assert full.stats.kept == 4 * 332 and two.stats.kept == 2 * 332
    assert {s["completion_index"] for s in two.samples} == {0, 1}
    assert (full.finetune_key, two.finetune_key) == ("zs_cot_t70_d4_multiarith", "zs_cot_t70_d2_multiarith")
    assert curate(multiarith, "multiarith", data_dir=shared_data, samples=2).finetune_key == "zs_cot_multiarith"
