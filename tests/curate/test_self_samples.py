"""Self-training data: a student's own sampled completions curated like a teacher's, and combined with them."""

from __future__ import annotations

import pytest

from fcot.curate import combine, curate
from fcot.errors import ConfigError, DataError
from fcot.formats import CompletionDataset, read_json, read_jsonl
from fcot.tasks import get_task

TEACHER_DIR = "completion_data/B_text-davinci-002__C_zs_cot"


def _student_samples(shared_data, rationale: str = "Flipped twice, so it is heads up again.") -> CompletionDataset:
    """What `fcot eval RUN --split train -D 2 --temperature 0.7` writes for a coin-flip student: per question one
    correct sample and one with the wrong answer."""
    task = get_task("coin_flip")
    train = task.load_split(data_dir=shared_data)["train"][:5]
    flip = {"yes": "no", "no": "yes"}
    data = {}
    for sample in task.load_dataset(shared_data).select(train):
        right, wrong = sample["answer"], flip[sample["answer"]]
        data[sample["sample_index"]] = [
            {"sample_index": sample["sample_index"], "completion_index": i, "question": sample["question"],
             "answer": right, "prompt": sample["question"] + " ###", "completion": f" {rationale} --> {said}"}
            for i, said in enumerate((right, wrong))]
    metadata = {"dataset_key": "coin_flip", "base_model": "smollm2-135m-instruct", "finetune_key": "zs_cot_coin_flip",
                "train_key": None, "prediction_template": "ft_cot_token", "completion_key": "ft_cot_token_t70_d2"}
    return CompletionDataset(metadata=metadata, data=data)


def test_a_students_correct_samples_become_samples_with_their_own_rationale(shared_data):
    result = curate(_student_samples(shared_data), data_dir=shared_data)
    assert result.stats.completions == 10 and result.stats.correct == result.stats.kept == 5
    dataset = get_task("coin_flip").load_dataset(shared_data)
    for sample in result.samples:
        gold = dataset[sample["sample_index"]]["answer"]
        assert sample["completion_index"] == 0
        assert sample["label"] == f" Flipped twice, so it is heads up again. --> {gold} END"
    assert result.finetune_key == "ft_cot_token_t70_d2_coin_flip"


def test_a_students_correct_sample_without_a_rationale_is_skipped_and_counted(shared_data):
    cd = _student_samples(shared_data)
    first = next(iter(cd.data.values()))[0]
    first["completion"] = first["completion"].partition(" -->")[2].strip()  # just the answer: nothing to learn from
    result = curate(cd, data_dir=shared_data)
    assert result.stats.correct == 5 and result.stats.no_rationale == 1 and result.stats.kept == 4


def test_few_shot_cot_completions_keep_the_text_before_the_answer_as_rationale(shared_data):
    cd = _student_samples(shared_data)
    cd.metadata["prediction_template"] = "fs_cot"
    for rows in cd.data.values():
        for row in rows:
            row["completion"] = row["completion"].replace(" -->", " The answer is")
    result = curate(cd, data_dir=shared_data)
    assert result.stats.kept == 5
    assert all(s["label"].startswith(" Flipped twice, so it is heads up again. --> ") for s in result.samples)


def test_combine_keeps_completion_indices_distinct_and_dedupes_across_sources(shared_data):
    teacher = curate(CompletionDataset.load(shared_data / TEACHER_DIR / "D_coin_flip.json"), data_dir=shared_data)
    own = curate(_student_samples(shared_data), data_dir=shared_data)
    both = combine([teacher, own])
    assert both.stats.kept == teacher.stats.kept + own.stats.kept
    pairs = [(s["sample_index"], s["completion_index"]) for s in both.samples]
    assert len(pairs) == len(set(pairs))
    assert both.finetune_key == "zs_cot+ft_cot_token_t70_d2_coin_flip"
    assert both.config["teacher"] == ["text-davinci-002", "smollm2-135m-instruct"]
    again = combine([own, own], dedupe=True)
    assert again.stats.kept == own.stats.kept and again.stats.duplicates == own.stats.kept
    vanilla = curate(get_task("coin_flip").load_dataset(shared_data), data_dir=shared_data)
    with pytest.raises(ConfigError, match="differ in task, template"):
        combine([teacher, vanilla])


def test_completions_without_a_rationale_are_refused(shared_data):
    cd = _student_samples(shared_data)
    cd.metadata["prediction_template"] = "ft_token"
    with pytest.raises(DataError, match="no rationale"):
        curate(cd, data_dir=shared_data)


def test_cli_curates_teacher_and_student_samples_into_one_file(fcot, tmp_path, shared_data):
    own = tmp_path / "F_zs_cot_coin_flip__D_coin_flip.json"
    _student_samples(shared_data).save(own)
    res = fcot("curate", "coin_flip", own, "--out", tmp_path / "out", "--data-dir", shared_data)
    assert res.code == 0, res.stderr
    folder = tmp_path / "out" / "finetune_data" / "P_decoder"
    rows = read_jsonl(folder / "F_zs_cot+ft_cot_token_t70_d2_coin_flip.jsonl")
    side = read_json(folder / "F_zs_cot+ft_cot_token_t70_d2_coin_flip.curate.json")
    assert len(rows) == side["stats"]["kept"] == side["samples"]
    assert sum(r["label"].startswith(" Flipped twice") for r in rows) == 5
