"""Why a Fine-tune-CoT student gets arithmetic questions wrong: its plan, its sums, or the answer's extraction.

    python benchmarks/arithmetic_errors.py <student completion file>... [--out benchmarks/results/arithmetic-errors]

Each wrong test answer falls in the first class that fits, in this order:
  unfinished        the completion hit the token limit before its answer
  extraction        the rationale's last number is the gold answer, the extracted answer is not
  explicit step     a step written `a op b = c` is wrong (c is not a op b)
  stated result     a number the rationale states is neither in the question nor one + - * / of two numbers before
                    it (question or rationale): a result stated in words whose arithmetic is wrong
  plan              every step is right arithmetic on numbers at hand: the wrong numbers were combined

`fixable` counts the wrong answers where the rationale's steps, with the arithmetic done right and carried forward
(each wrong result replaced by the right one wherever it is used later), end at the gold answer: what a calculator
could recover at most with the student's own plans. Writes one JSON per file and prints a table.
"""

from __future__ import annotations

import argparse
import json
import operator
import re
import sys
from collections import Counter
from pathlib import Path

from fcot.evaluate.evaluator import Evaluator
from fcot.formats import CompletionDataset

NUMBER = r"-?\d[\d,]*(?:\.\d+)?"
STEP = re.compile(rf"({NUMBER})\s*([-+*/x×÷])\s*({NUMBER})\s*=\s*({NUMBER})")
OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "x": operator.mul, "×": operator.mul,
       "/": operator.truediv, "÷": operator.truediv}
CLASSES = ["unfinished", "extraction", "explicit step", "stated result", "plan"]


def numbers(text: str) -> list[float]:
    return [float(n.replace(",", "")) for n in re.findall(NUMBER, text)]


def same(a: float, b: float) -> bool:
    return abs(a - b) < 1e-6 * max(1.0, abs(a), abs(b))


def derivable(value: float, known: list[float]) -> bool:
    """Whether value is one of known, or one + - * / of two of them."""
    if any(same(value, k) for k in known):
        return True
    for i, a in enumerate(known):
        for b in known[i:]:
            for x, y in ((a, b), (b, a)):
                for op in OPS.values():
                    try:
                        if same(op(x, y), value):
                            return True
                    except ZeroDivisionError:
                        pass
    return False


def rationale(completion: str) -> str:
    return completion.split("-->")[0]


def wrong_steps(text: str) -> list[tuple[str, float]]:
    """The written results of explicit steps that are wrong, with the right value."""
    found = []
    for a, op, b, c in STEP.findall(text):
        try:
            right = OPS[op](float(a.replace(",", "")), float(b.replace(",", "")))
        except ZeroDivisionError:
            continue
        if not same(right, float(c.replace(",", ""))):
            found.append((c, right))
    return found


def fixed_final(text: str) -> float | None:
    """The rationale's last number once every explicit step is recomputed and its result carried forward."""
    replaced: dict[float, float] = {}
    for a, op, b, c in STEP.findall(text):
        x, y = (replaced.get(v, v) for v in (float(a.replace(",", "")), float(b.replace(",", ""))))
        try:
            replaced[float(c.replace(",", ""))] = OPS[op](x, y)
        except ZeroDivisionError:
            pass
    found = numbers(text)
    return replaced.get(found[-1], found[-1]) if found else None


def classify(record: dict, row: dict) -> str:
    text = rationale(row["completion"])
    gold = float(str(row["answer"]).replace(",", ""))
    stated = numbers(text)
    if not record["complete"] or "-->" not in row["completion"]:
        return "unfinished"
    if stated and same(stated[-1], gold):
        return "extraction"
    if wrong_steps(text):
        return "explicit step"
    known = numbers(row["question"])
    for value in stated:
        if not derivable(value, known):
            return "stated result"
        known.append(value)
    return "plan"


def analyse(path: Path) -> dict:
    data = CompletionDataset.load(path)
    meta = data.metadata
    evaluator = Evaluator(meta["dataset_key"], meta.get("prediction_template") or "ft_cot_token")
    rows = [c for rows in data.data.values() for c in rows]
    counts, fixable, examples = Counter(), 0, {}
    for row in rows:
        record = evaluator.check(row)
        if record["correct"]:
            continue
        kind = classify(record, row)
        counts[kind] += 1
        final = fixed_final(rationale(row["completion"]))
        fixable += final is not None and same(final, float(str(row["answer"]).replace(",", "")))
        examples.setdefault(kind, {"sample_index": row["sample_index"], "question": row["question"],
                                   "answer": row["answer"], "completion": row["completion"]})
    wrong = sum(counts.values())
    return {"file": str(path), "task": meta["dataset_key"], "n": len(rows), "right": len(rows) - wrong,
            "wrong": wrong, "classes": {k: counts[k] for k in CLASSES}, "fixable_by_calculator": fixable,
            "examples": examples}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, help="folder for one JSON per file (named <task>.json)")
    args = parser.parse_args(argv)
    print(f"| task | n | right | wrong | {' | '.join(CLASSES)} | fixable by a calculator |")
    print("|---|---|---|---|" + "---|" * len(CLASSES) + "---|")
    for path in args.files:
        result = analyse(path)
        cells = " | ".join(str(result["classes"][k]) for k in CLASSES)
        print(f"| {result['task']} | {result['n']} | {result['right']} | {result['wrong']} | {cells} | "
              f"{result['fixable_by_calculator']} |")
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{result['task']}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
