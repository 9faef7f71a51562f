"""Non-blind deblurring by plug-and-play half-quadratic splitting (DPIR, Zhang et al. 2021).

HQS splits ``min_x ||y - k * x||^2 / (2 s^2) + prior(x)`` into two alternating steps:

- a data step, solved in closed form with FFTs (circular boundaries):
  ``x = F^-1[(conj(K) Y + a F(z)) / (|K|^2 + a)]`` with ``a = lambda s^2 / sigma_i^2``;
- a prior step, a Gaussian denoiser at level ``sigma_i``: the shipped, noise-level-conditioned
  ``denoise-gray`` / ``denoise-color`` networks.

``sigma_i`` falls log-uniformly from 49/255 to the noise level over the iterations, so early
steps remove ringing with a strong prior and late ones keep detail (DPIR's schedule, with its
``lambda = 0.23``). The kernel is a true convolution kernel centred at (kh // 2, kw // 2), as
everywhere in pixelsmith. Without a known noise level it is estimated from the blurred image.
Like the Wiener and Richardson-Lucy baselines, the data step assumes circular borders (the
evaluation protocol blurs circularly). Mirrored padding does not fix real, non-circular blur:
the mirrored border is blurred by the mirrored kernel, and for motion kernels the mismatch
rings across the image (Set12 01, Levin kernel 1: 30.7 dB circular, 26.4 dB padded on
reflect-blurred data); a masked data term is the proper fix.
"""

from __future__ import annotations

import math

import torch

from pixelsmith.degrade.known import Known
from pixelsmith.errors import PixelsmithError
from pixelsmith.restoration.method import networks_backend

SIGMA_START = 49.0 / 255.0  # first denoising level (DPIR)
LAMBDA = 0.23  # data-term weight of the HQS penalty (DPIR)
ITERATIONS = 8
MIN_SIGMA = 0.255 / 255.0  # floor for noise-free inputs, keeps the data step well posed
DENOISERS = {1: "denoise-gray", 3: "denoise-color"}


def kernel_spectrum(kernel: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """FFT of ``kernel`` zero-padded to (height, width), centre rolled to the origin."""
    kh, kw = kernel.shape[-2:]
    canvas = torch.zeros(height, width, dtype=torch.float64)
    canvas[:kh, :kw] = kernel.to(torch.float64)
    canvas = torch.roll(canvas, shifts=(-(kh // 2), -(kw // 2)), dims=(0, 1))
    return torch.fft.fft2(canvas)


def sigma_schedule(noise: float, iterations: int = ITERATIONS) -> list[float]:
    """Denoiser levels, log-uniform from 49/255 down to the noise level."""
    end = max(noise, MIN_SIGMA)
    start = max(SIGMA_START, end)
    if iterations == 1:
        return [end]
    step = (math.log(end) - math.log(start)) / (iterations - 1)
    return [math.exp(math.log(start) + i * step) for i in range(iterations)]


class PnPDeblur:
    """The ``deblur`` method: DPIR-style plug-and-play HQS with the shipped denoisers.

    ``denoisers`` maps image channels to a denoiser model (shipped name or folder); each is
    loaded on first use and runs with the Restorer's run options (device, tiles, precision).
    """

    def __init__(self, denoisers: dict[int, str] | None = None,
                 iterations: int = ITERATIONS) -> None:
        from pixelsmith.restoration.trained import RunOptions

        self.denoisers = dict(denoisers or DENOISERS)
        self.iterations = int(iterations)
        self.options = RunOptions()
        self._loaded: dict[int, object] = {}

    def configure(self, options) -> None:
        """Run options for the denoisers (called by
        :class:`pixelsmith.restoration.restorer.Restorer`)."""
        self.options = options
        for restorer in self._loaded.values():
            restorer.configure(options)

    @property
    def backend(self) -> str:
        """The backend its denoisers run on, "torch" or "onnxruntime": the loaded ones', or
        before any is loaded the one the options ask for ("auto" counts as torch until a
        denoiser is measured). Reading it never loads a model."""
        return networks_backend([r.backend for r in self._loaded.values()], self.options)

    def _denoiser(self, channels: int):
        if channels not in self._loaded:
            from pixelsmith.restoration.trained import load_restore_fn

            self._loaded[channels] = load_restore_fn(self.denoisers[channels], self.options)
        return self._loaded[channels]

    def __call__(self, y: torch.Tensor, known: Known) -> torch.Tensor:
        from pixelsmith.restoration.classical._numpy import require

        kernel = require(known, "kernel")
        if kernel.shape[-2] > y.shape[-2] or kernel.shape[-1] > y.shape[-1]:
            raise PixelsmithError(
                f"the {kernel.shape[-1]}x{kernel.shape[-2]} kernel is larger than the "
                f"{y.shape[-1]}x{y.shape[-2]} image")
        noise = known.sigma
        if noise is None:
            from pixelsmith.degrade.estimate import estimate_sigma

            noise = estimate_sigma(y)
        noises = torch.as_tensor(noise, dtype=torch.float64).reshape(-1).expand(y.shape[0])
        return torch.cat([self._one(y[i:i + 1], kernel, float(noises[i]))
                          for i in range(y.shape[0])]).to(y.dtype)

    def _one(self, y: torch.Tensor, kernel: torch.Tensor, noise: float) -> torch.Tensor:
        denoise = self._denoiser(y.shape[1])
        work = y.double()
        spectrum = kernel_spectrum(kernel, *work.shape[-2:])
        spectrum_sq = spectrum.abs() ** 2
        numerator = spectrum.conj() * torch.fft.fft2(work)
        noise = max(noise, MIN_SIGMA)
        x = work
        for level in sigma_schedule(noise, self.iterations):
            alpha = LAMBDA * noise**2 / level**2
            x = torch.fft.ifft2((numerator + alpha * torch.fft.fft2(x))
                                / (spectrum_sq + alpha)).real
            x = denoise(x.float(), Known(sigma=level)).double()
        return x
