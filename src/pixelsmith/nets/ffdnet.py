"""An FFDNet-style denoiser (Zhang et al. 2018): a plain conv stack at quarter resolution.

The image is split into four half-size sub-images (pixel unshuffle), processed together with the
level channel by a DnCNN-like stack, and shuffled back. Working on a quarter of the pixels lets
a wider, deeper stack run at the cost of a much smaller full-resolution one. Unlike the paper,
the stack predicts a residual added to the input (its last layer starts at zero, so training
starts from the identity) and has no batch normalisation.
"""

from __future__ import annotations

import torch
from torch import nn

from pixelsmith.nets.contract import RestorationNet
from pixelsmith.nets.level_input import append_level, reflect_padder


class FFDNet(RestorationNet):
    """``forward(y, level)`` -> restored image; ``level`` is (N,) in [0, 1] or None (blind).

    - ``channels``: image channels (1 gray, 3 colour).
    - ``features``: width of the stack; ``depth``: its conv layers (at least 2).
    - ``conditioning``: "sigma", "quality" or None.
    """

    multiple = 2

    def __init__(self, channels: int = 1, features: int = 64, depth: int = 15,
                 conditioning: str | None = "sigma") -> None:
        super().__init__()
        if conditioning not in (None, "sigma", "quality"):
            raise ValueError(f"conditioning must be sigma, quality or None, not {conditioning!r}")
        if depth < 2:
            raise ValueError("depth must be at least 2")
        self.channels, self.conditioning = int(channels), conditioning
        extra = 0 if conditioning is None else 1
        layers: list[nn.Module] = [nn.Conv2d(4 * channels + extra, features, 3, padding=1),
                                   nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(features, features, 3, padding=1), nn.ReLU(inplace=True)]
        # He initialisation: under PyTorch's default one a deep plain ReLU stack shrinks the
        # signal about 6x in variance per layer, and this stack did not train at all
        for layer in layers[::2]:
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
        tail = nn.Conv2d(features, 4 * channels, 3, padding=1)
        nn.init.zeros_(tail.weight)
        nn.init.zeros_(tail.bias)
        self.body = nn.Sequential(*layers, tail)

    def forward(self, y: torch.Tensor, level: torch.Tensor | None = None) -> torch.Tensor:
        height, width = y.shape[-2:]
        x = nn.functional.pixel_unshuffle(reflect_padder(height, width, 2)(y), 2)
        out = nn.functional.pixel_shuffle(self.body(append_level(x, level, self.conditioning)), 2)
        return y + out[..., :height, :width]
