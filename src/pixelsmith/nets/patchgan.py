"""PatchGAN discriminator (Isola et al. 2017, pix2pix): one real/fake logit per image patch.

A conditional discriminator judges (input, output) pairs: its input is the channel-wise
concatenation of the degraded image (plus the mask channel for inpainting) and a restored or
clean image, so it learns whether the output fits *this* input, not just whether it looks
real. Fully convolutional, it returns a map of logits, each seeing one overlapping patch;
``depth`` stride-2 layers give the receptive fields 16 (1), 34 (2), 70 (3, the usual
"70x70 PatchGAN") and 142 (4) pixels.

No BatchNorm (as in :mod:`pixelsmith.nets.dcgan`): batch statistics would mix real and fake
pairs of one batch. Spectral normalisation (Miyato et al. 2018) bounds each layer's
Lipschitz constant instead.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm


def receptive_field(depth: int) -> int:
    """Side in pixels of the patch one output logit sees, for ``depth`` stride-2 layers."""
    field = 4 + 3  # the last two stride-1 4x4 convolutions
    for _ in range(depth):
        field = 2 * field + 2
    return field


class PatchGAN(nn.Module):
    """(N, in_channels, H, W) in [0, 1] -> (N, 1, h, w) logits, one per overlapping patch.

    - ``in_channels``: channels of the concatenated pair (e.g. 3 + 1 + 3 for RGB inpainting:
      masked input, mask, image).
    - ``base``: width of the first layer; widths double per layer up to ``8 * base``.
    - ``depth``: stride-2 4x4 convolutions (each halves the size) before a stride-1 4x4
      convolution and the stride-1 4x4 logit layer; 3 is pix2pix's 70x70 PatchGAN.
      A 64x64 input gives 6x6 logits at depth 3, 14x14 at depth 2.
    - ``spectral_norm``: wrap every convolution in spectral normalisation.

    Inputs are mapped to [-1, 1]; the side must be at least ``2**depth * 4`` pixels.
    """

    def __init__(self, in_channels: int = 6, base: int = 64, depth: int = 3,
                 spectral_norm: bool = True) -> None:
        super().__init__()
        if depth < 1 or base < 1 or in_channels < 1:
            raise ValueError(f"PatchGAN needs depth, base and in_channels >= 1, got "
                             f"{depth}, {base}, {in_channels}")
        self.in_channels, self.depth = in_channels, depth
        wrap = _spectral_norm if spectral_norm else (lambda module: module)
        widths = [base * 2 ** min(i, 3) for i in range(depth + 1)]
        blocks: list[nn.Module] = []
        previous = in_channels
        for i, width in enumerate(widths):
            stride = 2 if i < depth else 1
            blocks.append(nn.Sequential(wrap(nn.Conv2d(previous, width, 4, stride, 1)),
                                        nn.LeakyReLU(0.2)))
            previous = width
        self.blocks = nn.ModuleList(blocks)
        self.head = wrap(nn.Conv2d(previous, 1, 4, 1, 1))
        self.min_size = 2**depth * 4

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The activations of every block, then the logits (last): for feature matching."""
        if x.shape[1] != self.in_channels:
            raise ValueError(f"PatchGAN expects {self.in_channels} input channels, "
                             f"got {x.shape[1]}")
        if min(x.shape[-2:]) < self.min_size:
            raise ValueError(f"PatchGAN of depth {self.depth} needs inputs of at least "
                             f"{self.min_size} pixels, got {tuple(x.shape[-2:])}")
        h = x * 2.0 - 1.0
        out = []
        for block in self.blocks:
            h = block(h)
            out.append(h)
        out.append(self.head(h))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[-1]
