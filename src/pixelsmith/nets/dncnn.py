"""DnCNN (Zhang et al. 2017): a plain conv stack that predicts the noise and subtracts it."""

from __future__ import annotations

import torch
from torch import nn

from pixelsmith.nets.contract import RestorationNet


class DnCNN(RestorationNet):
    """Residual denoiser: ``forward(y) = y - f(y)`` with ``depth`` 3x3 conv layers.

    ``batch_norm`` follows the paper; turn it off for tiny batches or exact multi-process
    equivalence (batch statistics differ between processes unless SyncBatchNorm is used).
    """

    def __init__(self, channels: int = 1, features: int = 64, depth: int = 17,
                 batch_norm: bool = True) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError("depth must be at least 2")
        self.channels = int(channels)
        layers: list[nn.Module] = [nn.Conv2d(channels, features, 3, padding=1), nn.ReLU(True)]
        for _ in range(depth - 2):
            layers.append(nn.Conv2d(features, features, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(features))
            layers.append(nn.ReLU(True))
        layers.append(nn.Conv2d(features, channels, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return y - self.body(y)
