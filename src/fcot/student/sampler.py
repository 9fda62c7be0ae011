"""Length-grouped batches that work on small data sets too: shuffle, sort within windows, shuffle the batches.

transformers' `LengthGroupedSampler` sorts within "megabatches" of `batch_size * min(n / (4 * batch_size), 50)`
samples, so on a few hundred curated samples it sorts within single batches and removes no padding at all.
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch.utils.data import Sampler


class LengthGroupedSampler(Sampler[int]):
    """Indices in batches of similar length; a new order each epoch (`set_epoch`), the longest batch first."""

    def __init__(self, lengths: list[int], batch_size: int, window: int = 16, seed: int = 0) -> None:
        self.lengths = lengths
        self.batch_size = batch_size
        self.window = window  # batches sorted together: more means less padding, less random batch composition
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        size = self.batch_size * self.window
        batches = []
        for start in range(0, len(order), size):
            chunk = sorted(order[start:start + size], key=lambda i: -self.lengths[i])
            batches += [chunk[k:k + self.batch_size] for k in range(0, len(chunk), self.batch_size)]
        last = batches.pop() if len(batches[-1]) < self.batch_size else None  # a short batch must stay last
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
        if batches:  # longest first, so a batch too large for memory fails at step 1
            longest = max(range(len(batches)), key=lambda b: self.lengths[batches[b][0]])
            batches.insert(0, batches.pop(longest))
        if last:
            batches.append(last)
        return iter([i for batch in batches for i in batch])


class LengthGroupingMixin:
    """Trainer mixin: `train_sampling_strategy="group_by_length"` uses fcot's `LengthGroupedSampler`."""

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.args.train_sampling_strategy != "group_by_length" or dataset is None:
            return super()._get_train_sampler(train_dataset)
        lengths = [len(ids) for ids in dataset["input_ids"]]
        if "labels" in dataset.column_names and getattr(self.model.config, "is_encoder_decoder", False):
            lengths = [n + len(labels) for n, labels in zip(lengths, dataset["labels"])]
        args = self.args  # the samples of one optimizer step are grouped, then cut into its micro-batches
        step = args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
        return LengthGroupedSampler(lengths, step, seed=args.seed)
