"""MATLAB-compatible bicubic ``imresize`` and the super-resolution downsampling operator.

Super-resolution papers make their low-resolution inputs with MATLAB's ``imresize(hr, 1/s)``;
matching it matters because a different bicubic costs several dB of PSNR. MATLAB's algorithm,
as documented and widely re-implemented:

- cubic convolution kernel with a = -0.5 (Keys);
- output size ``ceil(in * scale)``;
- output pixel x (1-based) samples input position ``u = x / scale + 0.5 * (1 - 1 / scale)``;
- when shrinking, antialiasing: the kernel is stretched by ``1 / scale`` (and scaled down so
  it still integrates to 1), so it averages over the footprint of each output pixel;
- each row of weights is normalised to sum 1; indices past the border are mirrored
  symmetrically (``... 2 1 | 1 2 ... n | n n-1 ...``).

Each axis is a dense (out, in) weight matrix, so resizing is ``Wh @ x @ Ww.T`` and the adjoint
is ``Wh.T @ y @ Ww``: exact, which :class:`Downsample` needs as a linear operator. Matrices
are cached per (input size, output size, scale).

On a uint8 image MATLAB resizes one axis at a time (the axis with the smaller scale first,
rows on a tie) and stores the intermediate in the input's class, i.e. rounds it to 8 bits
between the two passes. ``imresize(..., uint8=True)`` reproduces that: it matches the
published Set5 ``LR_bicubic`` X2, X3 and X4 images pixel for pixel, while the plain float
path, rounded once, matches the X8 ones (made from a double image) pixel for pixel and is
one gray level off on roughly 10-15% of the X2-X4 pixels. ``benchmarks/matlab_bicubic_check.py``
measures both.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from pixelsmith.degrade.base import LinearOperator, check_batch


def cubic(t: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's 'bicubic'), support [-2, 2]."""
    a = np.abs(t)
    near = (1.5 * a**3 - 2.5 * a**2 + 1.0) * (a <= 1)
    far = (-0.5 * a**3 + 2.5 * a**2 - 4.0 * a + 2.0) * ((a > 1) & (a <= 2))
    return near + far


@functools.lru_cache(maxsize=64)
def _weights(in_size: int, out_size: int, scale: float, antialias: bool) -> torch.Tensor:
    """(out_size, in_size) float64 matrix of MATLAB's bicubic resampling along one axis."""
    shrink = antialias and scale < 1
    support = 4.0 / scale if shrink else 4.0
    x = np.arange(1, out_size + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)  # 1-based input coordinate of each output pixel
    left = np.floor(u - support / 2)
    taps = int(math.ceil(support)) + 2
    indices = left[:, None] + np.arange(taps)[None, :]  # 1-based, may fall outside [1, in]
    offsets = u[:, None] - indices
    weights = scale * cubic(scale * offsets) if shrink else cubic(offsets)
    weights /= weights.sum(axis=1, keepdims=True)
    period = np.remainder(indices - 1, 2 * in_size).astype(np.int64)  # 0-based, mirrored
    source = np.where(period < in_size, period, 2 * in_size - 1 - period)
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    rows = np.repeat(np.arange(out_size), taps)
    np.add.at(matrix, (rows, source.reshape(-1)), weights.reshape(-1))
    return torch.from_numpy(matrix)


def resize_matrix(
    in_size: int, out_size: int, scale: float | None = None, antialias: bool = True
) -> torch.Tensor:
    """The (out_size, in_size) float64 weights of MATLAB bicubic resizing along one axis.

    ``scale`` defaults to ``out_size / in_size`` (MATLAB's rule when given an output size).
    """
    if in_size < 1 or out_size < 1:
        raise ValueError(f"sizes must be >= 1, got {in_size} -> {out_size}")
    scale = out_size / in_size if scale is None else float(scale)
    return _weights(int(in_size), int(out_size), scale, bool(antialias))


def _apply(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """rows @ x @ cols.T on the last two axes, in x's dtype and on its device."""
    rows = rows.to(dtype=x.dtype, device=x.device)
    cols = cols.to(dtype=x.dtype, device=x.device)
    return torch.matmul(torch.matmul(rows, x), cols.transpose(0, 1))


def _levels(x: torch.Tensor) -> torch.Tensor:
    """Saturate and round to integer 8-bit levels like MATLAB's uint8 conversion (halves up)."""
    return torch.floor(x.clamp(0.0, 255.0) + 0.5)


def _apply_uint8(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, cols_first: bool
                 ) -> torch.Tensor:
    """MATLAB's uint8 path: one axis at a time on integer levels, rounding after each pass.

    Working on levels 0..255 (not on [0, 1]) keeps exact half-way values exact, so ties round
    the way MATLAB's do.
    """
    rows = rows.to(dtype=x.dtype, device=x.device)
    cols = cols.to(dtype=x.dtype, device=x.device)
    levels = _levels(x * 255.0)
    if cols_first:
        levels = _levels(torch.matmul(rows, _levels(torch.matmul(levels, cols.T))))
    else:
        levels = _levels(torch.matmul(_levels(torch.matmul(rows, levels)), cols.T))
    return levels / 255.0


def imresize(
    x: torch.Tensor,
    scale: float | None = None,
    *,
    size: tuple[int, int] | None = None,
    antialias: bool = True,
    uint8: bool = False,
) -> torch.Tensor:
    """Resize an NCHW batch like MATLAB ``imresize(x, scale)`` (bicubic, antialiased).

    Give ``scale`` (> 1 enlarges; output ``ceil(in * scale)``) or ``size`` = (height, width).
    By default this is MATLAB on a double image: linear, in x's dtype, not clipped (bicubic
    overshoots slightly at edges). ``uint8=True`` is MATLAB on a uint8 image: the input and
    the result of each axis pass are rounded to 8 bits, so the output is k / 255 in [0, 1];
    use it (in float64) to reproduce the standard super-resolution test inputs exactly.
    """
    check_batch(x)
    height, width = x.shape[-2:]
    if size is not None:
        out_h, out_w = int(size[0]), int(size[1])
        scale_h, scale_w = out_h / height, out_w / width
    elif scale is not None and float(scale) > 0:
        scale_h = scale_w = float(scale)
        out_h, out_w = math.ceil(height * scale_h), math.ceil(width * scale_w)
    else:
        raise ValueError(f"imresize needs a positive scale or an output size, got scale={scale}")
    rows = resize_matrix(height, out_h, scale_h, antialias)
    cols = resize_matrix(width, out_w, scale_w, antialias)
    if uint8:
        return _apply_uint8(x, rows, cols, cols_first=scale_w < scale_h)
    return _apply(x, rows, cols)


class Downsample(LinearOperator):
    """Bicubic downsampling by an integer factor: MATLAB ``imresize(x, 1 / scale)`` on doubles.

    Output size is ``ceil(in / scale)`` per axis, so sizes need not be multiples of ``scale``
    (super-resolution benchmarks crop the reference to a multiple first). The adjoint is the
    transposed weight matrices (not an upsampler: use :func:`imresize` for that); it needs the
    high-resolution size, which is ``input_size`` if given, else ``scale`` times the low
    resolution size. For MATLAB's 8-bit output use ``imresize(x, 1 / scale, uint8=True)``.
    """

    def __init__(self, scale: int, input_size: tuple[int, int] | None = None) -> None:
        if isinstance(scale, bool) or int(scale) != scale or int(scale) < 1:
            raise ValueError(f"downsampling scale must be an integer >= 1, got {scale}")
        self.scale = int(scale)
        self.input_size = None if input_size is None else (int(input_size[0]), int(input_size[1]))

    def _matrices(self, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.scale
        rows = resize_matrix(height, -(-height // s), 1.0 / s)
        cols = resize_matrix(width, -(-width // s), 1.0 / s)
        return rows, cols

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) of the downsampled image."""
        return -(-height // self.scale), -(-width // self.scale)

    def A(self, x: torch.Tensor) -> torch.Tensor:  # noqa: N802
        rows, cols = self._matrices(*x.shape[-2:])
        return _apply(x, rows, cols)

    def A_adjoint(self, y: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:  # noqa: N802
        """Transpose of :meth:`A`, back to ``size`` (default: ``input_size``, else ``scale`` x
        the size of ``y``, which is right when the original was a multiple of ``scale``)."""
        size = size or self.input_size or (y.shape[-2] * self.scale, y.shape[-1] * self.scale)
        height, width = size
        rows, cols = self._matrices(int(height), int(width))
        if rows.shape[0] != y.shape[-2] or cols.shape[0] != y.shape[-1]:
            raise ValueError(
                f"a {tuple(y.shape[-2:])} input does not come from a {(height, width)} image "
                f"downsampled x{self.scale}"
            )
        return _apply(y, rows.transpose(0, 1), cols.transpose(0, 1))

    def describe(self) -> str:
        return f"bicubic downsample x{self.scale} (MATLAB imresize)"
