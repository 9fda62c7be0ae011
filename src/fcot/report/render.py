"""Render results as a Markdown table and two plots: accuracy per method, and accuracy against cost."""

from __future__ import annotations

from pathlib import Path

from fcot.formats import save_figure, write_atomic
from fcot.report.analyses import method_color, plot_analyses
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
            f"{r.method} [{point_label(r)}]" if r.point else r.method,
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


def time_split(results: list[Result], total_s: float) -> str:
    """Where a run's time went: training and answering per method, and the rest (teacher, curation, loading)."""
    train: dict[str, float] = {}
    answer: dict[str, float] = {}
    for r in results:
        if r.train_wall_s:
            train[r.method] = train.get(r.method, 0.0) + r.train_wall_s
        if r.role == "student" and r.wall_s:
            answer[r.method] = answer.get(r.method, 0.0) + r.wall_s

    def part(name: str, seconds: dict[str, float]) -> str:
        each = ", ".join(f"{method} {s:,.0f}" for method, s in seconds.items())
        return f"{name} {sum(seconds.values()):,.0f} s ({each})" if seconds else ""

    measured = sum(train.values()) + sum(answer.values())
    rest = (f"the rest {total_s - measured:,.0f} s (teacher, curation, loading)" if total_s >= measured
            else "stages finished by an earlier invocation included")
    return "time: " + "; ".join(p for p in (part("training", train), part("answering", answer), rest) if p)


def plot_accuracy(results: list[Result], path: Path) -> Path:
    """Grouped bars: accuracy per task, one bar per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({r.task for r in results})
    labels = dict.fromkeys(point_label(r) for r in sorted(results, key=_point_order))  # in the order of their values
    order = {label: i for i, label in enumerate(labels)}
    series = sorted({(r.method, point_label(r)) for r in results},
                    key=lambda s: (not s[0].startswith("teacher"), s[0], order[s[1]]))
    width = 0.8 / max(len(series), 1)
    hatches = {label: ["", "//", "..", "xx", "--", "oo", "++"][i % 7] for label, i in order.items()}
    many = len(series) > 6  # the legend goes below the bars
    fig, ax = plt.subplots(figsize=(max(5, (0.25 * len(series) + 0.6) * len(tasks) + 2),
                                    3.6 + (0.18 * len(series) / 3 if many else 0)))
    for i, (method, point) in enumerate(series):
        xs, ys, errs = [], [], [[], []]
        for t, task in enumerate(tasks):
            hits = [r for r in results if r.task == task and r.method == method and point_label(r) == point]
            if hits:
                best = max(hits, key=lambda r: r.accuracy)
                xs.append(t + (i - (len(series) - 1) / 2) * width)
                ys.append(best.accuracy)
                errs[0].append(best.accuracy - best.ci95[0])
                errs[1].append(best.ci95[1] - best.accuracy)
        bars = ax.bar(xs, ys, width, label=f"{method} {point}".strip(), yerr=errs, color=method_color(method),
                      hatch=hatches[point], edgecolor="white", error_kw={"elinewidth": 0.8, "capsize": 2})
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 105 if many else 125)  # headroom for a legend inside
    ax.set_yticks(range(0, 101, 20))
    if many:
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=3, frameon=False)
    else:
        ax.legend(fontsize=7, loc="upper right", ncols=2)
    ax.set_title("Fine-tune-CoT: student vs teacher and baselines (bars: 95% Wilson interval)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)


def _point_order(result: Result) -> tuple:
    """Sweep points in the order of their values, numbers by size, `null` (all) last."""
    return tuple((2, "") if v is None else (0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v))
                 for v in result.point.values())


def point_label(result: Result) -> str:
    """A sweep point's values in a few characters, e.g. `max_questions=8 seed=0` ('' outside sweeps)."""
    return " ".join(f"{axis.split('.')[-1]}={'all' if value is None else value}"
                    for axis, value in result.point.items())


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
    return save_figure(fig, path, dpi=120)


def render_report(results: list[Result], out_dir: str | Path) -> dict[str, Path]:
    """Write `summary.md`, `accuracy.png` and `cost.png` into out_dir; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pictures = {"accuracy": plot_accuracy(results, out / "accuracy.png"), "cost": plot_cost(results, out / "cost.png"),
                **plot_analyses(results, out)}
    text = "# fcot results\n\n" + markdown_table(results)
    notes = result_notes(results)
    if notes:
        text += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    text += "".join(f"\n![{name}]({path.name})\n" for name, path in pictures.items())
    return {"summary": write_atomic(out / "summary.md", text), **pictures}
