"""Parity of an export with its run: both answer the same test questions the way `fcot eval` asks them.

Torch runs the run folder in fp32, one prompt at a time; the edge runtime runs the export. Both go through
`evaluate_model` (the run's template, stop phrase and token budget, greedy), so the answers compare one to one.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fcot.export.build import parity_path
from fcot.formats import write_json

DEFAULT_PARITY = 100  # test questions a parity check answers


def check_parity(run_dir: Path, export: Path, info: dict, n: int = DEFAULT_PARITY, threads: int | None = None,
                 max_new_tokens: int | None = None, data_dir: Path | None = None) -> dict:
    """Answer the first n test questions with the run (torch fp32, batch 1) and the export; compare and save beside it."""
    from fcot.models.edge import load_edge
    from fcot.models.loading import load_model

    if threads:
        import torch

        torch.set_num_threads(threads)
    options = dict(n=n, max_new_tokens=max_new_tokens, data_dir=data_dir)
    reference = answer_questions(load_model(run_dir), info, **options)
    report = compare(*reference, *answer_questions(load_edge(export, threads), info, **options))
    report.update(run=str(run_dir), export=str(export), threads=threads)
    write_json(parity_path(export), report)
    return report


def answer_questions(model: Any, info: dict, n: int, max_new_tokens: int | None = None,
                     data_dir: Path | None = None) -> tuple[Any, Any]:
    """(CompletionDataset, Evaluation) of a model (torch or edge) on the run's first n test questions, one at a time."""
    from fcot.evaluate.generate import evaluate_model

    stop = (info["stop_phrase"],) if info.get("stop_phrase") else None
    with tempfile.TemporaryDirectory(prefix="fcot-parity-") as tmp:
        return evaluate_model(model, info["task"], info["template"], limit=n, out_root=tmp, batch_size=1,
                              max_new_tokens=max_new_tokens, stop=stop, data_dir=data_dir,
                              precision="fp32")  # torch side: the fp32 reference (an export ignores it)


def compare(torch_cd: Any, torch_eval: Any, edge_cd: Any, edge_eval: Any) -> dict:
    """Shares of identical extracted answers and completions, and each side's accuracy and tokens/s."""
    torch_answers = {r["sample_index"]: r["prediction"] for r in torch_eval.records}
    edge_answers = {r["sample_index"]: r["prediction"] for r in edge_eval.records}
    texts = [(torch_cd.data[i][0]["completion"], edge_cd.data[i][0]["completion"]) for i in torch_answers]
    sides = {}
    for side, cd, evaluation in (("torch", torch_cd, torch_eval), ("edge", edge_cd, edge_eval)):
        gen = cd.metadata["generation"]
        sides[side] = {"accuracy": evaluation.accuracy, "tokens_per_s": gen["tokens_per_s"],
                       "precision": gen["precision"], "new_tokens": gen["new_tokens"], "seconds": gen["seconds"]}
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
