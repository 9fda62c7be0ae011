"""Which checkpoint is kept: the newest, unless its validation answers are clearly worse than the best's."""

from __future__ import annotations

import random

import pytest

from fcot.stats import mcnemar_p, wilson_interval
from fcot.student.choose import Point, choose, worse_p


def point(step: int, right: set[int], n: int = 100) -> Point:
    return Point(step, float(step), tuple(i in right for i in range(n)))


def test_exact_mcnemar_values():
    assert mcnemar_p(3, 0, one_sided=True) == 1 / 8 and mcnemar_p(0, 3, one_sided=True) == 1.0
    assert mcnemar_p(3, 0) == 1 / 4 and mcnemar_p(0, 0) == 1.0
    assert mcnemar_p(10, 2) == pytest.approx(2 * 79 / 4096)  # 1 + 12 + 66 of the 2^12 ways
    assert mcnemar_p(2, 10, one_sided=True) == pytest.approx(1 - 79 / 4096 + 66 / 4096)  # P(X >= 2), X ~ B(12, 1/2)


def test_a_few_questions_cannot_make_an_early_checkpoint_win():
    # the case that motivated the rule: 3 of 43 right after epoch 1, 0 of 43 after epochs 2-4
    points = [point(1, {0, 1, 2}, 43), point(2, set(), 43), point(3, set(), 43), point(4, set(), 43)]
    choice = choose(points)
    assert (choice.kept, choice.best) == (3, 0)
    assert choice.reason == ("epoch 4: the newest checkpoint not clearly worse than the most accurate, epoch 1 "
                             "(0 vs 3 of 43 right, paired p = 0.12 >= 0.05)")


def test_a_clearly_worse_newer_checkpoint_is_dropped():
    points = [point(1, set(range(10))), point(2, set(range(30))), point(3, set(range(10)))]
    assert worse_p(points[1], points[2]) == pytest.approx(0.5 ** 20)
    choice = choose(points)
    assert (choice.kept, choice.best) == (1, 1)
    assert choice.reason == ("epoch 2: the most accurate (30 of 100 right); later checkpoints answer clearly worse "
                             "(paired p < 0.05)")
    assert choose([*points, point(4, set(range(31)))]).kept == 3  # a newer, better one takes over again


def test_equal_accuracy_keeps_the_newer_checkpoint():
    assert choose([point(5, {1, 2}), point(10, {3, 4})]) .kept == 1
    assert choose([point(5, {1, 2})]).reason == "epoch 5: the most accurate (2 of 100 right)"
    assert point(7, set(), 10).name == "epoch 7" and Point(7, 0.5, ()).name == "step 7"


def test_each_choice_is_the_newest_checkpoint_or_the_one_kept_before():
    """What lets training keep only two checkpoints: the last and the one chosen so far."""
    rng = random.Random(0)
    for _ in range(200):
        rates = [rng.random() * 0.5 for _ in range(rng.randint(2, 8))]
        points = [point(i, {q for q in range(60) if rng.random() < rate}, 60) for i, rate in enumerate(rates)]
        for k in range(2, len(points) + 1):
            assert choose(points[:k]).kept in (k - 1, choose(points[:k - 1]).kept)


def test_points_carry_their_interval():
    p = point(1, set(range(30)))
    assert (p.correct, p.accuracy, p.ci95) == (30, 30.0, wilson_interval(30.0, 100))
    with pytest.raises(ValueError, match="different questions"):
        worse_p(p, point(2, set(), 50))
