"""Checkpoint selection rules against the test split: every kept checkpoint of a run answers the test questions.

A run trained with all its checkpoints kept (`--set student.save_total_limit=20`) is re-scored checkpoint by
checkpoint; each selection rule's pick is then looked up on the test split:

- `newest not clearly worse` (fcot's rule, `fcot.student.choose`),
- `most accurate, first of equals` (the rule before it),
- `lowest validation loss`, and `last`.

    python benchmarks/selection.py RUN_DIR [RUN_DIR ...] --out benchmarks/results/selection/selection.json

`--curves FILE ...` instead summarises committed `train_metrics.json` files without re-scoring: where validation
loss was lowest, and the validation accuracy there against the last checkpoint's.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from common import hardware

from fcot.evaluate.generate import EvalOptions, evaluate_model
from fcot.formats import read_json, read_yaml
from fcot.models.completions import Generator
from fcot.models.loading import LoadedModel, load_model
from fcot.student.choose import Point, choose
from fcot.tasks import get_task


def checkpoint_model(run: Path, checkpoint: Path, base_name: str) -> LoadedModel:
    """A LoRA checkpoint's adapters merged into a fresh copy of the base model."""
    from peft import PeftModel

    base = load_model(base_name)
    model = PeftModel.from_pretrained(base.model, checkpoint).merge_and_unload()
    return LoadedModel(model, base.tokenizer, base.model_type, f"{run.name}/{checkpoint.name}")


def picks(metrics: dict) -> dict[str, int]:
    """The step each rule keeps, from a run's validation record."""
    curve = metrics["eval_accuracies"]
    questions = metrics["val_questions"]
    points = [Point(a["step"], a["epoch"], tuple(q in a["right"] for q in questions)) for a in curve]
    loss = {h["step"]: h["eval_loss"] for h in metrics["eval_losses"]}
    first_best = max(curve, key=lambda a: (a["correct"], -a["step"]))["step"]
    return {"newest not clearly worse": points[choose(points).kept].step, "most accurate, first of equals": first_best,
            "lowest validation loss": min(loss, key=loss.get) if loss else curve[-1]["step"],
            "last": curve[-1]["step"]}


def score_run(run: Path, max_new_tokens: int, threads: int, everything: bool = False) -> dict:
    """Test accuracy of the checkpoints any rule picks (`everything`: of all of them), and each rule's pick."""
    import torch

    torch.set_num_threads(threads)
    record, metrics = read_yaml(run / "fcot.yaml"), read_json(run / "train_metrics.json")
    task, template = get_task(record["data"]["dataset_key"]), record["data"]["template"]
    stop = (record["data"]["stop_phrase"],)
    picked = set(picks(metrics).values())  # only the checkpoints some rule keeps: each answers the whole test split

    def step(checkpoint: Path) -> int:
        return int(checkpoint.name.split("-")[1])

    checkpoints = sorted((p for p in (run / "checkpoints").glob("checkpoint-*") if everything or step(p) in picked),
                         key=step)
    validated = {a["step"]: a for a in metrics["eval_accuracies"]}
    loss = {h["step"]: h["eval_loss"] for h in metrics["eval_losses"]}
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for checkpoint in checkpoints:
            at = step(checkpoint)
            loaded = checkpoint_model(run, checkpoint, record["student"]["model"])
            student = Generator(loaded.model, loaded.tokenizer, loaded.name, record["student"]["precision"])
            options = EvalOptions(max_new_tokens=max_new_tokens, stop=stop, out_root=scratch,
                                  finetune_key=checkpoint.name)
            _, evaluation = evaluate_model(student, task, template, options)
            point = validated.get(at, {})
            rows.append({"step": at, "epoch": point.get("epoch"), "val_correct": point.get("correct"),
                         "val_n": point.get("n"), "val_ci95": point.get("ci95"), "val_loss": loss.get(at),
                         "test_n": evaluation.n, "test_accuracy": round(100 * evaluation.accuracy, 2)})
            print(f"{run.name} {checkpoint.name}: validation {point.get('correct')}/{point.get('n')}, "
                  f"test {100 * evaluation.accuracy:.2f}% of {evaluation.n}", flush=True)
    test = {r["step"]: r["test_accuracy"] for r in rows}
    return {"run": str(run), "task": task.key, "checkpoints": rows, "kept_by_training": metrics["best_checkpoint"]
            .rsplit("/", 1)[-1], "choice": metrics.get("choice"),
            "picks": {rule: {"step": step, "test_accuracy": test.get(step)} for rule, step in picks(metrics).items()}}


def summarise_curves(paths: list[Path]) -> list[dict]:
    """Validation accuracy at the lowest validation loss against the last and the best checkpoint's."""
    rows = []
    for path in paths:
        m = read_json(path)
        acc = [100 * a["eval_accuracy"] for a in m["eval_accuracies"]]
        loss = [h["eval_loss"] for h in m["eval_losses"]]
        if len(acc) < 2 or len(loss) != len(acc):
            continue
        low = loss.index(min(loss))
        rows.append({"file": str(path), "validation_accuracy": [round(a, 1) for a in acc], "lowest_loss_at": low + 1,
                     "at_lowest_loss": round(acc[low], 1), "last": round(acc[-1], 1), "best": round(max(acc), 1)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, help="run folders with every checkpoint kept")
    parser.add_argument("--curves", nargs="*", type=Path, default=[], help="train_metrics.json files to summarise")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--all", action="store_true", help="score every checkpoint, not only the rules' picks")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if not args.runs and not args.curves:
        parser.error("give run folders, or --curves with train_metrics.json files")
    result = {"hardware": hardware(), "command": "python benchmarks/selection.py " + " ".join(
        [*map(str, args.runs), *(["--curves", *map(str, args.curves)] if args.curves else []),
         "--max-new-tokens", str(args.max_new_tokens), "--threads", str(args.threads), *(["--all"] if args.all else []),
         "--out", str(args.out)])}
    if args.runs:
        result["runs"] = [score_run(run, args.max_new_tokens, args.threads, args.all) for run in args.runs]
    if args.curves:
        curves = summarise_curves(args.curves)
        worse = sum(c["at_lowest_loss"] < c["last"] for c in curves)
        better = sum(c["at_lowest_loss"] > c["last"] for c in curves)
        result["curves"] = curves
        result["curves_summary"] = (f"of {len(curves)} curves, the checkpoint with the lowest validation loss was less "
                                    f"accurate on validation than the last checkpoint in {worse}, more accurate in "
                                    f"{better}, as accurate in {len(curves) - worse - better}")
        print(result["curves_summary"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
