"""fcot's length-grouped sampler: every sample once per epoch, little padding, a fresh order each epoch."""

from __future__ import annotations

import random

from fcot.student.sampler import LengthGroupedSampler


def _batches(indices: list[int], size: int) -> list[list[int]]:
    return [indices[k:k + size] for k in range(0, len(indices), size)]


def _padding_ratio(batches: list[list[int]], lengths: list[int]) -> float:
    return sum(max(lengths[i] for i in b) * len(b) for b in batches) / sum(lengths)


def test_groups_lengths_even_on_small_data():
    rng = random.Random(0)
    lengths = [rng.randint(70, 205) for _ in range(190)]  # a few hundred curated samples, like MultiArith
    sampler = LengthGroupedSampler(lengths, batch_size=32, seed=0)
    orders = []
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        indices = list(sampler)
        assert sorted(indices) == list(range(190))
        batches = _batches(indices, 32)
        assert _padding_ratio(batches, lengths) < 1.1
        assert max(lengths[i] for i in batches[0]) == max(lengths)  # longest batch first: OOM shows at step 1
        assert len(batches[-1]) == 190 % 32  # the short batch stays last, so batches stay aligned
        orders.append(indices)
    assert orders[0] != orders[1]
    sampler.set_epoch(0)
    assert list(sampler) == orders[0]  # an epoch's order is reproducible (resume skips into it)
    shuffled = list(range(190))
    random.Random(1).shuffle(shuffled)
    assert _padding_ratio(_batches(shuffled, 32), lengths) > 1.3  # what plain random batches waste
