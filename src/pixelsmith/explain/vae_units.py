"""Which latent dimensions a VAE uses: per-dimension KL(q(z_k|x) || N(0, 1)) averaged over a
data set, and the active units of Burda et al. 2016 (dimensions whose posterior mean varies
across the data: Var_x E_q[z_k] > 0.01). A dimension with near-zero KL and variance carries
no information about the image (posterior collapse); traversing it changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pixelsmith.errors import PixelsmithError

ACTIVE_THRESHOLD = 0.01


@dataclass
class VAEUnits:
    """``kl``: mean KL per dimension (nats), ``variance``: Var_x of the posterior mean,
    ``active``: dimensions with variance > 0.01, ``images``: how many images were used."""

    kl: np.ndarray
    variance: np.ndarray
    images: int

    @property
    def active(self) -> np.ndarray:
        return np.flatnonzero(self.variance > ACTIVE_THRESHOLD)

    @property
    def order(self) -> np.ndarray:
        """Dimensions by decreasing KL."""
        return np.argsort(-self.kl, kind="stable")


def dataset_images(source: str | Path, limit: int = 512) -> list[Path]:
    """Up to ``limit`` image files of a folder, evenly spaced in sorted order (so a folder of
    class sub-folders gives every class), or the one file given."""
    from pixelsmith.io import list_images

    paths = list_images(source)
    if not paths:
        raise PixelsmithError(f"{source}: no images found")
    step = max(1, len(paths) // int(limit))
    return paths[::step][: int(limit)]


def vae_units(model: nn.Module, images: torch.Tensor | Sequence, batch: int = 64) -> VAEUnits:
    """Per-dimension KL and posterior-mean variance of ``model`` (a ConvVAE) over ``images``:
    a (N, C, H, W) tensor, or paths/tensors that are fitted to the model's size."""
    from pixelsmith.nets.autoencoder import ConvVAE
    from pixelsmith.synthesis import fit_images

    if not isinstance(model, ConvVAE):
        raise PixelsmithError("per-dimension KL needs a VAE (e.g. vae-mnist)")
    x = fit_images(model, images, note=lambda _message: None)
    mus, kls = [], []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(x), batch):
            mu, logvar = model.encode(x[start:start + batch])
            mu, logvar = mu.double(), logvar.double()
            kls.append(0.5 * (mu**2 + logvar.exp() - 1.0 - logvar))
            mus.append(mu)
    mu = torch.cat(mus)
    variance = mu.var(dim=0, unbiased=False) if len(mu) > 1 else torch.zeros(mu.shape[1])
    return VAEUnits(torch.cat(kls).mean(dim=0).numpy(), variance.numpy(), len(x))
