"""Parity of an export with its run: both answer the same test questions the way `fcot eval` asks them.

Torch runs the run folder in fp32, one prompt at a time; the edge runtime runs the export. Both go through
`evaluate_model` (the run's template, stop phrase and token budget, greedy), so the answers compare one to one.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fcot.evaluate.generate import EvalOptions, evaluate_model, generation_of
from fcot.export.build import parity_path
from fcot.formats import write_json
from fcot.models.runinfo import RunInfo

DEFAULT_PARITY = 100  # test questions a parity check answers


def check_parity(run_dir: Path, export: Path, info: RunInfo, n: int = DEFAULT_PARITY, threads: int | None = None,
                 max_new_tokens: int | None = None, data_dir: Path | None = None) -> dict:
    """Answer the first n test questions with the run (torch fp32, batch 1) and the export; compare and save beside it."""
    from fcot.models import open_student

    options = dict(n=n, max_new_tokens=max_new_tokens, data_dir=data_dir)
    reference = answer_questions(open_student(run_dir, threads=threads, precision="fp32"), info, **options)
    report = compare(*reference, *answer_questions(open_student(export, threads=threads), info, **options))
    report.update(run=str(run_dir), export=str(export), threads=threads)
    write_json(parity_path(export), report)
    return report


def answer_questions(student: Any, info: RunInfo, n: int, max_new_tokens: int | None = None,
                     data_dir: Path | None = None) -> tuple[Any, Any]:
    """(CompletionDataset, Evaluation) of a student (`fcot.models.open_student`) on the run's first n test questions,
    one at a time."""
    with tempfile.TemporaryDirectory(prefix="fcot-parity-") as tmp:
        options = EvalOptions(limit=n, batch_size=1, max_new_tokens=max_new_tokens, stop=info.stop, out_root=tmp,
                              data_dir=data_dir)
        return evaluate_model(student, info.task, info.template, options)


def compare(torch_cd: Any, torch_eval: Any, edge_cd: Any, edge_eval: Any) -> dict:
    """Shares of identical extracted answers and completions, and each side's accuracy and tokens/s."""
    torch_answers = {r["sample_index"]: r["prediction"] for r in torch_eval.records}
    edge_answers = {r["sample_index"]: r["prediction"] for r in edge_eval.records}
    texts = [(torch_cd.data[i][0]["completion"], edge_cd.data[i][0]["completion"]) for i in torch_answers]
    sides = {}
    for side, cd, evaluation in (("torch", torch_cd, torch_eval), ("edge", edge_cd, edge_eval)):
        gen = generation_of(cd)
        sides[side] = {"accuracy": evaluation.accuracy, "tokens_per_s": round(gen.tokens_per_s, 2),
                       "precision": gen.precision, "new_tokens": gen.new_tokens, "seconds": round(gen.seconds, 3)}
    n = len(torch_answers)
    torch_speed = sides["torch"]["tokens_per_s"]
    return {
        "task": torch_cd.dataset_key,
        "template": torch_cd.prediction_template,
        "n": n,
        "identical_answers": sum(edge_answers.get(i) == a for i, a in torch_answers.items()) / n,
        "identical_completions": sum(a == b for a, b in texts) / n,
        "speedup": round(sides["edge"]["tokens_per_s"] / torch_speed, 2) if torch_speed else None,
        **sides,
    }
