"""Render results as a Markdown table and two plots: accuracy per method, and accuracy against cost."""

from __future__ import annotations

from pathlib import Path

from fcot.formats import write_atomic
from fcot.report.results import Result

COLUMNS = ["task", "method", "model", "params", "n", "acc %", "95% CI", "s/answer", "$/1k answers"]


def fmt_params(params: int | None) -> str:
    """125000000 -> '125M'."""
    if not params:
        return "—"
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if params >= size:
            return f"{params / size:.3g}{unit}"
    return str(params)


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def table_rows(results: list[Result]) -> list[list[str]]:
    """One row of display strings per result, teacher first within each task."""
    ordered = sorted(results, key=lambda r: (r.task, r.role != "teacher", r.method, r.model))
    return [
        [
            r.task,
            r.method,
            r.model,
            fmt_params(r.params),
            str(r.n),
            f"{r.accuracy:.2f}",
            f"{r.ci95[0]:.1f}–{r.ci95[1]:.1f}",
            _fmt(r.s_per_answer, ".3f"),
            _fmt(r.usd_per_1k_answers, ".4f"),
        ]
        for r in ordered
    ]


def result_notes(results: list[Result]) -> list[str]:
    """The distinct notes attached to results (how a figure was obtained)."""
    return sorted({r.note for r in results if r.note})


def markdown_table(results: list[Result]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(results)]
    return "\n".join(lines) + "\n"


def plot_accuracy(results: list[Result], path: Path) -> Path:
    """Grouped bars: accuracy per task, one bar per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({r.task for r in results})
    methods = sorted({r.method for r in results}, key=lambda m: (not m.startswith("teacher"), m))
    width = 0.8 / max(len(methods), 1)
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(tasks) + 2), 3.6))
    for i, method in enumerate(methods):
        xs, ys, errs = [], [], [[], []]
        for t, task in enumerate(tasks):
            hits = [r for r in results if r.task == task and r.method == method]
            if hits:
                best = max(hits, key=lambda r: r.accuracy)
                xs.append(t + (i - (len(methods) - 1) / 2) * width)
                ys.append(best.accuracy)
                errs[0].append(best.accuracy - best.ci95[0])
                errs[1].append(best.ci95[1] - best.accuracy)
        bars = ax.bar(xs, ys, width, label=method, yerr=errs, error_kw={"elinewidth": 0.8, "capsize": 2})
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 125)  # headroom for the legend
    ax.set_yticks(range(0, 101, 20))
    ax.legend(fontsize=7, loc="upper right", ncols=2)
    ax.set_title("Fine-tune-CoT: student vs teacher and baselines (bars: 95% Wilson interval)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_cost(results: list[Result], path: Path) -> Path:
    """Accuracy against dollars per 1,000 answers (log scale), one point per model and method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    priced = [r for r in results if r.usd_per_1k_answers]
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for r in priced:
        marker = "s" if r.role == "teacher" else "o"
        ax.scatter(r.usd_per_1k_answers, r.accuracy, marker=marker, s=40)
        label = f"{r.task}: {r.method}\n{r.model} ({fmt_params(r.params)})"
        ax.annotate(label, (r.usd_per_1k_answers, r.accuracy), fontsize=6, xytext=(4, 2), textcoords="offset points")
    if priced:
        costs = [r.usd_per_1k_answers for r in priced]
        ax.set_xscale("log")
        ax.set_xlim(min(costs) / 3, max(costs) * 30)  # room for the labels on the right
    ax.set_xlabel("$ per 1,000 answers (log)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 105)
    ax.set_title("Accuracy against the cost of answering", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def render_report(results: list[Result], out_dir: str | Path) -> dict[str, Path]:
    """Write `summary.md`, `accuracy.png` and `cost.png` into out_dir; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = "# fcot results\n\n" + markdown_table(results)
    notes = result_notes(results)
    if notes:
        text += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    return {
        "summary": write_atomic(out / "summary.md", text),
        "accuracy": plot_accuracy(results, out / "accuracy.png"),
        "cost": plot_cost(results, out / "cost.png"),
    }
