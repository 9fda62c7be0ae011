"""Which checkpoint becomes the student: the newest one, unless validation shows it clearly worse than the best.

At a few percent accuracy a hundred validation questions tell checkpoints apart only when they differ a lot; a bare
"most accurate" picks noise (7% on 43 questions after epoch 1 beat 0% after epoch 4, and the epoch-4 checkpoint
was the better one on the test split). So a checkpoint is dropped for an earlier one only when the exact McNemar
test over the same validation questions says it is worse (one-sided p < `ALPHA`). Otherwise the newer checkpoint
is kept: in the committed learning curves validation accuracy kept rising after validation loss turned up, so the
later checkpoint is the better tie-break (see benchmarks/results/selection/).

The rule needs only the best and the kept checkpoint so far: a new checkpoint is kept, or the kept one stays.
"""

from __future__ import annotations

from dataclasses import dataclass

from fcot.stats import mcnemar_p, wilson_interval

ALPHA = 0.05  # one-sided: how sure validation must be that a newer checkpoint is worse before an older one is kept


@dataclass(frozen=True)
class Point:
    """A checkpoint's validation answers: which held-out questions it got right, in a fixed order."""

    step: int
    epoch: float | None
    right: tuple[bool, ...]

    @property
    def correct(self) -> int:
        return sum(self.right)

    @property
    def accuracy(self) -> float:
        """Percent of the validation questions answered correctly."""
        return 100 * self.correct / len(self.right) if self.right else 0.0

    @property
    def ci95(self) -> tuple[float, float]:
        return wilson_interval(self.accuracy, len(self.right))

    @property
    def name(self) -> str:
        return f"epoch {self.epoch:g}" if self.epoch is not None and float(self.epoch).is_integer() else \
            f"step {self.step}"


def worse_p(best: Point, other: Point) -> float:
    """One-sided exact McNemar p-value of "other answers worse than best" over the same questions."""
    if len(best.right) != len(other.right):
        raise ValueError("checkpoints were validated on different questions")
    best_only = sum(b and not o for b, o in zip(best.right, other.right))
    other_only = sum(o and not b for b, o in zip(best.right, other.right))
    return mcnemar_p(best_only, other_only, one_sided=True)


@dataclass(frozen=True)
class Choice:
    kept: int  # index of the kept checkpoint among the points
    best: int  # index of the most accurate one (the newest of equals)
    reason: str


def choose(points: list[Point], alpha: float = ALPHA) -> Choice:
    """The checkpoint to keep among points in training order, and why."""
    if not points:
        raise ValueError("no validated checkpoint to choose from")
    kept = best = 0
    for i in range(1, len(points)):
        if points[i].correct >= points[best].correct:
            kept = best = i
        elif worse_p(points[best], points[i]) >= alpha:
            kept = i
    return Choice(kept, best, _reason(points, kept, best, alpha))


def _reason(points: list[Point], kept: int, best: int, alpha: float) -> str:
    k, b = points[kept], points[best]
    if kept != best:
        return (f"{k.name}: the newest checkpoint not clearly worse than the most accurate, {b.name} "
                f"({k.correct} vs {b.correct} of {len(k.right)} right, paired p = {worse_p(b, k):.2f} >= {alpha:g})")
    text = f"{k.name}: the most accurate ({k.correct} of {len(k.right)} right)"
    if kept < len(points) - 1:
        text += f"; later checkpoints answer clearly worse (paired p < {alpha:g})"
    return text
