"""Do the explanations depend on the model? The model-randomisation test of Adebayo et al.
(2018): explain the same image with the trained network and with the same architecture
re-initialised at random; a method whose maps barely change is showing the image (an edge
detector would do as well), not the model. The Spearman rank correlation of the two maps of
|attribution| should be low; the same correlation against a plain Sobel edge map of the image
tells how much of a map an edge detector already gives.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn


def randomized(model: nn.Module, seed: int = 0) -> nn.Module:
    """A copy of ``model`` with every layer re-initialised (its ``reset_parameters``)."""
    clone = copy.deepcopy(model)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(int(seed))
    try:
        for module in clone.modules():
            if module is not clone and hasattr(module, "reset_parameters"):
                module.reset_parameters()
    finally:
        torch.random.set_rng_state(generator_state)
    return clone.eval()


def rank_correlation(a: np.ndarray, b: np.ndarray, support: bool = True) -> float:
    """Spearman correlation of |a| and |b| (flattened); with ``support``, only over the pixels
    where either is non-zero (a local map's many exact zeros would count as agreement)."""
    from scipy.stats import spearmanr

    a, b = np.abs(np.ravel(a)), np.abs(np.ravel(b))
    if support:
        keep = (a > 0) | (b > 0)
        a, b = a[keep], b[keep]
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)


def edge_map(x: torch.Tensor) -> np.ndarray:
    """Sobel gradient magnitude of the image (summed over channels), (H, W)."""
    from scipy.ndimage import sobel

    image = x.detach().double().cpu().numpy()[0].sum(axis=0)
    return np.hypot(sobel(image, axis=0), sobel(image, axis=1))


def radial_normalized(values: np.ndarray, centre: tuple[float, float]) -> np.ndarray:
    """|values| divided by their mean over the ring of equal (rounded) distance from
    ``centre`` (x, y): what is left once the fall-off with distance is taken out. Local
    attributions of any convolutional network, trained or random, fall off with distance from
    the explained pixel; comparing these residues compares what the weights add to that."""
    a = np.abs(np.asarray(values, dtype=np.float64))
    h, w = a.shape
    yy, xx = np.mgrid[0:h, 0:w]
    ring = np.rint(np.hypot(xx - centre[0], yy - centre[1])).astype(int)
    sums = np.bincount(ring.ravel(), weights=a.ravel())
    counts = np.bincount(ring.ravel())
    mean = sums / np.maximum(counts, 1)
    scale = mean[ring]
    return np.where(scale > 0, a / np.where(scale > 0, scale, 1.0), 0.0)
