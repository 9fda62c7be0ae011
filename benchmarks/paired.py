"""Paired comparison of two students answering the same test questions: the exact McNemar test.

Only the questions one student gets right and the other wrong carry evidence; under "equally good" each of them
goes either way with probability 1/2. Pairs of completion files (A1 B1 [A2 B2 ...], e.g. two seeds) are counted
separately and pooled.

    python benchmarks/paired.py FT_COT.json VANILLA.json [FT_COT_SEED1.json VANILLA_SEED1.json ...]
"""

from __future__ import annotations

import argparse

from fcot.errors import FcotError
from fcot.evaluate.evaluator import evaluate_completions
from fcot.formats import CompletionDataset
from fcot.stats import mcnemar_p


def correct_by_question(path: str) -> dict[int, bool]:
    """Whether each test question's first completion is correct, by the task's own evaluator."""
    records = evaluate_completions(CompletionDataset.load(path), completion_indices=[0]).records
    return {r["sample_index"]: r["correct"] for r in records}


def discordant(path_a: str, path_b: str) -> tuple[int, int, int]:
    """Questions answered by both files, and how many only A and only B got right."""
    a, b = correct_by_question(path_a), correct_by_question(path_b)
    if a.keys() != b.keys():
        raise ValueError(f"{path_a} and {path_b} answer different questions; compare runs over the same split")
    return len(a), sum(a[i] and not b[i] for i in a), sum(b[i] and not a[i] for i in a)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="completion files in pairs: A1 B1 [A2 B2 ...]")
    args = parser.parse_args()
    if len(args.files) % 2:
        parser.error("give completion files in pairs: A1 B1 [A2 B2 ...]")
    pairs = list(zip(args.files[::2], args.files[1::2]))
    total_a = total_b = 0
    for path_a, path_b in pairs:
        try:
            n, a_only, b_only = discordant(path_a, path_b)
        except (FcotError, ValueError) as exc:
            parser.error(str(exc))
        total_a, total_b = total_a + a_only, total_b + b_only
        print(f"n={n}  only A right: {a_only}  only B right: {b_only}  p={mcnemar_p(a_only, b_only):.3g}  "
              f"(A {path_a}, B {path_b})")
    if len(pairs) > 1:
        print(f"pooled: only A right: {total_a}  only B right: {total_b}  p={mcnemar_p(total_a, total_b):.3g}")


if __name__ == "__main__":
    main()
