"""A small CNN image classifier whose penultimate activations serve as a feature space.

:class:`FeatureClassifier` is trained on a data set's class labels (the ``classifier``
family) and then used by :mod:`pixelsmith.metrics.features` as the embedding for FID, KID and
precision/recall of generated images, the way Inception-v3's pool features are used for
ImageNet-like images. Only a network trained on the same kind of images gives a meaningful
feature space, hence one shipped extractor per data set (digits, CIFAR-10, faces).
"""

from __future__ import annotations

import torch
from torch import nn


def _conv(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True)]


class FeatureClassifier(nn.Module):
    """Images (N, channels, S, S) in [0, 1] -> class logits (N, num_classes).

    3x3 conv + BatchNorm + ReLU layers: one of width ``width`` at full resolution (stride 2
    for images of side >= 48, i.e. 64x64 faces), then two of ``2 width`` and two of
    ``4 width``, with 2x2 max pooling before each pair, so every size ends at 7 x 7 (28) or
    8 x 8 (32, 64). Global average
    pooling gives the ``feature_dim = 4 width`` embedding (:meth:`features`, after the last
    ReLU, so non-negative) and a linear layer the logits. ``dropout`` acts on the embedding
    during training only.
    """

    def __init__(self, channels: int = 1, image_size: int = 28, num_classes: int = 10,
                 width: int = 32, dropout: float = 0.0) -> None:
        super().__init__()
        if image_size < 16:
            raise ValueError(f"image_size must be at least 16, got {image_size}")
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        self.channels, self.image_size, self.num_classes = channels, image_size, num_classes
        self.feature_dim = 4 * width
        w1, w2, w3 = width, 2 * width, 4 * width
        stem = _conv(channels, w1, stride=2 if image_size >= 48 else 1)
        self.body = nn.Sequential(
            *stem, nn.MaxPool2d(2),
            *_conv(w1, w2), *_conv(w2, w2), nn.MaxPool2d(2),
            *_conv(w2, w3), *_conv(w3, w3),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(w3, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate embeddings, (N, feature_dim): global average of the last conv stage."""
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"expected (N, {self.channels}, H, W) images, got {tuple(x.shape)}")
        return self.body(x - 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))
