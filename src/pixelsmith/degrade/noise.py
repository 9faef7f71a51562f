"""Noise models. Levels are in [0, 1] units (``25 / 255`` is the literature's "sigma 25").

Every random draw comes from the ``torch.Generator`` passed to the call (or torch's global
RNG when none is given), on the generator's device, so a seed reproduces the noise exactly.
Gaussian noise is added without clipping, as in the denoising literature (DnCNN, FFDNet,
DRUNet evaluate on unclipped noisy images); clip or quantize afterwards if you need a
storable image.
"""

from __future__ import annotations

import math

import torch

from pixelsmith.degrade.base import Operator


def _check_level(value: float, name: str) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value}")
    return value


def _randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


def _rand_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)


def _fmt_level(sigma: float) -> str:
    return f"{sigma * 255:g}/255"


class GaussianNoise(Operator):
    """Additive white Gaussian noise, y = x + sigma * n, not clipped.

    ``sigma`` is one level or a range ``(low, high)``; with a range each image of the batch
    gets its own sigma drawn uniformly (blind-denoiser training). ``bias`` b > 1 skews that
    draw toward the low end, sigma = low + (high - low) u^b for u uniform in [0, 1), with the
    same generator draws as the even one (b = 1). Use :meth:`apply_with_sigma` to get the
    sigmas that were drawn.
    """

    random = True

    def __init__(self, sigma: float | tuple[float, float], bias: float = 1.0) -> None:
        bias = float(bias)
        if not (math.isfinite(bias) and bias > 0):
            raise ValueError(f"sigma bias must be finite and > 0, got {bias}")
        self.bias = bias
        if isinstance(sigma, (tuple, list)):
            low, high = (_check_level(s, "sigma") for s in sigma)
            if low > high:
                raise ValueError(f"sigma range must be (low, high) with low <= high, got {sigma}")
            self.sigma: float | tuple[float, float] = (low, high)
        else:
            self.sigma = _check_level(sigma, "sigma")

    def sample_sigma(
        self, n: int, generator: torch.Generator | None = None, *, like: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(n,) noise levels: the fixed sigma, or one draw per image from the range (even, or
        skewed low by ``bias``)."""
        dtype = like.dtype if like is not None else torch.float32
        device = like.device if like is not None else "cpu"
        if not isinstance(self.sigma, tuple):
            return torch.full((n,), self.sigma, dtype=dtype, device=device)
        low, high = self.sigma
        draw = torch.rand(n, generator=generator, dtype=dtype, device=device)
        if self.bias != 1.0:
            draw = draw ** self.bias
        return low + (high - low) * draw

    def apply_with_sigma(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The noisy batch and the (N,) sigmas used for each image."""
        sigma = self.sample_sigma(x.shape[0], generator, like=x)
        return x + sigma.view(-1, 1, 1, 1) * _randn_like(x, generator), sigma

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return self.apply_with_sigma(x, generator)[0]

    def describe(self) -> str:
        if isinstance(self.sigma, tuple):
            return f"gaussian noise sigma={_fmt_level(self.sigma[0])}..{_fmt_level(self.sigma[1])}"
        return f"gaussian noise sigma={_fmt_level(self.sigma)}"


class PoissonNoise(Operator):
    """Shot noise: y = Poisson(peak * x) / peak, with ``peak`` the photon count of white.

    The output is non-negative and has mean x; it can exceed 1 (it is not clipped), and lower
    peaks are noisier. Negative inputs are treated as 0.
    """

    random = True

    def __init__(self, peak: float) -> None:
        self.peak = _check_level(peak, "peak")
        if self.peak == 0:
            raise ValueError("Poisson peak must be > 0")

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        counts = torch.poisson(x.clamp_min(0) * self.peak, generator=generator)
        return counts / self.peak

    def describe(self) -> str:
        return f"poisson noise peak={self.peak:g}"


class PoissonGaussianNoise(Operator):
    """Poisson shot noise at ``peak`` followed by additive Gaussian read noise of ``sigma``."""

    random = True

    def __init__(self, peak: float, sigma: float) -> None:
        self.poisson = PoissonNoise(peak)
        self.gaussian = GaussianNoise(sigma)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return self.gaussian(self.poisson(x, generator), generator)

    def describe(self) -> str:
        sigma = _fmt_level(self.gaussian.sigma)
        return f"poisson-gaussian noise peak={self.poisson.peak:g} sigma={sigma}"


class SaltPepperNoise(Operator):
    """Impulse noise: a fraction ``amount`` of samples (each channel independently, like
    scikit-image's ``random_noise(mode='s&p')``) is set to 1 (salt, with probability
    ``salt_vs_pepper``) or 0 (pepper). The output stays in the input's range.
    """

    random = True

    def __init__(self, amount: float, salt_vs_pepper: float = 0.5) -> None:
        self.amount = float(amount)
        self.salt_vs_pepper = float(salt_vs_pepper)
        if not 0 <= self.amount <= 1:
            raise ValueError(f"salt-and-pepper amount must be in [0, 1], got {amount}")
        if not 0 <= self.salt_vs_pepper <= 1:
            raise ValueError(f"salt_vs_pepper must be in [0, 1], got {salt_vs_pepper}")

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        hit = _rand_like(x, generator) < self.amount
        salt = (_rand_like(x, generator) < self.salt_vs_pepper).to(x.dtype)
        return torch.where(hit, salt, x)

    def describe(self) -> str:
        return f"salt-and-pepper noise amount={self.amount:g}"
