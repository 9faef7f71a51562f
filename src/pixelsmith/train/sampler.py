"""Epoch orders that are reproducible, resumable mid-epoch, and sharded across processes.

The order of epoch ``e`` is a permutation drawn from (seed, e). Each global batch of
``batch_size`` indices is cut into equal contiguous shares, one per process, so that N
processes together see exactly the batches one process would see: the basis of the
multi-process equivalence test and of exact resume.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch


class EpochBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Yields this process's share of each global batch of an epoch (the last partial one dropped).

    ``start_batch`` skips the first batches of the epoch without touching the data, which is how
    a resumed run continues exactly where a checkpoint was taken.
    """

    def __init__(self, length: int, batch_size: int, seed: int, rank: int = 0,
                 world_size: int = 1) -> None:
        if batch_size % world_size:
            raise ValueError(f"batch size {batch_size} is not divisible by {world_size} processes")
        if length < batch_size:
            raise ValueError(f"only {length} samples for a batch of {batch_size}")
        self.length, self.batch_size, self.seed = length, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def __len__(self) -> int:
        return self.length // self.batch_size - self.start_batch

    def order(self) -> np.ndarray:
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, self.epoch])))
        return rng.permutation(self.length)

    def __iter__(self) -> Iterator[list[int]]:
        order = self.order()
        share = self.batch_size // self.world_size
        for b in range(self.start_batch, self.length // self.batch_size):
            first = b * self.batch_size + self.rank * share
            yield order[first:first + share].tolist()
