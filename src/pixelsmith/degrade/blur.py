"""Convolution with a blur kernel, as a linear operator with an exact adjoint.

The kernel is applied as a true convolution (flipped, like ``scipy.ndimage.convolve`` and
MATLAB ``imfilter(..., 'conv')``) with its centre at index (kh // 2, kw // 2)::

    y[i, j] = sum_{a, b} k[a, b] * x[i - a + kh // 2, j - b + kw // 2]

Two boundary rules:

- ``"circular"``: the image is periodic (scipy ``mode='wrap'``). Computed with FFTs; the
  adjoint is the correlation, i.e. multiplication by the conjugate spectrum. This is the
  usual model in deblurring benchmarks because it is diagonalised by the FFT.
- ``"reflect"``: the image is extended by half-sample symmetric mirroring, ``d c b a | a b c d``
  (scipy ``mode='reflect'``, MATLAB ``'symmetric'``, numpy ``'symmetric'``). The extension is
  an index gather, so any kernel size works, even one larger than the image. The adjoint is
  the transposed convolution followed by folding the padding back (a scatter-add).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pixelsmith.degrade.base import LinearOperator

BOUNDARIES = ("circular", "reflect")


def symmetric_indices(n: int, before: int, after: int, device=None) -> torch.Tensor:
    """Source indices of a length-``n`` axis padded by half-sample symmetric mirroring.

    Works for pads longer than ``n`` (the mirror pattern repeats with period ``2 n``).
    """
    positions = torch.arange(-before, n + after, device=device)
    folded = torch.remainder(positions, 2 * n)
    return torch.where(folded < n, folded, 2 * n - 1 - folded)


class Blur(LinearOperator):
    """y = k * x (convolution) on every channel of every image, with a fixed 2-D ``kernel``.

    The kernel is used as given (the generators in :mod:`~pixelsmith.degrade.kernels` return
    kernels summing to 1). ``boundary`` is ``"circular"`` (FFT, periodic) or ``"reflect"``
    (half-sample symmetric padding); see the module docstring.
    """

    def __init__(self, kernel: torch.Tensor, boundary: str = "circular") -> None:
        kernel = torch.as_tensor(kernel)
        if kernel.ndim != 2 or kernel.numel() == 0:
            shape = tuple(kernel.shape)
            raise ValueError(f"blur kernel must be a non-empty 2-D tensor, got {shape}")
        if boundary not in BOUNDARIES:
            raise ValueError(f"boundary must be one of {BOUNDARIES}, not {boundary!r}")
        self.kernel = kernel.detach().float() if not kernel.is_floating_point() else kernel.detach()
        self.boundary = boundary
        self._spectra: dict[tuple, torch.Tensor] = {}

    def describe(self) -> str:
        kh, kw = self.kernel.shape
        return f"blur {kh}x{kw} kernel ({self.boundary})"

    # -- circular -----------------------------------------------------------------------
    def _spectrum(self, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
        """rfft2 of the kernel placed on an HxW periodic grid with its centre at (0, 0)."""
        key = (height, width, like.dtype, like.device)
        if key not in self._spectra:
            kh, kw = self.kernel.shape
            rows = torch.remainder(torch.arange(kh) - kh // 2, height)
            cols = torch.remainder(torch.arange(kw) - kw // 2, width)
            flat = (rows[:, None] * width + cols[None, :]).reshape(-1)
            grid = torch.zeros(height * width, dtype=like.dtype)
            values = self.kernel.detach().cpu().to(like.dtype).reshape(-1)
            grid.index_add_(0, flat, values)  # adds up the parts of a kernel larger than HxW
            spectrum = torch.fft.rfft2(grid.view(height, width)).to(like.device)
            if len(self._spectra) > 8:
                self._spectra.clear()
            self._spectra[key] = spectrum
        return self._spectra[key]

    def _circular(self, x: torch.Tensor, adjoint: bool) -> torch.Tensor:
        height, width = x.shape[-2:]
        spectrum = self._spectrum(height, width, x)
        if adjoint:
            spectrum = spectrum.conj()
        return torch.fft.irfft2(torch.fft.rfft2(x) * spectrum, s=(height, width))

    # -- reflect ------------------------------------------------------------------------
    def _pads(self) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) padding so that a 'valid' correlation gives the result."""
        kh, kw = self.kernel.shape
        return kh - 1 - kh // 2, kh // 2, kw - 1 - kw // 2, kw // 2

    def _weight(self, like: torch.Tensor) -> torch.Tensor:
        """The flipped kernel as a conv2d weight (conv2d correlates; flipping makes it convolve)."""
        return self.kernel.flip(0, 1).to(dtype=like.dtype, device=like.device)[None, None]

    def _reflect(self, x: torch.Tensor) -> torch.Tensor:
        n, c, height, width = x.shape
        top, bottom, left, right = self._pads()
        rows = symmetric_indices(height, top, bottom, x.device)
        cols = symmetric_indices(width, left, right, x.device)
        padded = x.reshape(n * c, 1, height, width).index_select(2, rows).index_select(3, cols)
        return F.conv2d(padded, self._weight(x)).reshape(n, c, height, width)

    def _reflect_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        n, c, height, width = y.shape
        top, bottom, left, right = self._pads()
        rows = symmetric_indices(height, top, bottom, y.device)
        cols = symmetric_indices(width, left, right, y.device)
        padded = F.conv_transpose2d(y.reshape(n * c, 1, height, width), self._weight(y))
        folded_cols = padded.new_zeros(n * c, 1, padded.shape[2], width)
        folded_cols.index_add_(3, cols, padded)
        folded = padded.new_zeros(n * c, 1, height, width)
        folded.index_add_(2, rows, folded_cols)
        return folded.reshape(n, c, height, width)

    # -- the operator -------------------------------------------------------------------
    def A(self, x: torch.Tensor) -> torch.Tensor:  # noqa: N802
        if self.boundary == "circular":
            return self._circular(x, adjoint=False)
        return self._reflect(x)

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        if self.boundary == "circular":
            return self._circular(y, adjoint=True)
        return self._reflect_adjoint(y)
