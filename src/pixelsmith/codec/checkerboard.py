"""A checkerboard context model on top of the mean-scale hyperprior (He et al. 2021,
"Checkerboard Context Model for Efficient Learned Image Compression").

The latent y is split like a checkerboard: *anchors* at positions whose row + column is even,
*non-anchors* at the others. Anchors are coded first, with entropy parameters (mean, scale)
from the hyperprior alone; non-anchors second, with parameters from the hyperprior and a masked
5x5 convolution over the decoded anchors around them (the 12 taps of the 5x5 window whose
row + column offset is odd: exactly the anchors). Both passes code all their positions at
once, so decoding stays two parallel steps instead of Minnen et al.'s serial raster scan.

The entropy-parameter network is CompressAI's: three 1x1 convolutions (4M -> 10M/3 -> 8M/3 ->
2M, leaky ReLU) on the hyperprior's 2M features concatenated with the context's 2M (zeros for
anchors). Three modes as every codec (:mod:`pixelsmith.codec.models`): ``forward`` (noisy
latents in training, the coding path in eval mode), ``compress_latents`` /
``decompress_padded`` (three streams: z, the anchors of y, the non-anchors of y) and
``update``; ``relaxed`` serves encoder-side refinement.

Determinism: everything that decides a coding row or a mean at decode time is computed in
exact fixed point, as the hyperprior's h_s is (:func:`~pixelsmith.codec.models.fixed_conv`):
h_s, the context convolution (run on the gathered anchor neighbours of each non-anchor, a
matrix product whose integer sums are exact in float64) and the entropy-parameter network. The
decoded anchors enter the context as integer counts ``symbol * 2^16 + mean count``, so the
whole chain is integers from the stored weights and the decoded symbols: the same rows and
means on every machine and with any thread count. The eval-mode forward, ``compress`` and
``decompress`` share :meth:`CheckerboardHyperprior.code_passes`, so the forward's rounded
latent is the decoded one bit for bit.

Memory: h_s runs over tiles of z (as in the hyperprior), the context and entropy parameters
over chunks of positions, and g_s over tiles of the latent, so decoding holds per-latent
integer arrays (a few tens of bytes per latent value) and one tile's activations.
"""

from __future__ import annotations

from collections.abc import Callable

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
from pixelsmith.codec.models import (
    FORMAT_VERSION,
    HYPER_HALO,
    HYPER_TILE,
    Codec,
    HyperpriorTables,
    Quantizer,
    analysis,
    channel_ids,
    clamp_counts,
    conv,
    deconv,
    fixed_conv,
    fixed_forward,
    map_tiles,
    rate_bits,
    straight_through_round,
    synthesis,
)
from pixelsmith.codec.precision import Float32Sequential, float32_region, widened
from pixelsmith.errors import PixelsmithError

#: the kind byte of .pxs files written by this codec (docs/FORMAT.md)
KIND = 4
#: positions per chunk of the fixed-point context and entropy-parameter computation
CHUNK = 4096
CONTEXT_KERNEL = 5
#: bits of the fixed-point weights of h_s, the context and the entropy-parameter network: with
#: 16 bits, activations up to a few hundred (in units) fit one limb, so most convolutions run
#: in one float64 pass instead of two (models.fixed_conv)
WEIGHT_BITS = 16
#: the context window's taps that fall on anchors, seen from a non-anchor: odd row + column
TAPS = tuple((i, j) for i in range(CONTEXT_KERNEL) for j in range(CONTEXT_KERNEL)
             if (i + j) % 2 == 1)

#: what ``symbols_for(pass, positions, mean_counts, scale_counts)`` returns: int64 symbols
#: (1, M, L) of one pass, given its positions (flat indices) and fixed-point parameters
SymbolSource = Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def anchor_mask(height: int, width: int, device: torch.device | None = None) -> torch.Tensor:
    """(1, 1, height, width) bool: True at anchors (row + column even)."""
    rows = torch.arange(height, device=device).view(-1, 1)
    cols = torch.arange(width, device=device).view(1, -1)
    return ((rows + cols) % 2 == 0).view(1, 1, height, width)


def pass_positions(height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat raster indices of the anchors and of the non-anchors."""
    mask = anchor_mask(height, width).view(-1)
    return torch.nonzero(mask).view(-1), torch.nonzero(~mask).view(-1)


class CheckerboardContext(nn.Conv2d):
    """A 5x5 convolution that sees only the anchors around a non-anchor position (the taps of
    odd row + column offset); its mask is a constant, not part of the state."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(cin, cout, CONTEXT_KERNEL, padding=CONTEXT_KERNEL // 2)
        mask = torch.zeros(1, 1, CONTEXT_KERNEL, CONTEXT_KERNEL)
        for i, j in TAPS:
            mask[..., i, j] = 1.0
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with float32_region(x):  # rates are decided in float32 (codec.precision)
            return F.conv2d(widened(x), self.weight * self.mask, self.bias, padding=self.padding)

    def tap_weight(self) -> torch.Tensor:
        """The unmasked taps as a 1x1 weight (2M, M * 12, 1, 1), tap-major, for
        :meth:`CheckerboardHyperprior.context_counts`."""
        taps = torch.stack([self.weight[:, :, i, j] for i, j in TAPS], dim=1)
        return taps.reshape(self.out_channels, -1, 1, 1)


def entropy_parameter_net(m: int) -> nn.Sequential:
    """1x1 convolutions 4M -> 10M/3 -> 8M/3 -> 2M with leaky ReLU (CompressAI's widths)."""
    return Float32Sequential(conv(4 * m, m * 10 // 3, 1, 1), nn.LeakyReLU(),
                             conv(m * 10 // 3, m * 8 // 3, 1, 1), nn.LeakyReLU(),
                             conv(m * 8 // 3, 2 * m, 1, 1))


class CheckerboardHyperprior(HyperpriorTables, Codec):
    """Mean-scale hyperprior with a checkerboard context model (module notes).

    ``mixed_quantization`` changes training only, as in
    :class:`~pixelsmith.codec.models.MeanScaleHyperprior`: g_s trains on y rounded around its
    predicted means (straight-through), the rate and the context on y plus uniform noise.
    """

    pad_multiple = 64
    streams = 3

    def __init__(self, channels: int = 3, N: int = 128, M: int = 192, quality: int = 0,
                 lmbda: float = 0.0, mixed_quantization: bool = False) -> None:
        super().__init__(channels, N, M, quality, lmbda)
        self.mixed_quantization = bool(mixed_quantization)
        self.g_a = analysis(channels, N, M)
        self.g_s = synthesis(channels, N, M)
        self.h_a = Float32Sequential(conv(M, N, 3, 1), nn.LeakyReLU(), conv(N, N),
                                     nn.LeakyReLU(), conv(N, N))
        self.h_s = Float32Sequential(deconv(N, M), nn.LeakyReLU(), deconv(M, M * 3 // 2),
                                     nn.LeakyReLU(), conv(M * 3 // 2, 2 * M, 3, 1))
        self.context = CheckerboardContext(M, 2 * M)
        self.entropy_params = entropy_parameter_net(M)
        self.entropy_z = EntropyBottleneck(N)
        self.gaussian = GaussianConditional()

    @property
    def kind(self) -> int:
        return KIND

    def analyse(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The continuous latents y and z of x, before quantisation."""
        y = self.g_a(x)
        return {"y": y, "z": self.h_a(y)}

    # -- float32: training and refinement --------------------------------------------------

    def _float_params(self, hyper: torch.Tensor, ctx: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        means, scales = self.entropy_params(torch.cat([hyper, ctx], dim=1)).chunk(2, dim=1)
        return means, scales

    def _float_passes(self, hyper: torch.Tensor, y: torch.Tensor, quantize: Quantizer
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(y_hat, means, scales) in float32: anchors from the hyperprior, non-anchors from
        the hyperprior and the context of the quantized anchors (``quantize(y, means)``)."""
        anchor = anchor_mask(*y.shape[-2:], y.device)
        means_a, scales_a = self._float_params(hyper, torch.zeros_like(hyper))
        y_a = quantize(y, means_a)
        ctx = self.context(y_a * anchor)
        means_n, scales_n = self._float_params(hyper, ctx)
        y_n = quantize(y, means_n)
        return (torch.where(anchor, y_a, y_n), torch.where(anchor, means_a, means_n),
                torch.where(anchor, scales_a, scales_n))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        y = self.g_a(x)
        z = self.h_a(y)
        z_hat, z_likelihood = self.entropy_z(z, generator)
        if not self.training:
            y_hat, scales, symbols = self._eval_latent(y, z_hat)
            likelihood = self.gaussian.likelihood(symbols.to(y.dtype), scales.to(y.dtype))
            return {"x_hat": self.g_s(y_hat), "likelihoods": {"y": likelihood, "z": z_likelihood}}
        y_tilde = uniform_noise(y, generator)
        _, means, scales = self._float_passes(self.h_s(z_hat), y_tilde, lambda v, c: v)
        likelihood = self.gaussian.likelihood(y_tilde - means, scales)
        y_hat = straight_through_round(y, means) if self.mixed_quantization else y_tilde
        return {"x_hat": self.g_s(y_hat), "likelihoods": {"y": likelihood, "z": z_likelihood}}

    def relaxed(self, latents: dict[str, torch.Tensor], quantize: Quantizer
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(bits, x_hat) with ``quantize(values, centre)`` in place of rounding, both passes
        included (float32): a differentiable stand-in for coding, for refinement."""
        z_hat = quantize(latents["z"], self._z_centre())
        y_hat, means, scales = self._float_passes(self.h_s(z_hat), latents["y"], quantize)
        bits = rate_bits({"z": self.entropy_z.likelihood(z_hat),
                          "y": self.gaussian.likelihood(y_hat - means, scales)})
        return bits, self.g_s(y_hat)

    # -- fixed point: what decides rows and means ---------------------------------------------

    @torch.no_grad()
    def hyper_counts(self, z_hat: torch.Tensor, tile: int = HYPER_TILE) -> torch.Tensor:
        """h_s(z_hat) in fixed point over tiles of z_hat: int64 (1, 2M, h, w) on the CPU."""
        counts = torch.round(z_hat.detach().to(torch.float64).cpu() * float(1 << SCALE_BITS))
        return map_tiles(lambda part: fixed_forward(self.h_s, part, WEIGHT_BITS),
                         counts.to(torch.int64), 4, tile, HYPER_HALO)

    @torch.no_grad()
    def context_counts(self, anchors: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """The context convolution at ``positions`` (flat indices of non-anchors) in fixed
        point: int64 (1, 2M, 1, L) from the anchor counts (1, M, H, W) (zero elsewhere).

        Each position's 12 anchor neighbours are gathered and multiplied by the unmasked taps:
        the masked 5x5 convolution there, with half its work and no work at anchors."""
        _, m, height, width = anchors.shape
        pad = CONTEXT_KERNEL // 2
        padded = F.pad(anchors, (pad, pad, pad, pad)).view(m, -1)
        rows, cols = positions // width, positions % width
        gathered = [padded[:, (rows + i) * (width + 2 * pad) + cols + j] for i, j in TAPS]
        taps = torch.stack(gathered).view(1, len(TAPS) * m, 1, -1)
        return clamp_counts(fixed_conv(taps, self.context.tap_weight(), self.context.bias,
                                       weight_bits=WEIGHT_BITS))

    @torch.no_grad()
    def param_counts(self, hyper: torch.Tensor, anchors: torch.Tensor | None = None,
                     positions: torch.Tensor | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean counts, scale counts), int64 (1, M, L), of the entropy-parameter network on
        gathered hyperprior features (1, 2M, L) and, for non-anchors, the context of
        ``anchors`` (counts (1, M, H, W), zero off the anchors) at ``positions``; anchors
        (``anchors`` None) get a zero context. Runs over chunks of positions, so its memory
        does not grow with the image."""
        outputs = []
        for start in range(0, hyper.shape[-1], CHUNK):
            part = hyper[..., start:start + CHUNK].unsqueeze(2)
            if anchors is None:
                ctx = torch.zeros_like(part)
            else:
                ctx = self.context_counts(anchors, positions[start:start + CHUNK])
            outputs.append(fixed_forward(self.entropy_params, torch.cat([part, ctx], dim=1),
                                         WEIGHT_BITS))
        params = torch.cat(outputs, dim=-1).squeeze(2)
        means, scales = params.chunk(2, dim=1)
        return means, scales

    @torch.no_grad()
    def code_passes(self, z_hat: torch.Tensor, shape: tuple[int, ...],
                    symbols_for: SymbolSource) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The two passes, shared by the eval forward, compress and decompress: (symbols,
        mean counts, scale counts), int64 of ``shape`` (1, M, H, W), on the CPU.

        ``symbols_for(pass, positions, mean_counts, scale_counts)`` gives the symbols of a pass
        (rounding y when encoding, reading the stream when decoding)."""
        _, m, height, width = shape
        hyper = self.hyper_counts(z_hat).view(1, 2 * m, -1)
        symbols = torch.zeros(1, m, height * width, dtype=torch.int64)
        means = torch.zeros_like(symbols)
        scales = torch.zeros_like(symbols)
        anchors_at, others_at = pass_positions(height, width)
        anchors = None
        for index, positions in enumerate((anchors_at, others_at)):
            if index == 1:  # the decoded anchors, exact: symbol * 2^16 + mean count
                anchors = torch.zeros_like(symbols)
                anchors[..., anchors_at] = (symbols[..., anchors_at] * (1 << SCALE_BITS)
                                            + means[..., anchors_at])
                anchors = anchors.view(1, m, height, width)
            mean_counts, scale_counts = self.param_counts(hyper[..., positions], anchors,
                                                          positions)
            symbols[..., positions] = symbols_for(index, positions, mean_counts, scale_counts)
            means[..., positions], scales[..., positions] = mean_counts, scale_counts
        view = (1, m, height, width)
        return symbols.view(view), means.view(view), scales.view(view)

    @staticmethod
    def _float(counts: torch.Tensor) -> torch.Tensor:
        return counts.to(torch.float64).mul_(2.0**-SCALE_BITS)

    def _encode_passes(self, y: torch.Tensor, z_hat: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        flat = y.detach().cpu().reshape(1, y.shape[1], -1)

        def symbols_for(_, positions, mean_counts, __):
            return symbols_of(flat[..., positions], self._float(mean_counts)).to(torch.int64)

        return self.code_passes(z_hat, tuple(y.shape), symbols_for)

    def _eval_latent(self, y: torch.Tensor, z_hat: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(y_hat float32, scales float64, symbols) of the coding path, on y's device; a
        batch is coded image by image, as files are."""
        parts = [self._encode_passes(y[i:i + 1], z_hat[i:i + 1]) for i in range(y.shape[0])]
        symbols, means, scales = (torch.cat(column) for column in zip(*parts, strict=True))
        y_hat = dequantize(symbols, self._float(means)).to(y.device)
        return y_hat, self._float(scales).to(y.device), symbols.to(y.device)

    @torch.no_grad()
    def compress_latents(self, latents: dict[str, torch.Tensor]) -> list[bytes]:
        y, z = latents["y"], latents["z"]
        if y.shape[0] != 1:
            raise ValueError("the checkerboard codec codes one image at a time")
        z_symbols = symbols_of(z, self._z_centre())
        symbols, _, scales = self._encode_passes(y, dequantize(z_symbols, self._z_centre()))
        streams = [coder.encode(z_symbols.cpu().numpy().astype(np.int64).ravel(),
                                channel_ids(z.shape), self.entropy_z.tables())]
        rows = self.gaussian.indexes(scales).view(1, y.shape[1], -1)
        flat = symbols.view(1, y.shape[1], -1)
        for positions in pass_positions(*y.shape[-2:]):
            streams.append(coder.encode(flat[..., positions].numpy().ravel(),
                                        rows[..., positions].numpy().ravel(),
                                        self.gaussian.tables()))
        return streams

    @torch.no_grad()
    def decode_symbols(self, streams: list[bytes], height: int, width: int
                       ) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
        """(z symbols, y symbols, y mean counts) of padded size (height, width)."""
        z_shape = self.latent_shape(height, width, 64, self.N)
        z_symbols = coder.decode(streams[0], channel_ids(z_shape), self.entropy_z.tables())
        z_hat = dequantize(torch.from_numpy(z_symbols).view(z_shape), self._z_centre().cpu())
        tables = self.gaussian.tables()

        def symbols_for(index, _, __, scale_counts):
            rows = self.gaussian.indexes(scale_counts)
            decoded = coder.decode(streams[1 + index], rows.numpy().ravel(), tables)
            return torch.from_numpy(decoded).view(rows.shape)

        symbols, means, _ = self.code_passes(z_hat, self.latent_shape(height, width),
                                             symbols_for)
        return z_symbols, symbols, means

    @torch.no_grad()
    def decompress_padded(self, streams: list[bytes], height: int, width: int, *,
                          version: int = FORMAT_VERSION,
                          crop: tuple[int, int] | None = None) -> torch.Tensor:
        """x_hat of padded size (height, width), or cropped to ``crop`` (version 2 files)."""
        if version != FORMAT_VERSION:
            raise PixelsmithError(f"a checkerboard file must be .pxs version {FORMAT_VERSION}, "
                                  f"not {version}")
        _, symbols, means = self.decode_symbols(streams, height, width)
        y_hat = dequantize(symbols, self._float(means)).to(self._device())
        del symbols, means
        return self.synthesize(y_hat, crop)
