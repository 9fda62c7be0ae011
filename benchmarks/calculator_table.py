"""The README's calculator table from committed test answers: plain Fine-tune-CoT, the same student with a calculator
at decoding time, and a student trained on calculator-annotated rationales (`curate.calculator`), which decodes with it.

    python benchmarks/calculator_table.py benchmarks/results

Answers are read from `ten-tasks/<task>/` (plain; MultiArith's from `calculator/multiarith/`, its student being the
dataset-size run's on all train questions), `calculator/<task>/` (the calculator alone) and
`calculator/trained/<task>[-seed1]/` (made by `benchmarks/calculator_trained.sh`); each pair is compared on the same
questions with the exact McNemar test, a second seed against the plain student of its own seed where there is one
(`ten-tasks/<task>-seed1/`), else against the first seed's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import common  # benchmarks/common.py, beside this script
from paired import correct_by_question, discordant
from ten_tasks_table import PAPER

from fcot.stats import mcnemar_p, wilson_interval
from fcot.templates import rationale_template

TASKS = ("multiarith", "addsub", "single_eq", "gsm8k", "aqua")


def answers(folder: Path, template: str, key: str) -> Path | None:
    return next(folder.glob(f"completion_data/*__C_{template}/F_{key}__D_*.json"), None)


def accuracy(path: Path) -> str:
    right = list(correct_by_question(str(path)).values())
    percent = 100 * sum(right) / len(right)
    low, high = wilson_interval(percent, len(right))
    return f"{percent:.2f} ({low:.1f}–{high:.1f})"


def paired(a: Path | None, b: Path | None) -> str:
    if a is None or b is None:
        return "–"
    _, only_a, only_b = discordant(str(a), str(b))
    return f"{only_a} / {only_b}, p = {mcnemar_p(only_a, only_b):.2g}"


def row(root: Path, task: str) -> str | None:
    template = rationale_template(task)
    key = f"zs_cot_{'choice_' if template == 'ft_cot_choice' else ''}{task}"
    plain = answers(root / "calculator" / task, template, key) or answers(root / "ten-tasks" / task, template, key)
    alone = answers(root / "calculator" / task, f"{template}_calc", key)
    seeds = [(answers(root / "calculator" / "trained" / name, f"{template}_calc", f"{key}_calc"),
              answers(root / "ten-tasks" / name, template, key) or plain) for name in (task, f"{task}-seed1")]
    seeds = [(trained, own_plain) for trained, own_plain in seeds if trained is not None]
    if plain is None or not seeds:
        return None
    n = len(correct_by_question(str(plain)))
    cells = [accuracy(plain), accuracy(alone) if alone else "–", "; ".join(f"**{accuracy(t)}**" for t, _ in seeds),
             "; ".join(paired(t, own_plain) for t, own_plain in seeds), "; ".join(paired(t, alone) for t, _ in seeds)]
    paper = PAPER[task]
    return f"| {task} | {n} | " + " | ".join(cells) + f" | {paper[0]} / {paper[1]} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the committed results, e.g. benchmarks/results")
    args = parser.parse_args()
    rows = [row(args.root, task) for task in TASKS]
    common.print_markdown_table(
        ["task", "n", "Fine-tune-CoT", "+ calculator at decoding",
         "**Fine-tune-CoT + calculator** (annotated rationales; seeds 0; 1)", "only trained / only plain right, p",
         "only trained / only calculator-alone right, p", "paper GPT-2 124M / Flan-T5 60M"],
        [line for line in rows if line])


if __name__ == "__main__":
    main()
