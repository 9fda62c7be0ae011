"""`fcot curate --task FILE --answer-type T`: completions of a user's own task are checked and curated."""

from __future__ import annotations

import json

from fcot.formats import CompletionDataset
from fcot.tasks import load_custom_task


def test_curate_custom_task_completions(tmp_path, fcot):
    questions = tmp_path / "sums.jsonl"
    questions.write_text("".join(json.dumps({"question": f"What is {i} plus 1?", "answer": str(i + 1)}) + "\n"
                                 for i in range(20)))
    task = load_custom_task(questions, "number")
    completions = CompletionDataset(metadata={"dataset_key": task.key, "base_model": "t", "finetune_key": None,
                                              "train_key": None, "prediction_template": "zs_cot"})
    for s in task.load_dataset().data:
        wrong = s["sample_index"] % 2  # every other answer is off by one and must be dropped
        answer = int(s["answer"]) + wrong
        completions.add({"sample_index": s["sample_index"], "completion_index": 0, "question": s["question"],
                         "answer": s["answer"], "reasoning_prompt": "Q", "reasoning_completion": f"It is {answer}.",
                         "reasoning_finish_reason": "stop", "prompt": "P", "completion": f" {answer}.",
                         "finish_reason": "stop"})
    source = completions.save(tmp_path / f"D_{task.key}.json")

    unknown = fcot("curate", source, "--out", tmp_path)
    assert unknown.code == 2 and "unknown task" in unknown.stderr

    result = fcot("curate", source, "--task", questions, "--answer-type", "number", "--out", tmp_path)
    assert result.code == 0, result.stderr
    rows = [json.loads(line) for line in next(tmp_path.rglob("F_*.jsonl")).read_text().splitlines()]
    train = set(task.load_split()["train"])
    assert rows and {r["sample_index"] for r in rows} <= train
    assert all(r["sample_index"] % 2 == 0 for r in rows)
    assert rows[0]["label"].endswith(" END") and " --> " in rows[0]["label"]
