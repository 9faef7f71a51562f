"""Seeded train/validation splits and seeding helpers."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from pixelsmith.data import (
    Subset,
    item_generator,
    item_seed,
    seed_all,
    split_indices,
    train_val_split,
    worker_init_fn,
)


@pytest.mark.parametrize("n, kwargs, expected_val", [
    (100, {"val_fraction": 0.1}, 10),
    (7, {"val_fraction": 0.01}, 1),
    (2, {"val_fraction": 0.9}, 1),
    (50, {"val_count": 13}, 13),
    (5, {"val_count": 0}, 0),
    (0, {"val_fraction": 0.2}, 0),
])
def test_split_is_disjoint_covering_and_sized(n: int, kwargs: dict, expected_val: int) -> None:
    train, val = split_indices(n, seed=3, **kwargs)
    assert len(val) == expected_val
    assert set(train).isdisjoint(val)
    assert sorted(train + val) == list(range(n))
    assert train == sorted(train) and val == sorted(val)


def test_split_depends_only_on_the_seed() -> None:
    first = split_indices(1000, val_fraction=0.2, seed=7)
    np.random.seed(123)
    torch.manual_seed(5)
    assert split_indices(1000, val_fraction=0.2, seed=7) == first
    assert split_indices(1000, val_fraction=0.2, seed=8) != first


def test_split_argument_errors() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        split_indices(10)
    with pytest.raises(ValueError, match="exactly one"):
        split_indices(10, val_fraction=0.1, val_count=1)
    with pytest.raises(ValueError):
        split_indices(10, val_fraction=1.0)
    with pytest.raises(ValueError):
        split_indices(10, val_count=11)


def test_stratified_split_keeps_class_shares() -> None:
    labels = [0] * 60 + [1] * 30 + [2] * 10
    train, val = split_indices(100, val_fraction=0.2, seed=1, labels=labels)
    counts = np.bincount(np.asarray(labels)[val], minlength=3)
    assert counts.tolist() == [12, 6, 2]
    assert sorted(train + val) == list(range(100))


class _Epochs(torch.utils.data.Dataset):
    def __init__(self) -> None:
        self.epoch = 0

    def __len__(self) -> int:
        return 10

    def __getitem__(self, index: int) -> int:
        return index

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


def test_train_val_split_subsets_forward_set_epoch() -> None:
    data = _Epochs()
    train, val = train_val_split(data, val_count=3, seed=0)
    assert isinstance(train, Subset) and len(train) == 7 and len(val) == 3
    assert sorted([train[i] for i in range(7)] + [val[i] for i in range(3)]) == list(range(10))
    train.set_epoch(4)
    assert data.epoch == 4


def test_item_seeds_are_distinct_and_stable() -> None:
    seeds = {item_seed(0, e, i) for e in range(3) for i in range(100)}
    assert len(seeds) == 300
    assert item_seed(5, 1, 2) == item_seed(5, 1, 2)
    a = torch.rand(4, generator=item_generator(1, 2, 3))
    b = torch.rand(4, generator=item_generator(1, 2, 3))
    assert torch.equal(a, b)


def test_seed_all_seeds_every_global_rng() -> None:
    seed_all(9)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_all(9)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


class _NumpyDraw(torch.utils.data.Dataset):
    """Uses numpy's global RNG, like third-party augmentation code does."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> float:
        return float(np.random.rand())


def test_worker_init_fn_gives_workers_distinct_reproducible_numpy_state() -> None:
    def run() -> list[float]:
        loader = torch.utils.data.DataLoader(
            _NumpyDraw(), batch_size=1, num_workers=2, worker_init_fn=worker_init_fn,
            generator=torch.Generator().manual_seed(0),
        )
        return [float(v) for v in loader]

    first = run()
    assert first == run()
    assert first[0] != first[1]  # items 0 and 1 come from different workers
