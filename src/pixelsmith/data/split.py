"""Seeded train/validation splits: deterministic, disjoint, covering.

The split depends only on (n, the validation size, seed[, labels]), never on the global RNG,
so a run and its resumption, or two machines, hold out the same items.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch.utils.data import Dataset
from torch.utils.data import Subset as _TorchSubset


def _val_size(n: int, val_fraction: float | None, val_count: int | None) -> int:
    if (val_fraction is None) == (val_count is None):
        raise ValueError("give exactly one of val_fraction and val_count")
    if val_count is not None:
        if isinstance(val_count, bool) or int(val_count) != val_count or not 0 <= val_count <= n:
            raise ValueError(f"val_count must be an integer in 0..{n}, got {val_count}")
        return int(val_count)
    fraction = float(val_fraction)  # type: ignore[arg-type]
    if not 0 <= fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    count = round(fraction * n)
    if fraction > 0 and n >= 2:
        count = min(max(count, 1), n - 1)  # a nonzero fraction keeps both sides non-empty
    return count


def split_indices(
    n: int,
    *,
    val_fraction: float | None = None,
    val_count: int | None = None,
    seed: int = 0,
    labels: Sequence[int] | None = None,
) -> tuple[list[int], list[int]]:
    """(train indices, validation indices) of ``range(n)``, both sorted.

    Give ``val_fraction`` (rounded; at least 1 and at most n - 1 items when it is nonzero and
    n >= 2) or ``val_count``. With ``labels``, the split is stratified: each class gives its
    share (largest remainders decide the rounding), so class balance is kept.
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    count = _val_size(n, val_fraction, val_count)
    rng = np.random.default_rng(np.random.SeedSequence(int(seed) & 0xFFFFFFFFFFFFFFFF))
    if labels is None:
        chosen = rng.permutation(n)[:count]
    else:
        chosen = _stratified(np.asarray(labels), n, count, rng)
    is_val = np.zeros(n, dtype=bool)
    is_val[chosen] = True
    return np.flatnonzero(~is_val).tolist(), np.flatnonzero(is_val).tolist()


def _stratified(labels: np.ndarray, n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    if labels.shape != (n,):
        raise ValueError(f"labels must have one entry per item ({n}), got shape {labels.shape}")
    classes, inverse = np.unique(labels, return_inverse=True)
    sizes = np.bincount(inverse, minlength=len(classes))
    quota = sizes * count / max(n, 1)
    take = np.floor(quota).astype(int)
    remainder = count - int(take.sum())
    if remainder:
        order = np.lexsort((np.arange(len(classes)), -(quota - take)))  # ties: lower class first
        take[order[:remainder]] += 1
    picks = [rng.permutation(np.flatnonzero(inverse == c))[:take[c]] for c in range(len(classes))]
    return np.concatenate(picks) if picks else np.zeros(0, dtype=int)


class Subset(_TorchSubset):
    """``torch.utils.data.Subset`` that passes :meth:`set_epoch` on to its dataset."""

    def set_epoch(self, epoch: int) -> None:
        """Forward to the wrapped dataset when it randomises per epoch."""
        setter = getattr(self.dataset, "set_epoch", None)
        if setter is not None:
            setter(epoch)


def train_val_split(
    dataset: Dataset, *, val_fraction: float | None = None, val_count: int | None = None,
    seed: int = 0, labels: Sequence[int] | None = None,
) -> tuple[Subset, Subset]:
    """Split ``dataset`` into (train, validation) :class:`Subset` s with :func:`split_indices`."""
    train, val = split_indices(len(dataset), val_fraction=val_fraction,  # type: ignore[arg-type]
                               val_count=val_count, seed=seed, labels=labels)
    return Subset(dataset, train), Subset(dataset, val)
