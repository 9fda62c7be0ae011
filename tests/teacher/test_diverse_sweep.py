"""The diverse-reasoning analysis end to end: a sweep over D against a local teacher that samples."""

from __future__ import annotations

import json
import re

from fault_server import FaultServer

from fcot.models import save_tiny_model


class AddingTeacher(FaultServer):
    """An OpenAI-compatible teacher that adds: each sampled rationale words the sum its own way; step 2 states it."""

    def _text(self, prompt: str, j: int, temperature: float) -> str:
        a, b = map(int, re.findall(r"What is (\d+) plus (\d+)\?", prompt)[0])
        if prompt.rstrip().endswith("Let's think step by step."):
            return f" {a} and {b} make {a + b} (way {j}, {self._random.random():.4f})."
        return f" {a + b}."


def test_a_sweep_over_d_asks_each_rationale_once_and_draws_the_d_curve(fcot, tmp_path, monkeypatch, shared_data):
    monkeypatch.setenv("FCOT_PRECISION", "fp32")
    monkeypatch.setenv("FCOT_CACHE", str(tmp_path / "cache"))
    questions = tmp_path / "sums.jsonl"
    questions.write_text("".join(json.dumps({"question": f"What is {i} plus {2 * i + 1}?", "answer": str(3 * i + 1)})
                                 + "\n" for i in range(20)))
    model = save_tiny_model(tmp_path / "tiny", "decoder")
    with AddingTeacher() as teacher:
        result = fcot("run", "--threads", "1", "--set", "name=d", "--set", f"out={tmp_path / 'out'}",
                      "--set", f"tasks=[{questions}]", "--set", "answer_type=number",
                      "--set", "teacher.teacher=openai:adder", "--set", f"teacher.base_url={teacher.url}",
                      "--set", "teacher.temperature=0.7", "--set", "sweep={teacher.samples: [1, 2]}",
                      "--set", f"student.model={model}", "--set", "student.max_steps=1", "--set", "baselines=[]",
                      "--set", "curate.calculator=false", "--set", "eval.max_new_tokens=4", "--set", f"data_dir={shared_data}",
                      env={"OPENAI_API_KEY": "sk-test"})
        generated = sum(len(entry["texts"]) for entry in teacher.log)
    assert result.code == 0, result.stderr
    assert generated == 2 * 2 * 20  # D=2 reused D=1's first rationale: two steps, two rationales, 20 questions
    root = tmp_path / "out" / "d"
    rows = json.loads((root / "results.json").read_text())
    cot = sorted((r["samples"], r["train_samples"]) for r in rows if r["method"] == "Fine-tune-CoT")
    assert [d for d, _ in cot] == [1, 2] and cot[1][1] > cot[0][1]  # twice the rationales per question
    sides = sorted((root / "samples-2" / "finetune_data" / "P_decoder").glob("*.curate.json"))
    assert json.loads(sides[0].read_text())["stats"]["correct"] == 2 * 14  # every rationale of 14 train questions
    assert (root / "report" / "diverse_reasoning.png").stat().st_size > 0
