"""Do the explanations depend on the model? The model-randomisation test of Adebayo et al.
(2018): explain the same image with the trained network and with the same architecture
re-initialised at random; a method whose maps barely change is showing the image (an edge
detector would do as well), not the model. The Spearman rank correlation of the two maps,
signed and of |attribution| (the paper reports both), should be low; the same correlation
against a plain Sobel edge map of the image tells how much of a map an edge detector already
gives. :func:`cascading` re-initialises the layers one by one from the output down, the
paper's cascading randomisation.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

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


def _reset(module: nn.Module) -> None:
    for part in module.modules():
        if hasattr(part, "reset_parameters"):
            part.reset_parameters()


def cascading(subject, stops: int | None = None) -> Iterator[tuple[int, int, object]]:
    """Adebayo et al.'s cascading randomisation: re-initialise the layers with weights one at a
    time from the output towards the input (in the order the forward pass runs them, reversed)
    and yield ``(randomised, layers, subject)`` after each, ``subject`` bound to one copy of the
    network that the next step randomises further (read it before asking for the next). With
    ``stops``, yield only after about that many evenly spaced steps (the last: all layers)."""
    from pixelsmith.explain.subject import rebind

    order: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda mod, _i, _o: order.append(mod))
             for m in subject.model.modules()
             if not list(m.children()) and any(True for _ in m.parameters(recurse=False))]
    try:
        subject.output()
    finally:
        for hook in hooks:
            hook.remove()
    names = {id(m): i for i, m in enumerate(subject.model.modules())}
    seen, layers = set(), []
    for module in order:  # first call decides the position; shared modules count once
        if id(module) not in seen:
            seen.add(id(module))
            layers.append(names[id(module)])
    clone = copy.deepcopy(subject.model).eval()
    modules = list(clone.modules())
    count = len(layers)
    wanted = set(range(1, count + 1)) if not stops else {
        max(1, round(count * (k + 1) / stops)) for k in range(stops)}
    outer = torch.random.get_rng_state()  # the caller's generator, left as it finds it
    try:
        torch.manual_seed(0)
        for done, index in enumerate(reversed(layers), 1):
            _reset(modules[index])
            if done in wanted:
                inner = torch.random.get_rng_state()
                torch.random.set_rng_state(outer)
                yield done, count, rebind(subject, clone)
                outer = torch.random.get_rng_state()
                torch.random.set_rng_state(inner)
    finally:
        torch.random.set_rng_state(outer)


def rank_correlation(a: np.ndarray, b: np.ndarray, support: bool = True,
                     absolute: bool = True) -> float:
    """Spearman correlation of |a| and |b| (flattened; of a and b with ``absolute=False``);
    with ``support``, only over the pixels where either is non-zero (a local map's many exact
    zeros would count as agreement)."""
    from scipy.stats import spearmanr

    a, b = np.ravel(a), np.ravel(b)
    if absolute:
        a, b = np.abs(a), np.abs(b)
    if support:
        keep = (a != 0) | (b != 0)
        a, b = a[keep], b[keep]
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)


def edge_map(x: torch.Tensor) -> np.ndarray:
    """Sobel gradient magnitude of the image (summed over channels), (H, W)."""
    from scipy.ndimage import sobel

    image = x.detach().double().cpu().numpy()[0].sum(axis=0)
    return np.hypot(sobel(image, axis=0), sobel(image, axis=1))


def distances(shape: tuple[int, int], centre: tuple[float, float]) -> np.ndarray:
    """(H, W) distance of every pixel from ``centre`` (x, y)."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    return np.hypot(xx - centre[0], yy - centre[1])


def radial_normalized(values: np.ndarray, centre: tuple[float, float]) -> np.ndarray:
    """|values| divided by their mean over the ring of equal (rounded) distance from
    ``centre`` (x, y): what is left once the fall-off with distance is taken out. Local
    attributions of any convolutional network, trained or random, fall off with distance from
    the explained pixel; comparing these residues compares what the weights add to that."""
    a = np.abs(np.asarray(values, dtype=np.float64))
    ring = np.rint(distances(a.shape, centre)).astype(int)
    sums = np.bincount(ring.ravel(), weights=a.ravel())
    counts = np.bincount(ring.ravel())
    mean = sums / np.maximum(counts, 1)
    scale = mean[ring]
    return np.where(scale > 0, a / np.where(scale > 0, scale, 1.0), 0.0)
