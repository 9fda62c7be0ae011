"""The two statistics fcot reports with accuracies: the Wilson interval and the exact McNemar test."""

from __future__ import annotations

import math


def wilson_interval(accuracy: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval, in percent, of an accuracy (percent) measured on n questions."""
    if n <= 0:
        return (0.0, 100.0)
    p = accuracy / 100
    scale = 1 + z * z / n
    center = (p + z * z / (2 * n)) / scale
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / scale
    return (round(100 * max(0.0, center - half), 2), round(100 * min(1.0, center + half), 2))


def mcnemar_p(a_only: int, b_only: int, one_sided: bool = False) -> float:
    """Exact McNemar p-value of two models answering the same questions, from the discordant counts: the questions
    only A gets right and those only B gets right. `one_sided`: the p-value of "A is better" alone."""
    n = a_only + b_only
    if one_sided:
        return sum(math.comb(n, i) for i in range(a_only, n + 1)) / 2**n
    tail = sum(math.comb(n, i) for i in range(min(a_only, b_only) + 1)) / 2**n
    return min(1.0, 2 * tail)
