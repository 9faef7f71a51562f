"""DCGAN generator and discriminator (Radford et al. 2016) for square images of side >= 8.

Both compute at the next power of two (28 -> 32) and crop/pad at the border, like
:mod:`pixelsmith.nets.autoencoder`: the generator's output is center-cropped to
``image_size``, the discriminator zero-pads its input. Images are in [0, 1] at both ends
(the generator ends in ``(tanh + 1) / 2``; the discriminator maps its input to [-1, 1]).

The discriminator has no BatchNorm: a batch-dependent critic would mix real and fake images
of one batch and make the R1 penalty (a per-image input gradient) ill-defined; spectral
normalisation (Miyato et al. 2018) is its optional regulariser instead.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from pixelsmith.nets.autoencoder import crop_to, internal_size, pad_to


def _ups(image_size: int) -> int:
    """Number of x2 stages from 4 x 4 to the internal size."""
    return internal_size(image_size).bit_length() - 3


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) -> images (N, channels, image_size, image_size) in [0, 1].

    A 4 x 4 transposed-conv projection, then x2 transposed convs with BatchNorm + ReLU whose
    widths halve from ``base * 2**(stages - 1)`` to ``base``, and a last x2 layer to pixels.
    """

    def __init__(self, latent_dim: int = 64, channels: int = 1, image_size: int = 28,
                 base: int = 64) -> None:
        super().__init__()
        self.latent_dim, self.channels, self.image_size = latent_dim, channels, image_size
        stages = _ups(image_size)
        widths = [base * 2 ** (stages - 1 - i) for i in range(stages)]
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, widths[0], 4, bias=False),
                                   nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for width, following in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.ConvTranspose2d(width, following, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(following), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.body(z.view(len(z), self.latent_dim, 1, 1))
        return crop_to((x + 1.0) * 0.5, self.image_size)

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None) -> torch.Tensor:
        """``n`` images from z ~ N(0, I), drawn from a generator seeded by ``seed`` when given.

        Runs in the module's current mode: call ``.eval()`` first to use BatchNorm's running
        statistics (and leave them unchanged), as :func:`pixelsmith.zoo.load_model` does.
        """
        device = next(self.parameters()).device
        generator = None
        if seed is not None:
            generator = torch.Generator(device=device)
            generator.manual_seed(int(seed))
        return self(torch.randn(n, self.latent_dim, generator=generator, device=device))


class DCGANDiscriminator(nn.Module):
    """Images (N, channels, image_size, image_size) in [0, 1] -> one real/fake logit each, (N,).

    Stride-2 convs with LeakyReLU(0.2) (widths ``base, 2 base, ...`` capped at ``8 base``) down
    to 4 x 4, then a 4 x 4 conv to the logit; ``spectral_norm`` wraps every conv with
    :func:`torch.nn.utils.parametrizations.spectral_norm`.
    """

    def __init__(self, channels: int = 1, image_size: int = 28, base: int = 64,
                 spectral_norm: bool = True) -> None:
        super().__init__()
        self.channels, self.image_size = channels, image_size
        self.size = internal_size(image_size)
        wrap = _spectral_norm if spectral_norm else (lambda module: module)
        stages = _ups(image_size)
        widths = [base * 2 ** min(i, 3) for i in range(stages)]
        layers: list[nn.Module] = []
        previous = channels
        for width in widths:
            layers += [wrap(nn.Conv2d(previous, width, 4, 2, 1)), nn.LeakyReLU(0.2)]
            previous = width
        layers.append(wrap(nn.Conv2d(previous, 1, 4)))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(pad_to(x, self.size) * 2.0 - 1.0).flatten()
