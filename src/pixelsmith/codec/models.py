"""The codec networks: factorized prior and (mean-)scale hyperprior (Balle et al. 2018, Minnen
et al. 2018), and a plain convolutional autoencoder with a fixed 8-bit latent as a baseline.

Every codec has the three modes of the design notes:

- ``forward(x)`` -> ``{"x_hat", "likelihoods"}``: noisy latents in training mode, rounded
  ones in eval mode (the "forward with rounding" path, which decodes to exactly what
  ``decompress`` gives, since both share the rounding code);
- ``compress_padded(x)`` -> list of byte streams; ``decompress_padded(streams, h, w)`` -> x_hat;
- ``update()`` finalizes the entropy tables after training (``finalized()`` says if current).

The codecs with an entropy model also split ``compress_padded`` into ``analyse(x)`` (the
continuous latents) and ``compress_latents``, and offer ``relaxed(latents, quantize)`` (bits and
x_hat, differentiable), which :mod:`pixelsmith.codec.refine` uses to tune the latents of one
image before coding them.

They work on images whose sides are multiples of ``pad_multiple`` (the product of the
strides down to the last latent); :mod:`pixelsmith.codec.api` pads and crops. Constructor
arguments are the model's whole description (they go to ``config.json``): ``channels`` (1
gray, 3 RGB), ``N`` (hidden width), ``M`` (latent channels), and the operating point:
``quality`` (the index written into files, 0 = unnamed) and ``lmbda`` (the rate-distortion
trade-off the codec family trains with: rate + lmbda * 255^2 * MSE).

The hyperprior computes its entropy parameters (scales, means) in fixed point at evaluation
time (:func:`hyper_synthesis_fixed`): the scale of each latent picks a row of the coding table,
so encoder and decoder must agree on it exactly, and integer arithmetic gives the same scales on
every machine. (Files of format version 1 chose rows from float64 scales;
``decompress_padded(..., version=1)`` still reads them that way.)

Decoding runs the synthesis transform over tiles of the latent (:meth:`Codec.synthesize`), each
with a halo wide enough that the tiles equal the whole-image transform, so the memory of
decoding grows with the image only through its output (docs/CODEC.md).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping
from fractions import Fraction
from types import MappingProxyType

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from pixelsmith.codec import coder
from pixelsmith.codec.entropy import (
    SCALE_BITS,
    EntropyBottleneck,
    GaussianConditional,
    dequantize,
    symbols_of,
    uniform_noise,
)
from pixelsmith.codec.gdn import GDN
from pixelsmith.codec.precision import Float32Sequential, MixedSequential
from pixelsmith.errors import PixelsmithError

#: the kind byte of the file format per codec class name
KINDS = {"FactorizedPrior": 1, "MeanScaleHyperprior": 2, "ConvAECodec": 3}

#: lmbda multiplies the MSE of [0, 1] pixels times this (8-bit levels, as in CompressAI)
RD_SCALE = 255.0**2

#: ``quantize(values, centre)``: a differentiable stand-in for rounding around ``centre``
Quantizer = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: the newest .pxs version (pixelsmith.codec.format.VERSION): what compress writes
FORMAT_VERSION = 2
#: pixels per latent element along each side of the synthesis transform (4 stride-2 layers)
LATENT_STRIDE = 16
#: latent rows and columns per synthesis tile (512 pixels), and the halo around each tile:
#: each 5x5 stride-2 transposed convolution reaches one input sample either side, so an
#: output pixel depends on latents within 1 + 1/2 + 1/4 + 1/8 < 2 latent samples
SYNTHESIS_TILE = 32
SYNTHESIS_HALO = 2
#: the same for the hyperprior's h_s, in hyper-latent samples (4 latent samples each)
HYPER_TILE = 16
HYPER_HALO = 2

_LIMB = 21  # fixed-point activations are split into two limbs of 21 bits
_ACTIVATION_LIMIT = (1 << (2 * _LIMB)) - 1  # |activation counts| are kept below 2^42


def conv(cin: int, cout: int, kernel: int = 5, stride: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2)


def deconv(cin: int, cout: int, kernel: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, kernel, stride=stride, padding=kernel // 2,
                              output_padding=stride - 1)


def analysis(channels: int, n: int, m: int) -> nn.Sequential:
    """g_a: four stride-2 5x5 convolutions with GDN between them (16x downsampling)."""
    return MixedSequential(conv(channels, n), GDN(n), conv(n, n), GDN(n), conv(n, n), GDN(n),
                           conv(n, m))


def synthesis(channels: int, n: int, m: int) -> nn.Sequential:
    """g_s: the mirror of :func:`analysis` with inverse GDN."""
    return MixedSequential(deconv(m, n), GDN(n, inverse=True), deconv(n, n),
                           GDN(n, inverse=True), deconv(n, n), GDN(n, inverse=True),
                           deconv(n, channels))


def channel_ids(shape: tuple[int, ...]) -> np.ndarray:
    """Per element of an (N, C, H, W) latent, its channel: the bottleneck's table row."""
    n, c, h, w = shape
    return np.broadcast_to(np.arange(c).reshape(1, c, 1, 1), (n, c, h, w)).ravel()


def _numpy_symbols(symbols: torch.Tensor) -> np.ndarray:
    return symbols.detach().cpu().numpy().astype(np.int64).ravel()


class Codec(nn.Module):
    """What the API and the file format need from every codec."""

    pad_multiple = 16
    streams = 1
    learned_rate = True  # has an entropy model (trained on rate + lambda * distortion)
    #: set by :func:`pixelsmith.codec.api.load_codec`: the model id files carry (None: compute
    #: it from the state), and the ids of earlier packagings that version 1 files may carry
    pixelsmith_id: bytes | None = None
    version1_ids: Mapping[bytes, dict] = MappingProxyType({})

    def __init__(self, channels: int = 3, N: int = 128, M: int = 192, quality: int = 0,
                 lmbda: float = 0.0) -> None:
        super().__init__()
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        if not 0 <= int(quality) <= 255:
            raise ValueError(f"quality must be in 0..255, got {quality}")
        self.channels, self.N, self.M = int(channels), int(N), int(M)
        self.quality, self.lmbda = int(quality), float(lmbda)

    @property
    def kind(self) -> int:
        return KINDS[type(self).__name__]

    def latent_shape(self, height: int, width: int, stride: int = 16,
                     channels: int | None = None) -> tuple[int, int, int, int]:
        return (1, self.M if channels is None else channels, height // stride, width // stride)

    def compress_padded(self, x: torch.Tensor) -> list[bytes]:
        """The byte streams of padded images x."""
        with torch.no_grad():
            return self.compress_latents(self.analyse(x))

    def analyse(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def compress_latents(self, latents: dict[str, torch.Tensor]) -> list[bytes]:
        raise NotImplementedError

    def update(self) -> None:
        """Build the entropy tables from the current weights (nothing to do by default)."""

    def finalized(self) -> bool:
        return True

    @torch.no_grad()
    def round_weights(self, dtype: torch.dtype) -> None:
        """Round every parameter to the values ``dtype`` can hold, then finalize again.

        For storage in a smaller type (``save_model(storage_dtype=...)``): loading casts the
        stored values back exactly, so the tables built here from the rounded weights stay
        current after loading and the model's files decode anywhere (docs/CODEC.md).
        """
        for param in self.parameters():
            param.copy_(param.to(dtype).to(param.dtype))
        self.update()

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def synthesis_input(self, latent: torch.Tensor) -> torch.Tensor:
        """What ``g_s`` takes, from the decoded latent (pointwise, so it tiles freely)."""
        return latent

    @torch.no_grad()
    def synthesize(self, latent: torch.Tensor, crop: tuple[int, int] | None = None,
                   tile: int = SYNTHESIS_TILE) -> torch.Tensor:
        """``g_s`` over tiles of ``tile`` x ``tile`` latent samples plus a halo of
        ``SYNTHESIS_HALO``, written into one output cropped to ``crop`` (height, width).

        The halo covers the transform's reach, so every tile's pixels are those of the
        whole-image transform; peak memory is the output plus one tile's activations, whatever
        the image size. (Bit for bit equal to ``g_s`` on the whole latent with one thread, as
        tested; with several threads float32 sums may be split differently, as they are
        between two whole-image runs with different thread counts.)
        """
        return map_tiles(lambda part: self.g_s(self.synthesis_input(part)), latent,
                         LATENT_STRIDE, tile, SYNTHESIS_HALO, crop)


class FactorizedPrior(Codec):
    """Balle et al. 2018's factorized-prior model: g_a, a per-channel learned density, g_s."""

    def __init__(self, channels: int = 3, N: int = 128, M: int = 192, quality: int = 0,
                 lmbda: float = 0.0) -> None:
        super().__init__(channels, N, M, quality, lmbda)
        self.g_a = analysis(channels, N, M)
        self.g_s = synthesis(channels, N, M)
        self.entropy_y = EntropyBottleneck(M)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        y_hat, likelihood = self.entropy_y(self.g_a(x), generator)
        return {"x_hat": self.g_s(y_hat), "likelihoods": {"y": likelihood}}

    def update(self) -> None:
        self.entropy_y.update()

    def finalized(self) -> bool:
        return self.entropy_y.finalized()

    def analyse(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The continuous latents of x, before quantisation."""
        return {"y": self.g_a(x)}

    def relaxed(self, latents: dict[str, torch.Tensor], quantize: Quantizer
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(bits, x_hat) with ``quantize(values, centre)`` in place of rounding: a
        differentiable stand-in for coding, for encoder-side refinement."""
        centre = self.entropy_y.medians().view(1, -1, 1, 1)
        y_hat = quantize(latents["y"], centre)
        return rate_bits({"y": self.entropy_y.likelihood(y_hat)}), self.g_s(y_hat)

    @torch.no_grad()
    def compress_latents(self, latents: dict[str, torch.Tensor]) -> list[bytes]:
        y = latents["y"]
        centre = self.entropy_y.medians().view(1, -1, 1, 1)
        symbols = _numpy_symbols(symbols_of(y, centre))
        return [coder.encode(symbols, channel_ids(y.shape), self.entropy_y.tables())]

    @torch.no_grad()
    def decompress_padded(self, streams: list[bytes], height: int, width: int, *,
                          version: int = FORMAT_VERSION,
                          crop: tuple[int, int] | None = None) -> torch.Tensor:
        """x_hat of padded size (height, width), or cropped to ``crop``; all versions alike."""
        shape = self.latent_shape(height, width)
        symbols = coder.decode(streams[0], channel_ids(shape), self.entropy_y.tables())
        centre = self.entropy_y.medians().view(1, -1, 1, 1)
        y_hat = dequantize(torch.from_numpy(symbols).view(shape).to(self._device()), centre)
        del symbols
        return self.synthesize(y_hat, crop)


class HyperpriorTables:
    """The entropy tables of a codec with a hyperprior: a factorized prior for z
    (``entropy_z``) and a Gaussian conditional for y (``gaussian``)."""

    entropy_z: EntropyBottleneck
    gaussian: GaussianConditional

    def update(self) -> None:
        self.entropy_z.update()
        self.gaussian.update()

    def finalized(self) -> bool:
        return self.entropy_z.finalized() and self.gaussian.finalized()

    def _z_centre(self) -> torch.Tensor:
        return self.entropy_z.medians().view(1, -1, 1, 1)


class MeanScaleHyperprior(HyperpriorTables, Codec):
    """A hyperprior: z = h_a(y) is coded with a factorized prior, and h_s(z_hat) predicts a
    Gaussian (mean and scale; scale only with ``mean=False``, Balle et al. 2018) for each
    element of y.

    ``mixed_quantization`` changes training only: the rate still sees y plus uniform noise,
    but g_s sees y rounded around its predicted mean, as at test time, with a straight-through
    gradient (Minnen & Singh 2020). The decoder then trains on the latents it will decode.
    """

    pad_multiple = 64
    streams = 2

    def __init__(self, channels: int = 3, N: int = 128, M: int = 192, quality: int = 0,
                 lmbda: float = 0.0, mean: bool = True, mixed_quantization: bool = False
                 ) -> None:
        super().__init__(channels, N, M, quality, lmbda)
        self.mean = bool(mean)
        self.mixed_quantization = bool(mixed_quantization)
        self.g_a = analysis(channels, N, M)
        self.g_s = synthesis(channels, N, M)
        self.h_a = Float32Sequential(conv(M, N, 3, 1), nn.LeakyReLU(), conv(N, N),
                                     nn.LeakyReLU(), conv(N, N))
        wide = M * 3 // 2
        self.h_s = Float32Sequential(deconv(N, M), nn.LeakyReLU(), deconv(M, wide),
                                     nn.LeakyReLU(), conv(wide, 2 * M if mean else M, 3, 1))
        self.entropy_z = EntropyBottleneck(N)
        self.gaussian = GaussianConditional()

    def entropy_parameters(self, z_hat: torch.Tensor
                           ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(scales, means or None) from z_hat: float32 in training; in eval mode float64
        holding the exact fixed-point values of :func:`hyper_synthesis_fixed`."""
        if self.training:
            params = self.h_s(z_hat)
        else:
            params = self.hyper_counts(z_hat).to(torch.float64).mul_(2.0**-SCALE_BITS)
            params = params.to(z_hat.device)
        return self._split(params)

    @torch.no_grad()
    def hyper_counts(self, z_hat: torch.Tensor, tile: int = HYPER_TILE) -> torch.Tensor:
        """:func:`hyper_synthesis_fixed` over tiles of z_hat (integer arithmetic, so the tiles
        equal the whole exactly): int64 counts of 2^-SCALE_BITS, means first, on the CPU."""
        return map_tiles(lambda part: hyper_synthesis_fixed(self.h_s, part), z_hat.cpu(), 4,
                         tile, HYPER_HALO)

    def entropy_parameters_float64(self, z_hat: torch.Tensor
                                   ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(scales, means or None) from h_s in float64: how format version 1 computed them."""
        weights = {k: v.double() for k, v in self.h_s.named_parameters()}
        return self._split(torch.func.functional_call(self.h_s, weights, (z_hat.double(),)))

    def _split(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.mean:
            return params, None
        means, scales = params.chunk(2, dim=1)
        return scales, means

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        y = self.g_a(x)
        z = self.h_a(y if self.mean else torch.abs(y))
        z_hat, z_likelihood = self.entropy_z(z, generator)
        scales, means = self.entropy_parameters(z_hat)
        y_hat, y_likelihood = self.gaussian(y, scales, means, generator)
        if self.training and self.mixed_quantization:
            y_hat = straight_through_round(y, means)
        return {"x_hat": self.g_s(y_hat), "likelihoods": {"y": y_likelihood, "z": z_likelihood}}

    def analyse(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The continuous latents y and z of x, before quantisation."""
        y = self.g_a(x)
        return {"y": y, "z": self.h_a(y if self.mean else torch.abs(y))}

    def relaxed(self, latents: dict[str, torch.Tensor], quantize: Quantizer
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(bits, x_hat) with ``quantize(values, centre)`` in place of rounding: a
        differentiable stand-in for coding, for encoder-side refinement (float32 throughout)."""
        z_hat = quantize(latents["z"], self._z_centre())
        params = self.h_s(z_hat)
        means, scales = params.chunk(2, dim=1) if self.mean else (None, params)
        centre = torch.zeros((), device=z_hat.device) if means is None else means
        y_hat = quantize(latents["y"], centre)
        bits = rate_bits({"z": self.entropy_z.likelihood(z_hat),
                          "y": self.gaussian.likelihood(y_hat - centre, scales)})
        return bits, self.g_s(y_hat)

    @torch.no_grad()
    def compress_latents(self, latents: dict[str, torch.Tensor]) -> list[bytes]:
        y, z = latents["y"], latents["z"]
        z_symbols = symbols_of(z, self._z_centre())
        scales, means = self.entropy_parameters(dequantize(z_symbols, self._z_centre()))
        y_symbols = symbols_of(y, 0.0 if means is None else means)
        rows = self.gaussian.indexes(scales).cpu().numpy().ravel()
        return [coder.encode(_numpy_symbols(z_symbols), channel_ids(z.shape),
                             self.entropy_z.tables()),
                coder.encode(_numpy_symbols(y_symbols), rows, self.gaussian.tables())]

    @torch.no_grad()
    def decode_symbols(self, streams: list[bytes], height: int, width: int,
                       version: int = FORMAT_VERSION, scale_table: torch.Tensor | None = None
                       ) -> tuple[np.ndarray, np.ndarray, torch.Tensor | None]:
        """(z symbols, y symbols, means) of padded size (height, width): version 2 picks the
        rows of y from fixed-point scales, version 1 from float64 ones against the float64
        scale table (``scale_table``, else the stored one)."""
        z_shape = self.latent_shape(height, width, 64, self.N)
        z_symbols = coder.decode(streams[0], channel_ids(z_shape), self.entropy_z.tables())
        z_hat = dequantize(torch.from_numpy(z_symbols).view(z_shape).to(self._device()),
                           self._z_centre())
        if version == 1:
            scales, means = self.entropy_parameters_float64(z_hat)
            rows = self.gaussian.indexes_float(scales, scale_table)
        else:
            counts = self.hyper_counts(z_hat)
            scales, mean_counts = self._split(counts)
            rows = self.gaussian.indexes(scales)
            means = None if mean_counts is None else (
                mean_counts.to(torch.float64).mul_(2.0**-SCALE_BITS).to(self._device()))
            del counts, mean_counts
        del scales
        rows = rows.cpu().numpy().ravel()
        y_symbols = coder.decode(streams[1], rows, self.gaussian.tables())
        return z_symbols, y_symbols, means

    @torch.no_grad()
    def decompress_padded(self, streams: list[bytes], height: int, width: int, *,
                          version: int = FORMAT_VERSION, crop: tuple[int, int] | None = None,
                          scale_table: torch.Tensor | None = None) -> torch.Tensor:
        """x_hat of padded size (height, width), or cropped to ``crop``."""
        _, y_symbols, means = self.decode_symbols(streams, height, width, version, scale_table)
        shape = self.latent_shape(height, width)
        y_symbols = torch.from_numpy(y_symbols).view(shape).to(self._device())
        y_hat = dequantize(y_symbols, 0.0 if means is None else means)
        del y_symbols, means
        return self.synthesize(y_hat, crop)


def map_tiles(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, stride: int,
              tile: int, halo: int, crop: tuple[int, int] | None = None) -> torch.Tensor:
    """``fn(x)`` for a convolutional ``fn`` that maps (N, C, h, w) to (N, C', h * stride,
    w * stride), computed over tiles of ``tile`` x ``tile`` samples of x, each with ``halo``
    samples of context on every side, and assembled into one output cropped to ``crop``
    (rows, columns; default the whole). Equal to ``fn(x)`` when the halo covers fn's reach."""
    n, _, rows, cols = x.shape
    height, width = crop or (rows * stride, cols * stride)
    out = None
    for top in range(0, math.ceil(height / stride), tile):
        for left in range(0, math.ceil(width / stride), tile):
            r0, c0 = max(top - halo, 0), max(left - halo, 0)
            piece = fn(x[..., r0:min(top + tile + halo, rows), c0:min(left + tile + halo, cols)])
            if out is None:
                out = piece.new_empty((n, piece.shape[1], height, width))
            y0, x0 = top * stride, left * stride
            y1, x1 = min((top + tile) * stride, height), min((left + tile) * stride, width)
            out[..., y0:y1, x0:x1] = piece[..., y0 - r0 * stride:y1 - r0 * stride,
                                           x0 - c0 * stride:x1 - c0 * stride]
            del piece
    return out


def _weight_bits(terms: int) -> int:
    """Bits of fixed-point weights whose products with 21-bit limbs, summed over ``terms``,
    stay below 2^53 (the default precision of :func:`fixed_conv`)."""
    return 53 - _LIMB - max(1, math.ceil(math.log2(terms))) - 1


def _fixed_weight(weight: torch.Tensor, bits: int) -> tuple[torch.Tensor, int]:
    """(W, s): float64 integers W = round(weight * 2^s), with s chosen so that |W| stays
    below 2^bits. Exact (a power-of-two scaling, then rounding), so the same on every
    machine."""
    weight = weight.detach().to(torch.float64).cpu()
    peak = float(weight.abs().max())
    if peak == 0.0 or not math.isfinite(peak):
        return torch.zeros_like(weight), 0
    shift = bits - math.frexp(peak)[1]  # peak < 2^frexp exponent
    return torch.round(weight * 2.0**shift), shift


def _round_shift(values: torch.Tensor, shift: int) -> torch.Tensor:
    """round(values / 2^shift) for int64 values, halves up (exact integer arithmetic)."""
    if shift <= 0:
        return values << -shift
    return (values + (1 << (shift - 1))) >> shift


def _fixed_layer(layer: nn.Module, x: torch.Tensor, weight_bits: int | None = None
                 ) -> torch.Tensor:
    """One layer of :func:`hyper_synthesis_fixed` on int64 activation counts."""
    if isinstance(layer, nn.LeakyReLU):
        slope = Fraction(layer.negative_slope).limit_denominator(1 << 16)
        scaled = torch.div(x * slope.numerator + slope.denominator // 2, slope.denominator,
                           rounding_mode="floor")
        return torch.where(x < 0, scaled, x)
    if isinstance(layer, nn.ReLU):
        return x.clamp_min(0)
    if not isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)) or layer.groups != 1:
        raise TypeError(f"no fixed-point form for {type(layer).__name__}")
    transposed = isinstance(layer, nn.ConvTranspose2d)
    return fixed_conv(x, layer.weight, layer.bias, transposed=transposed, stride=layer.stride,
                      padding=layer.padding, dilation=layer.dilation,
                      output_padding=layer.output_padding if transposed else 0,
                      weight_bits=weight_bits)


def fixed_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, *,
               transposed: bool = False, stride=1, padding=0, dilation=1,
               output_padding=0, weight_bits: int | None = None) -> torch.Tensor:
    """A (transposed) convolution with ``weight`` and ``bias`` on int64 activation counts of
    2^-SCALE_BITS, in exact fixed point (see :func:`hyper_synthesis_fixed`): the same integers
    on every machine, with any thread count.

    The weights become integers of ``weight_bits`` bits (default: the precision that fits
    21-bit limbs); the activations are split into two limbs of ``53 - weight_bits -
    log2(terms) - 1`` bits, so every product and partial sum is an integer below 2^53. When
    every activation fits one limb (an exact integer test), one pass computes the same
    integers at half the cost. Fewer weight bits make that the common case."""
    cin = weight.shape[0 if transposed else 1]
    terms = cin * weight.shape[2] * weight.shape[3]
    log_terms = max(1, math.ceil(math.log2(terms)))
    if weight_bits is None:
        weight_bits, limb = _weight_bits(terms), _LIMB
    else:
        limb = 53 - weight_bits - log_terms - 1
    weight, shift = _fixed_weight(weight, weight_bits)

    def conv(part: torch.Tensor) -> torch.Tensor:
        part = part.to(torch.float64)
        if transposed:
            out = F.conv_transpose2d(part, weight, None, stride, padding, output_padding, 1,
                                     dilation)
        else:
            out = F.conv2d(part, weight, None, stride, padding, dilation)
        # every product and partial sum is an integer below 2^53: exact in any order
        return torch.round(out).to(torch.int64)

    peak = int(x.abs().max()) if x.numel() else 0
    if peak < 1 << limb:  # one limb: the same integers as the two-limb sum below
        out = _round_shift(conv(x), shift)
    else:
        high = x >> limb  # x = high * 2^limb + low, 0 <= low < 2^limb
        low = x - (high << limb)
        c_high, c_low = conv(high), conv(low)
        if shift <= limb:
            out = (c_high << (limb - shift)) + _round_shift(c_low, shift)
        else:
            quotient = c_high >> (shift - limb)
            rest = c_high - (quotient << (shift - limb))
            out = quotient + _round_shift((rest << limb) + c_low, shift)
    if bias is not None:
        bias = torch.round(bias.detach().to(torch.float64).cpu() * float(1 << SCALE_BITS))
        out = out + bias.to(torch.int64).view(1, -1, 1, 1)
    return out


@torch.no_grad()
def hyper_synthesis_fixed(h_s: nn.Sequential, z_hat: torch.Tensor) -> torch.Tensor:
    """h_s(z_hat) in fixed point: int64 counts of 2^-SCALE_BITS, the same on every machine.

    Activations are integers (counts of 2^-SCALE_BITS, kept below 2^42 in magnitude), each
    layer's weights are integers ``round(w * 2^s)`` with a per-layer power of two, and each
    convolution runs in float64 on two 21-bit limbs of the activations, where every product and
    partial sum is an integer below 2^53, so the float64 result is exact whatever the summation
    order, instruction set or thread count. Rescaling, biases and the leaky ReLU's slope are
    integer arithmetic with round-half-up. The result is within a few 2^-17 of the float
    computation, far below what matters for coding, and it is a function of the stored weights
    and the decoded z alone. Runs on the CPU.
    """
    x = torch.round(z_hat.detach().to(torch.float64).cpu() * float(1 << SCALE_BITS))
    return fixed_forward(h_s, x.to(torch.int64))


def fixed_forward(layers: nn.Sequential, x: torch.Tensor, weight_bits: int | None = None
                  ) -> torch.Tensor:
    """``layers`` (convolutions, transposed convolutions, leaky ReLUs) on int64 counts of
    2^-SCALE_BITS in exact fixed point, as :func:`hyper_synthesis_fixed` runs h_s
    (``weight_bits``: see :func:`fixed_conv`)."""
    for layer in layers:
        x = _fixed_layer(layer, clamp_counts(x), weight_bits)
    return clamp_counts(x)


def clamp_counts(x: torch.Tensor) -> torch.Tensor:
    """Fixed-point activations kept below 2^42 counts in magnitude (the limbs' range)."""
    return x.clamp(-_ACTIVATION_LIMIT, _ACTIVATION_LIMIT)


def straight_through_round(y: torch.Tensor, centre: torch.Tensor | None) -> torch.Tensor:
    """round(y - centre) + centre in the forward pass, the identity in the backward pass."""
    centre = torch.zeros((), device=y.device) if centre is None else centre
    return y + (torch.round(y - centre) + centre - y).detach()


class ConvAECodec(Codec):
    """Baseline: a plain convolutional autoencoder (ReLU, no entropy model) whose latent is
    squashed by tanh and quantised to 8 bits, stored with zlib. Its rate is fixed by ``M``
    (8 * M / 256 bits per pixel before zlib); it shows what a learned entropy model buys."""

    learned_rate = False

    def __init__(self, channels: int = 3, N: int = 64, M: int = 16, quality: int = 0,
                 lmbda: float = 0.0) -> None:
        super().__init__(channels, N, M, quality, lmbda)
        # MixedSequential: under bf16 autocast the 8-bit levels still come from float32
        self.g_a = MixedSequential(conv(channels, N), nn.ReLU(), conv(N, N), nn.ReLU(),
                                   conv(N, N), nn.ReLU(), conv(N, M))
        self.g_s = MixedSequential(deconv(M, N), nn.ReLU(), deconv(N, N), nn.ReLU(),
                                   deconv(N, N), nn.ReLU(), deconv(N, channels))

    def levels(self, x: torch.Tensor) -> torch.Tensor:
        """The latent in [0, 255] (before rounding)."""
        return (torch.tanh(self.g_a(x)) + 1.0) * 127.5

    def synthesis_input(self, latent: torch.Tensor) -> torch.Tensor:
        """The 8-bit levels back in [-1, 1]."""
        return latent / 127.5 - 1.0

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        q = self.levels(x)
        q = uniform_noise(q, generator) if self.training else torch.round(q)
        return {"x_hat": self.g_s(self.synthesis_input(q)), "likelihoods": {}}

    @torch.no_grad()
    def compress_padded(self, x: torch.Tensor) -> list[bytes]:
        q = torch.round(self.levels(x)).clamp(0, 255).to(torch.uint8)
        return [zlib.compress(q.cpu().numpy().tobytes(), 9)]

    @torch.no_grad()
    def decompress_padded(self, streams: list[bytes], height: int, width: int, *,
                          version: int = FORMAT_VERSION,
                          crop: tuple[int, int] | None = None) -> torch.Tensor:
        """x_hat of padded size (height, width), or cropped to ``crop``; all versions alike."""
        shape = self.latent_shape(height, width)
        expected = int(np.prod(shape))
        inflater = zlib.decompressobj()
        try:
            raw = inflater.decompress(streams[0], expected + 1)
        except zlib.error as exc:
            raise PixelsmithError(f"corrupted stream ({exc})") from None
        if len(raw) != expected or not inflater.eof or inflater.unused_data:
            raise PixelsmithError("corrupted stream (latent has the wrong size)")
        q = torch.from_numpy(np.frombuffer(raw, dtype=np.uint8).copy()).view(shape)
        return self.synthesize(q.to(self._device(), torch.float32), crop)


def rate_bits(likelihoods: dict[str, torch.Tensor]) -> torch.Tensor:
    """Total information content, in bits, of the latents' likelihoods."""
    total = torch.zeros(())
    for value in likelihoods.values():
        total = total.to(value.device) + (-torch.log2(value)).sum()
    return total


def pad_image(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Replicate-pad (N, C, H, W) at the bottom and right to multiples of ``multiple``;
    returns the padded images and (pad_bottom, pad_right)."""
    height, width = x.shape[-2:]
    bottom, right = (-height) % multiple, (-width) % multiple
    if bottom or right:
        x = F.pad(x, (0, right, 0, bottom), mode="replicate")
    return x, (bottom, right)
