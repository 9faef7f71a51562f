"""Reproducible randomness for data loading, independent of workers and scheduling.

Every random item draws from its own generator, seeded from (base seed, epoch, index) through
``numpy.random.SeedSequence``. An item therefore depends only on those three numbers, never on
which DataLoader worker computes it, in which order, or how many workers there are.

:func:`worker_init_fn` additionally seeds Python's ``random``, numpy's global RNG and torch's
global RNG in each worker (from the per-worker seed the DataLoader hands out), so that any
third-party code that uses global randomness is at least reproducible for a fixed
``num_workers`` and DataLoader generator.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def item_seed(seed: int, epoch: int, index: int) -> int:
    """A 64-bit seed mixed from (seed, epoch, index) by SeedSequence (well spread, no overlap)."""
    entropy = [int(seed) & 0xFFFFFFFFFFFFFFFF, int(epoch), int(index)]
    if entropy[1] < 0 or entropy[2] < 0:
        raise ValueError(f"epoch and index must be >= 0, got epoch={epoch} index={index}")
    state = np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)
    return int(state[0])


def item_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded by :func:`item_seed` for one item of one epoch."""
    gen = torch.Generator()
    gen.manual_seed(item_seed(seed, epoch, index))
    return gen


def seed_all(seed: int) -> None:
    """Seed Python's ``random``, numpy's global RNG and torch's global RNG with ``seed``."""
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def worker_init_fn(worker_id: int) -> None:
    """``DataLoader(worker_init_fn=...)``: seed the global RNGs of each worker.

    The DataLoader gives each worker the seed ``base_seed + worker_id`` (``base_seed`` drawn
    from the loader's generator); torch's global RNG already uses it, and here Python's and
    numpy's get it too, so workers do not share numpy state copied by ``fork``. pixelsmith's
    own datasets do not need this: their items use :func:`item_generator`.
    """
    info = torch.utils.data.get_worker_info()
    seed = info.seed if info is not None else torch.initial_seed() + worker_id
    seed_all(seed)
