"""Speed of a DnCNN-sized network on the same images and machine, as a yardstick for a row.

The published CNNs are measured on GPUs; what a speed target needs is their cost on *this* CPU
in *this* run. Speed does not depend on the weights, so the network has random ones: DnCNN's
published sizes (Zhang et al. 2017), 64 features, 17 layers for gray denoising and 20 for
colour (CDnCNN-B) and for the blind de-JPEG model (DnCNN-3), batch norm folded away as at
inference. Each image is timed in both memory layouts and the faster counts, so the
yardstick is the best this CPU gives such a network, not a slow path.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from pixelsmith.io import list_images, read_image
from pixelsmith.nets.dncnn import DnCNN

#: DnCNN's depth per (task, channels) in the paper
DEPTH = {("denoise", 1): 17, ("denoise", 3): 20, ("dejpeg", 1): 20, ("dejpeg", 3): 20}


def dncnn_sized(task: str, channels: int) -> torch.nn.Module:
    """The DnCNN of the paper's size for ``task`` with random weights (seed 0), eval mode."""
    torch.manual_seed(0)
    return DnCNN(channels, features=64, depth=DEPTH[(task, channels)], batch_norm=False).eval()


def seconds_of(net: torch.nn.Module, x: torch.Tensor) -> float:
    """The faster of one contiguous and one channels_last pass (after one warm-up each)."""
    best = float("inf")
    for layout in (torch.contiguous_format, torch.channels_last):
        net.to(memory_format=layout)
        y = x.contiguous(memory_format=layout)
        with torch.inference_mode():
            net(y)
            start = time.perf_counter()
            net(y)
            best = min(best, time.perf_counter() - start)
    return best


def dncnn_megapixels_per_second(folder: Path, task: str, channels: int,
                                limit: int | None = None) -> float:
    """Median over the images of ``folder`` of a DnCNN-sized network's MP/s."""
    net = dncnn_sized(task, channels)
    rates = []
    for path in list_images(folder)[:limit]:
        x = read_image(path, gray=channels == 1)
        rates.append(x.shape[-2] * x.shape[-1] / 1e6 / seconds_of(net, x))
    return float(np.median(rates))
