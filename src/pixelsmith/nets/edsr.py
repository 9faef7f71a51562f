"""A compact EDSR-style super-resolution network (Lim et al. 2017) with sub-pixel upsampling.

Residual blocks without batch norm run at the low resolution; one convolution then predicts
``scale**2`` sub-pixel phases per channel that ``PixelShuffle`` rearranges into the high
resolution image (ESPCN's efficient upsampler, cheaper than EDSR's conv-per-stage one). The
network predicts a residual over the bicubic upscale of its input, so an untrained network is
already bicubic interpolation and short training budgets go into detail, not colour.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from pixelsmith.nets.contract import RestorationNet


class ScaledResBlock(nn.Module):
    """conv-ReLU-conv, scaled by ``res_scale`` (EDSR's stabiliser for wide nets), plus input."""

    def __init__(self, features: int, res_scale: float = 1.0) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(features, features, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(features, features, 3, padding=1),
        )
        self.res_scale = float(res_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.body(x)


class EDSR(RestorationNet):
    """``forward(y)`` -> ``y`` upscaled ``scale`` times; blind (no conditioning input).

    - ``channels``: image channels (3 colour; 1 gray).
    - ``scale``: the fixed upscaling factor the network is trained for (2, 3, 4, ...).
    - ``features`` / ``blocks``: width and number of residual blocks (EDSR-baseline: 64/16).
    - ``res_scale``: residual scaling inside blocks (0.1 for very wide nets, else 1).
    """

    def __init__(self, channels: int = 3, scale: int = 4, features: int = 32, blocks: int = 8,
                 res_scale: float = 1.0) -> None:
        super().__init__()
        if int(scale) < 1:
            raise ValueError(f"scale must be a positive integer, got {scale}")
        self.channels, self.scale = int(channels), int(scale)
        self.head = nn.Conv2d(self.channels, features, 3, padding=1)
        self.body = nn.Sequential(*[ScaledResBlock(features, res_scale) for _ in range(blocks)],
                                  nn.Conv2d(features, features, 3, padding=1))
        self.upsample = nn.Sequential(
            nn.Conv2d(features, self.channels * self.scale**2, 3, padding=1),
            nn.PixelShuffle(self.scale),
        )
        nn.init.zeros_(self.upsample[0].weight)  # start as bicubic interpolation
        nn.init.zeros_(self.upsample[0].bias)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        features = self.head(y)
        detail = self.upsample(features + self.body(features))
        base = F.interpolate(y, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return base + detail
