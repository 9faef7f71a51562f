"""Convolutional autoencoder and VAE, plus the VAE's likelihood maths (ELBO, IWAE bound).

Both networks work at any square size >= 8 (tested at 28, 32 and 64): images are zero-padded
to the next power of two inside the network (28 -> 32, 2 px each side; MNIST's background
is black, so the padding looks like more background), encoded by stride-2 convolutions down
to 4 x 4, and the decoder's output is center-cropped back to ``image_size``. GroupNorm (not
BatchNorm) keeps every image independent of the rest of its batch, so a batch of one, the
ELBO of one image and a likelihood estimate do not depend on what else is in the batch.

Decoder likelihoods of :class:`ConvVAE` (all quantities in nats, summed over pixels):

- ``"bernoulli"``: ``decode`` returns logits; ``log p(x|z) = -BCE(logits, x)``. Grey values
  in [0, 1] are used as soft targets (the usual MNIST practice); this is a proper
  likelihood only for binary images.
- ``"gaussian"``: ``decode`` returns the mean in [0, 1] (a sigmoid) and the network holds one
  learned log standard deviation, :attr:`ConvVAE.log_scale`, shared by all pixels (the
  "calibrated decoder" of sigma-VAE, Rybkin et al. 2021): learning it balances the
  reconstruction and KL terms without hand-tuning a weight. It is a density on continuous
  pixels, so its NLL is not comparable with a discrete (bits/dim) likelihood.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from pixelsmith.nets.contract import unwrapped

LIKELIHOODS = ("gaussian", "bernoulli")


def internal_size(image_size: int) -> int:
    """The power-of-two side the networks compute at: the smallest one >= ``image_size``."""
    if image_size < 8:
        raise ValueError(f"image_size must be at least 8, got {image_size}")
    return 1 << (int(image_size) - 1).bit_length()


def pad_to(x: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad (N, C, H, H) images to ``size`` (the extra pixel of an odd margin goes last)."""
    margin = size - x.shape[-1]
    if margin == 0:
        return x
    before = margin // 2
    return F.pad(x, (before, margin - before, before, margin - before))


def crop_to(x: torch.Tensor, size: int) -> torch.Tensor:
    """Undo :func:`pad_to`: the central ``size`` x ``size`` part, same placement."""
    before = (x.shape[-1] - size) // 2
    return x[..., before:before + size, before:before + size]


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(8 if channels % 8 == 0 else 1, channels)


def _widths(image_size: int, base: int) -> list[int]:
    """Feature widths after each stride-2 stage, from half the internal size down to 4 x 4."""
    stages = internal_size(image_size).bit_length() - 3  # log2(size) - 2
    return [base * 2 ** min(i, 3) for i in range(stages)]


class ConvEncoder(nn.Module):
    """Images (N, C, S, S) -> (N, ``out_features``): stride-2 4x4 convs (GroupNorm + SiLU
    between them) down to 4 x 4, then a linear head."""

    def __init__(self, channels: int, image_size: int, out_features: int, base: int = 32) -> None:
        super().__init__()
        self.size = internal_size(image_size)
        layers: list[nn.Module] = []
        previous = channels
        for width in _widths(image_size, base):
            layers += [nn.Conv2d(previous, width, 4, stride=2, padding=1), _norm(width), nn.SiLU()]
            previous = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(previous * 16, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(pad_to(x, self.size)).flatten(1))


class ConvDecoder(nn.Module):
    """(N, ``latent_dim``) -> (N, C, image_size, image_size) unbounded outputs (pre-sigmoid):
    a linear map to 4 x 4 features, then stride-2 4x4 transposed convs back to full size."""

    def __init__(self, latent_dim: int, channels: int, image_size: int, base: int = 32) -> None:
        super().__init__()
        self.image_size = int(image_size)
        widths = _widths(image_size, base)[::-1]
        self.start = widths[0]
        self.project = nn.Linear(latent_dim, widths[0] * 16)
        layers: list[nn.Module] = [nn.SiLU()]
        for width, following in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.ConvTranspose2d(width, following, 4, stride=2, padding=1),
                       _norm(following), nn.SiLU()]
        layers.append(nn.ConvTranspose2d(widths[-1], channels, 4, stride=2, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.body(self.project(z).view(-1, self.start, 4, 4))
        return crop_to(x, self.image_size)


class ConvAutoencoder(nn.Module):
    """Deterministic autoencoder: ``encode(x) -> z`` (N, latent_dim), ``decode(z)`` in [0, 1]."""

    def __init__(self, channels: int = 1, image_size: int = 28, latent_dim: int = 32,
                 base: int = 32) -> None:
        super().__init__()
        self.channels, self.image_size, self.latent_dim = channels, image_size, latent_dim
        self.encoder = ConvEncoder(channels, image_size, latent_dim, base)
        self.decoder = ConvDecoder(latent_dim, channels, image_size, base)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction in [0, 1], without autograd (as :meth:`ConvVAE.reconstruct`)."""
        return self.decode(self.encode(x))


class ConvVAE(nn.Module):
    """Gaussian-latent VAE with a standard-normal prior; see the module notes for likelihoods.

    ``forward(x)`` draws one z per image (reparameterised) and returns
    ``(decode(z), mu, logvar)``; use :meth:`reconstruct` for a deterministic reconstruction.
    """

    def __init__(self, channels: int = 1, image_size: int = 28, latent_dim: int = 16,
                 base: int = 32, likelihood: str = "gaussian") -> None:
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, not {likelihood!r}")
        self.channels, self.image_size, self.latent_dim = channels, image_size, latent_dim
        self.likelihood = likelihood
        self.encoder = ConvEncoder(channels, image_size, 2 * latent_dim, base)
        self.decoder = ConvDecoder(latent_dim, channels, image_size, base)
        if likelihood == "gaussian":  # log std of p(x|z), learned, shared by all pixels
            self.log_scale = nn.Parameter(torch.full((1,), math.log(0.1)))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior q(z|x) = N(mu, exp(logvar)), each (N, latent_dim)."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """z = mu + sigma * eps, eps ~ N(0, I) from ``generator`` (torch's global RNG if None)."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Parameters of p(x|z): logits (bernoulli) or the mean in [0, 1] (gaussian)."""
        out = self.decoder(z)
        return out if self.likelihood == "bernoulli" else torch.sigmoid(out)

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """The mean image of p(x|z), in [0, 1]."""
        out = self.decode(z)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar, generator)), mu, logvar

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic reconstruction: the decoder mean at the posterior mean."""
        return self.decode_mean(self.encode(x)[0])

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, temperature: float = 1.0) -> torch.Tensor:
        """``n`` mean images of p(x|z), z ~ N(0, temperature^2 I); the same for the same seed."""
        device = next(self.parameters()).device
        generator = None
        if seed is not None:
            generator = torch.Generator(device=device)
            generator.manual_seed(int(seed))
        z = torch.randn(n, self.latent_dim, generator=generator, device=device)
        return self.decode_mean(temperature * z)


# -- likelihood maths --------------------------------------------------------------------------

def _wide(x: torch.Tensor) -> torch.Tensor:
    """At least float32 (half-precision outputs of autocast are widened; float64 is kept)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def log_likelihood(model: nn.Module, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x|z) per item, (N,) nats, summed over every non-batch dimension.

    ``params`` is what ``model.decode`` returned; the model's ``likelihood`` attribute says how
    to read it (and, for ``"gaussian"``, its ``log_scale`` is the log standard deviation).
    """
    inner = unwrapped(model)
    params, x = _wide(params), _wide(x)
    if inner.likelihood == "bernoulli":
        value = -F.binary_cross_entropy_with_logits(params, x, reduction="none")
    else:
        log_scale = _wide(inner.log_scale)
        value = (-0.5 * ((x - params) * torch.exp(-log_scale)) ** 2 - log_scale
                 - 0.5 * math.log(2 * math.pi))
    return value.flatten(1).sum(dim=1)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per item, (N,) nats."""
    mu, logvar = _wide(mu), _wide(logvar)
    return 0.5 * (mu**2 + torch.exp(logvar) - 1.0 - logvar).flatten(1).sum(dim=1)


def elbo_from_outputs(model: nn.Module, x: torch.Tensor, params: torch.Tensor,
                      mu: torch.Tensor, logvar: torch.Tensor, beta: float = 1.0
                      ) -> dict[str, torch.Tensor]:
    """ELBO terms from a forward pass ``(params, mu, logvar)``, averaged over the batch."""
    recon = -log_likelihood(model, params, x).mean()
    kl = kl_divergence(mu, logvar).mean()
    return {"recon": recon, "kl": kl, "loss": recon + beta * kl}


def elbo_terms(model: nn.Module, x: torch.Tensor, beta: float = 1.0,
               generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """One-sample ELBO terms, nats per image: ``recon`` = -log p(x|z), ``kl``, and
    ``loss = recon + beta * kl`` (with beta = 1 the loss is the negative ELBO)."""
    params, mu, logvar = model(x, generator=generator)
    return elbo_from_outputs(model, x, params, mu, logvar, beta)


def _normal_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, exp(logvar)) summed over the last dimension."""
    return -0.5 * (((z - mu) ** 2) * torch.exp(-logvar) + logvar
                   + math.log(2 * math.pi)).sum(dim=-1)


@torch.no_grad()
def importance_weighted_nll(model: nn.Module, x: torch.Tensor, k: int,
                            generator: torch.Generator | None = None,
                            chunk: int = 4096) -> torch.Tensor:
    """Negative IWAE bound (Burda et al. 2016) per image, (N,) nats: an estimate of -log p(x).

    -log mean_k p(x, z_k) / q(z_k|x), z_k ~ q(z|x). Its expectation is >= -log p(x) (Jensen)
    and decreases to it as k grows; k = 1 is the negative ELBO. The k * N latents are decoded
    in batches of ``chunk``; ``model`` needs ``encode``, ``decode`` and ``likelihood``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    mu, logvar = (_wide(t) for t in model.encode(x))
    eps = torch.randn((k, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
    z = mu + torch.exp(0.5 * logvar) * eps  # (k, N, D)
    log_w = _normal_log_prob(z, torch.zeros_like(mu), torch.zeros_like(logvar))
    log_w = log_w - _normal_log_prob(z, mu, logvar)
    flat_z = z.reshape(k * len(x), -1)
    flat_x = x.expand(k, *x.shape).reshape(k * len(x), *x.shape[1:])
    log_px = torch.cat([log_likelihood(model, model.decode(flat_z[i:i + chunk]),
                                       flat_x[i:i + chunk])
                        for i in range(0, len(flat_z), chunk)])
    log_w = log_w + log_px.view(k, len(x))
    return -(torch.logsumexp(log_w, dim=0) - math.log(k))
