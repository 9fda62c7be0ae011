"""The README's ten-task table from the committed runs of `benchmarks/ten_tasks.sh`.

    python benchmarks/ten_tasks_table.py benchmarks/results/ten-tasks

One row per task (`<task>/results.json`, `<task>/time.txt`, the students' test answers under `completion_data/`;
a second seed's run in `<task>-seed1/` adds its trained rows after a `;`): the teacher, the untrained student prompted zero-shot, with Zero-shot-CoT and with Few-shot-CoT,
vanilla fine-tuning and Fine-tune-CoT with its 95% interval, the paired test of Fine-tune-CoT against vanilla
fine-tuning on the same questions, the paper's same-size students, and the CPU time of the whole run.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import common  # benchmarks/common.py, beside this script
from paired import discordant

from fcot.report import load_results
from fcot.stats import mcnemar_p

# The paper's Fine-tune-CoT students (Ho et al. 2023, Table 2; ../shared/paper-results.md): GPT-2 124M, Flan-T5 60M
PAPER = {"single_eq": (3.95, 6.58), "addsub": (5.88, 5.88), "multiarith": (8.33, 8.33), "gsm8k": (3.03, 2.96),
         "aqua": (22.44, 23.23), "date_understanding": (25.23, 80.18), "tracking_shuffled_objects": (38.67, 36.00),
         "last_letter_concatenation": (4.67, 35.33), "coin_flip": (77.33, 100.00), "commonsense_qa": (22.69, 42.01)}
COLUMNS = ["teacher (Zero-shot-CoT)", "zero-shot", "zero-shot-CoT", "few-shot-CoT", "vanilla fine-tune"]


def cpu_seconds(time_file: Path) -> tuple[float, float]:
    """User + system seconds over every invocation `/usr/bin/time -v -a` recorded, and the largest peak RSS (GB)."""
    text = time_file.read_text(encoding="utf-8")
    cpu = sum(float(s) for s in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", text))
    rss = max((int(k) for k in re.findall(r"Maximum resident set size \(kbytes\): (\d+)", text)), default=0)
    return cpu, rss / 1e6


def answers(folder: Path, template: str) -> Path | None:
    return next(folder.glob(f"completion_data/*__C_{template}/*.json"), None)


def seed_cells(folder: Path) -> tuple[str, str, str, str, int]:
    """One seed's run: vanilla fine-tuning, Fine-tune-CoT with its interval, their paired test, CPU time and n."""
    results = {r.method: r for r in load_results(folder / "results.json")}
    ft = next(r for m, r in results.items() if m.startswith("Fine-tune-CoT"))
    vanilla = answers(folder, "ft_token")
    if vanilla is None:  # a run still under way: its vanilla student not yet scored
        paired, n = "–", ft.n
    else:
        n, ft_only, vanilla_only = discordant(str(answers(folder, ft.template)), str(vanilla))
        paired = f"{ft_only} vs {vanilla_only}, p = {mcnemar_p(ft_only, vanilla_only):.2g}"
    low, high = ft.ci95
    cpu, rss = cpu_seconds(folder / "time.txt") if (folder / "time.txt").exists() else (0.0, 0.0)
    vanilla_cell = f"{results['vanilla fine-tune'].accuracy:.2f}" if "vanilla fine-tune" in results else "–"
    return (vanilla_cell, f"**{ft.accuracy:.2f}** ({low:.1f}–{high:.1f})", paired,
            f"{cpu:,.0f} CPU-s, {rss:.1f} GB" if cpu else "under way", n)


def row(folders: list[Path]) -> str:
    """A task's row: the prompting rows from its first seed, the trained rows of every seed joined by `;`."""
    results = {r.method: r for r in load_results(folders[0] / "results.json")}
    ft = next(r for m, r in results.items() if m.startswith("Fine-tune-CoT"))
    prompting = [f"{results[m].accuracy:.2f}" if m in results else "–" for m in COLUMNS[:-1]]
    seeds = [seed_cells(folder) for folder in folders]
    trained = ["; ".join(cells) for cells in list(zip(*seeds))[:4]]
    paper = PAPER.get(ft.task, (None, None))
    return (f"| {ft.task} | {seeds[0][4]} | {ft.epochs:g} | " + " | ".join(prompting + trained[:3])
            + f" | {paper[0]} / {paper[1]} | {trained[3]} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder of task folders, e.g. benchmarks/results/ten-tasks")
    args = parser.parse_args()
    runs: dict[str, list[Path]] = {}
    for folder in sorted(p for p in args.root.iterdir() if (p / "results.json").exists()):
        runs.setdefault(folder.name.split("-seed")[0], []).append(folder)
    common.print_markdown_table(
        ["task", "n", "epochs", "teacher", "zero-shot", "Zero-shot-CoT", "Few-shot-CoT",
         "vanilla fine-tune (seeds 0; 1)", "**Fine-tune-CoT** (seeds 0; 1, 95% CI)",
         "only FT-CoT vs only vanilla right, paired p", "paper GPT-2 124M / Flan-T5 60M", "whole run"],
        [row(folders) for folders in runs.values()])


if __name__ == "__main__":
    main()
