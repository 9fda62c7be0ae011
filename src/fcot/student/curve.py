"""The learning curve of a run as a picture: training and validation loss, and validation accuracy, per epoch."""

from __future__ import annotations

import textwrap
from pathlib import Path

from fcot.formats import save_figure


def plot_learning_curve(metrics: dict, path: Path) -> Path:
    """Draw `train_metrics.json`'s curves into path; the checkpoint the final model came from is marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epoch_of = {h["step"]: h["epoch"] for h in metrics["losses"] if h.get("epoch") is not None}
    epoch_of.update({h["step"]: h["epoch"] for h in metrics["eval_accuracies"] if h.get("epoch") is not None})
    steps_per_epoch = max((s / e for s, e in epoch_of.items() if e), default=1.0)

    def epoch(step: int) -> float:
        return epoch_of.get(step, step / steps_per_epoch)

    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.4))
    loss_ax.plot([epoch(h["step"]) for h in metrics["losses"]], [h["loss"] for h in metrics["losses"]],
                 lw=0.8, label="training")
    if metrics["eval_losses"]:
        loss_ax.plot([epoch(h["step"]) for h in metrics["eval_losses"]],
                     [h["eval_loss"] for h in metrics["eval_losses"]], "o-", label="validation")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    loss_ax.legend(fontsize=8)
    curve = metrics["eval_accuracies"]
    if not curve:
        acc_ax.text(0.5, 0.5, "not measured: the checkpoint\nwas picked by validation loss", ha="center",
                    va="center", transform=acc_ax.transAxes)
    else:
        xs, ys = [epoch(h["step"]) for h in curve], [100 * h["eval_accuracy"] for h in curve]
        bands = [h.get("ci95") or (y, y) for h, y in zip(curve, ys)]  # runs before the intervals were recorded
        acc_ax.errorbar(xs, ys, yerr=[[y - lo for y, (lo, _) in zip(ys, bands)], [hi - y for y, (_, hi) in
                        zip(ys, bands)]], fmt="o-", capsize=3, label="accuracy, 95% interval")
        best = str(metrics.get("best_checkpoint") or "")
        kept = next((h for h in curve if best.endswith(f"checkpoint-{h['step']}")), None)
        if kept:
            acc_ax.plot(epoch(kept["step"]), 100 * kept["eval_accuracy"], "*", ms=14, label="kept checkpoint")
        acc_ax.legend(fontsize=8)
    n = curve[-1].get("n") if curve else None
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", ylim=(0, 105),
               title=f"Validation accuracy ({n or metrics.get('val_samples', '?')} questions)")
    if metrics.get("choice"):
        fig.text(0.5, 0.01, f"kept {textwrap.shorten(metrics['choice'], 150)}", ha="center", fontsize=7, wrap=True)
    fig.tight_layout(rect=(0, 0.06 if metrics.get("choice") else 0, 1, 1))
    return save_figure(fig, path, dpi=110)
