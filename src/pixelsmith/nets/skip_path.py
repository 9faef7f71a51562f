"""The encoder-decoder pass with additive skips that the U-shaped restoration networks share."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def encode_decode(h: torch.Tensor, encoders: Sequence[nn.Module], downs: Sequence[nn.Module],
                  middle: nn.Module, ups: Sequence[nn.Module],
                  decoders: Sequence[nn.Module]) -> torch.Tensor:
    """Each encoder then its downsampling, the middle, then each upsampling plus the matching
    encoder output (added, not concatenated) through its decoder."""
    skips = []
    for encoder, down in zip(encoders, downs, strict=True):
        h = encoder(h)
        skips.append(h)
        h = down(h)
    h = middle(h)
    for up, decoder in zip(ups, decoders, strict=True):
        h = decoder(up(h) + skips.pop())
    return h
