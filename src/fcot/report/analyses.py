"""The paper's analyses as pictures: accuracy against D, training questions, student size, teacher, and teacher dollars.

Each picture has one panel per task and a line per method, with a band for the 95% interval (seeds pooled); a
method measured once per task (a prompting baseline, the teacher) is a dashed horizontal line. A picture is drawn
only when its quantity takes two or more values among the results (a sweep over it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from fcot.formats import save_figure
from fcot.report.results import Result
from fcot.stats import wilson_interval

TEACHER_METHOD = "teacher (Zero-shot-CoT)"  # the teacher's row in every results table
CALCULATOR_METHOD = " + calculator"  # ends the method of a student that decodes with a calculator
# one colour per method in every picture
METHOD_COLORS = {TEACHER_METHOD: "black", "Fine-tune-CoT": "C0", "Fine-tune-CoT (option text)": "C0",
                 "Fine-tune-CoT (natural)": "C9", "Fine-tune-CoT + self-training": "C4", "vanilla fine-tune": "C1",
                 "zero-shot": "C2", "zero-shot-CoT": "C3", "few-shot-CoT": "C5"}


def method_color(method: str) -> str:
    return "C6" if method.endswith(CALCULATOR_METHOD) else METHOD_COLORS.get(method, "C7")


@dataclass(frozen=True)
class Axis:
    name: str  # the picture's file stem
    label: str
    value: Callable[[Result], Any]  # None where a result does not have it
    log: bool = False
    categorical: bool = False


AXES = (
    Axis("diverse_reasoning", "D: teacher rationales per training question", lambda r: r.samples, log=True),
    Axis("dataset_size", "training questions", lambda r: r.train_questions, log=True),
    Axis("student_size", "student parameters", lambda r: r.params if r.role == "student" else None, log=True),
    Axis("teacher", "teacher", lambda r: r.teacher, categorical=True),
    Axis("teacher_cost", "teacher dollars for the training rationales", lambda r: r.teacher_usd, log=True),
)


def pooled(rows: list[Result]) -> tuple[float, tuple[float, float]]:
    """Accuracy and Wilson interval of rows measured at one value (e.g. seeds), their answers pooled."""
    n = sum(r.n for r in rows)
    accuracy = sum(r.accuracy * r.n for r in rows) / n if n else 0.0
    return accuracy, wilson_interval(accuracy, n)


def _measured_once(rows: list[Result]) -> bool:
    """Whether rows measure one thing (seeds aside): what a dashed reference line can stand for."""
    return len({(r.model, r.train_questions, r.samples, r.teacher) for r in rows}) == 1


def plot_analyses(results: list[Result], out_dir: Path) -> dict[str, Path]:
    """Draw each axis that varies among the results into `<out_dir>/<axis>.png`; the pictures drawn, by name."""
    drawn = {}
    for axis in AXES:
        values = {axis.value(r) for r in results} - {None}
        if len(values) >= 2:
            drawn[axis.name] = _plot_axis(results, axis, out_dir / f"{axis.name}.png")
    return drawn


def _plot_axis(results: list[Result], axis: Axis, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({r.task for r in results})
    fig, axes = plt.subplots(1, len(tasks), figsize=(max(7.5, 4.2 * len(tasks)), 3.8), squeeze=False)
    categories = sorted({str(axis.value(r)) for r in results} - {"None"})
    for ax, task in zip(axes[0], tasks):
        by_method: dict[str, dict[Any, list[Result]]] = defaultdict(lambda: defaultdict(list))
        for r in results:
            if r.task == task:
                by_method[r.method][axis.value(r)].append(r)
        for method, by_value in sorted(by_method.items()):
            color = method_color(method)
            measured = {v: rows for v, rows in by_value.items() if v is not None}
            if len(measured) >= 2:
                xs = sorted(measured, key=str if axis.categorical else float)
                stats = [pooled(measured[x]) for x in xs]
                pos = [categories.index(str(x)) for x in xs] if axis.categorical else xs
                ax.plot(pos, [s[0] for s in stats], "o-", color=color, label=method)
                ax.fill_between(pos, [s[1][0] for s in stats], [s[1][1] for s in stats], color=color, alpha=0.15)
            elif _measured_once(rows := [r for rows in by_value.values() for r in rows]):  # a reference line
                ax.axhline(pooled(rows)[0], ls="--", lw=1, color=color, label=method)
        if axis.log:
            ax.set_xscale("log")
        if axis.categorical:
            ax.set_xticks(range(len(categories)), categories, rotation=20, ha="right", fontsize=7)
        ax.set(title=task, xlabel=axis.label, ylabel="test accuracy (%)", ylim=(0, 105))
    handles = {h.get_label(): h for ax in axes[0] for h in ax.get_legend_handles_labels()[0]}
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncols=min(len(handles), 4), fontsize=8,
               frameon=False)
    fig.suptitle(f"Accuracy against {axis.label} (bands: 95% interval, seeds pooled; dashed: measured once)",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return save_figure(fig, path, dpi=110)
