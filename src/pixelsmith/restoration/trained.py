"""Trained networks behind the restore contract ``fn(y, known) -> x_hat``.

A network declares what it is conditioned on with a class attribute ``conditioning``:
None (blind), "sigma" (noise level in [0, 1], per image), "quality" (JPEG quality / 100) or
"mask" (1 = missing). :func:`restoration_forward` is the one place that maps a
:class:`~pixelsmith.degrade.known.Known` to the network's inputs, for training and inference alike.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace

import torch

from pixelsmith.degrade.known import Known
from pixelsmith.errors import PixelsmithError
from pixelsmith.nets.contract import conditioning_of
from pixelsmith.restoration.tiling import tiled_apply
from pixelsmith.runtime.device import resolve_device
from pixelsmith.runtime.precision import fast_precision
from pixelsmith.zoo.config import config_of


def _per_image(value: float | torch.Tensor, n: int, like: torch.Tensor) -> torch.Tensor:
    tensor = torch.as_tensor(value, dtype=like.dtype, device=like.device).reshape(-1)
    return tensor.expand(n) if tensor.numel() == 1 else tensor


def restoration_forward(net: torch.nn.Module, y: torch.Tensor, known: Known) -> torch.Tensor:
    """Call ``net`` on ``y`` with the conditioning input it declares."""
    conditioning = conditioning_of(net)
    if conditioning is None:
        return net(y)
    if conditioning == "sigma":
        if known.sigma is None:
            raise PixelsmithError("this model needs the noise level (--sigma)")
        return net(y, _per_image(known.sigma, y.shape[0], y))
    if conditioning == "quality":
        if known.quality is None:
            raise PixelsmithError("this model needs the JPEG quality (--quality)")
        return net(y, _per_image(known.quality, y.shape[0], y) / 100.0)
    if conditioning == "mask":
        if known.mask is None:
            raise PixelsmithError("this model needs a mask (--mask)")
        return net(y, known.mask.to(y))
    raise PixelsmithError(f"unknown conditioning '{conditioning}'")


def match_channels(net_channels: int, y: torch.Tensor, known: Known, run) -> torch.Tensor:
    """Run a gray model on each colour channel, or a colour model on a gray image repeated.

    ``run(y, known)`` is the model call; per-image conditioning is repeated to match.
    """
    if y.shape[1] == net_channels:
        return run(y, known)
    if net_channels == 1:
        n, c, h, w = y.shape
        mask = None if known.mask is None else known.mask.repeat_interleave(c, dim=0)
        sigma = known.sigma
        if isinstance(sigma, torch.Tensor) and sigma.numel() > 1:
            sigma = sigma.repeat_interleave(c)
        out = run(y.reshape(n * c, 1, h, w), known.with_(mask=mask, sigma=sigma))
        return out.reshape(n, c, out.shape[-2], out.shape[-1])
    return run(y.expand(-1, net_channels, -1, -1), known).mean(dim=1, keepdim=True)


PRECISIONS = ("fp32", "bf16", "fp16", "auto")
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
#: Smallest tile, and smallest image side a network sees: smaller images are padded (edge
#: pixels repeated) and the result cropped, since networks pad internally by up to 16 pixels.
MIN_SIDE = 32


@dataclass(frozen=True)
class RunOptions:
    """How a trained network runs: where, in tiles of what size, at which precision.

    - ``device``: None = cuda when available, else cpu (see :func:`resolve_device`).
    - ``tile`` / ``overlap``: tile side and overlap in input pixels; ``tile=0`` = whole image.
    - ``precision``: "fp32", "bf16" (autocast + channels_last; fast only on GPUs and CPUs
      with native bf16, i.e. AVX512-BF16 or AMX; elsewhere slower than fp32) or "fp16"
      (autocast + channels_last, CUDA only: CPUs have no fast fp16 convolutions), or "auto":
      bf16 where the device runs it natively (a CUDA GPU with bf16, a CPU with AVX512-BF16 or
      AMX), else fp32 (:func:`pixelsmith.runtime.precision.fast_precision`).
    - ``backend``: "torch", "onnxruntime" or "auto" (:mod:`pixelsmith.runtime.ort_backend`);
      None: torch, or onnxruntime for a quantized package.
    """

    device: str | torch.device | None = None
    tile: int | str = 512
    overlap: int | str = 32
    precision: str = "fp32"
    backend: str | None = None

    def checked(self) -> RunOptions:
        """These options with the device resolved; one-line errors for bad values."""
        from pixelsmith.runtime.ort_backend import BACKENDS

        if self.precision not in PRECISIONS:
            raise PixelsmithError(
                f"precision must be {', '.join(PRECISIONS[:-1])} or {PRECISIONS[-1]}, "
                f"not '{self.precision}'"
            )
        if self.backend is not None and self.backend not in BACKENDS:
            raise PixelsmithError(
                f"backend must be {', '.join(BACKENDS)}, not '{self.backend}'")
        device = resolve_device(self.device)
        precision = self.precision
        if precision == "auto":  # ONNX Runtime runs fp32 only
            precision = "fp32" if self.backend == "onnxruntime" else fast_precision(device)
        if precision == "fp16" and device.type != "cuda":
            raise PixelsmithError("precision fp16 needs a CUDA device; on a CPU use fp32 "
                                  "(or bf16 where the CPU has native bf16)")
        tile = _whole_number("tile", self.tile)
        overlap = _whole_number("overlap", self.overlap)
        if 0 < tile < MIN_SIDE:
            raise PixelsmithError(f"tile must be 0 (whole image) or at least {MIN_SIDE} pixels, "
                                  f"not {tile}")
        if tile and overlap >= tile:
            raise PixelsmithError(f"overlap ({overlap}) must be smaller than the tile ({tile})")
        return replace(self, device=device, tile=tile, overlap=overlap, precision=precision)


def _whole_number(name: str, value: int | str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise PixelsmithError(f"{name} must be a whole number, not '{value}'") from None
    if number < 0:
        raise PixelsmithError(f"{name} must be 0 or more, not {number}")
    return number


class ModelRestorer:
    """A loaded network as a restore method ``fn(y, known)``: device, tiling and precision.

    Inputs stay where they are (usually the CPU) and are cut into tiles; each tile moves to the
    device, runs, and comes back, so device memory holds one tile's activations at a time.
    """

    def __init__(self, net: torch.nn.Module, options: RunOptions | None = None) -> None:
        self.module = net  # the torch network; self.net is what runs (it, or its ONNX twin)
        self.net = net
        channels = config_of(net).channels
        self.channels = int(channels if channels is not None else net.channels)
        self.configure(options or RunOptions())

    def configure(self, options: RunOptions) -> None:
        """Check ``options``, pick the backend, and move the network to their device (and
        memory layout). ``self.backend`` says which backend runs: "torch" or "onnxruntime"."""
        from pixelsmith.runtime.ort_backend import OrtNetwork, choose_backend, is_quantized
        from pixelsmith.runtime.precision import warn_slow_precision

        if options.precision == "auto" and options.backend is None and is_quantized(self.module):
            options = replace(options, precision="fp32")  # its int8 graph runs in ONNX Runtime
        self.options = options.checked()
        self.backend = choose_backend(self.options.backend, self.module, self.options.device,
                                      self.options.precision)
        warn_slow_precision(self.options.device.type, self.options.precision)
        if self.backend == "onnxruntime":
            self.net = OrtNetwork(self.module, self.options.device)
            if self.options.backend == "auto" and not is_quantized(self.module):
                from pixelsmith.runtime.auto_backend import faster_backend

                self.backend = faster_backend(self.module, self.net)  # measured, cached
            if self.backend == "onnxruntime":
                return
        self.net = self.module
        layout = torch.channels_last if self._channels_last() else torch.contiguous_format
        self.net.to(self.options.device, memory_format=layout)

    def _channels_last(self) -> bool:
        # NHWC: on CPU (oneDNN) a 512x512 ConditionedUNet ran about 1.3x faster in fp32 and
        # the same in bf16; on CUDA it is the layout tensor cores want for bf16.
        if self.backend != "torch":
            return False
        return self.options.device.type == "cpu" or self.options.precision != "fp32"

    def _autocast(self):
        if self.options.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.options.device.type,
                              dtype=AUTOCAST_DTYPES[self.options.precision])

    def run_whole(self, y: torch.Tensor, known: Known) -> torch.Tensor:
        """One forward pass on ``y`` (a tile or a whole image), on the device, result float32."""
        device = self.options.device
        x = y.to(device, non_blocking=True)
        if self._channels_last():
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), self._autocast():
            out = match_channels(self.channels, x, known,
                                 lambda t, k: restoration_forward(self.net, t, k))
        return out.float().contiguous()

    def __call__(self, y: torch.Tensor, known: Known, progress=None) -> torch.Tensor:
        """Restore ``y`` tile by tile; ``progress(done, total)`` is called after each tile."""
        scale = self.module.scale
        if scale > 1 and known.scale is not None and int(known.scale) != scale:
            name = config_of(self.net).name or "this model"
            raise PixelsmithError(f"model '{name}' upscales x{scale}, not x{known.scale}")
        options = self.options
        height, width = y.shape[-2:]
        y, known = _pad_to_min(y, known, MIN_SIDE)
        out = tiled_apply(self.run_whole, y, known, tile=options.tile, overlap=options.overlap,
                          progress=progress)
        factor = out.shape[-1] // y.shape[-1]
        return out[..., :height * factor, :width * factor].to(y.device)


def _pad_to_min(y: torch.Tensor, known: Known, side: int) -> tuple[torch.Tensor, Known]:
    """``y`` (and its mask) padded at the bottom and right to at least ``side`` pixels a side,
    repeating the edge pixels; unchanged when large enough."""
    pad_h, pad_w = max(0, side - y.shape[-2]), max(0, side - y.shape[-1])
    if not pad_h and not pad_w:
        return y, known

    def pad(t: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.pad(t.float(), (0, pad_w, 0, pad_h), mode="replicate")

    return pad(y).to(y.dtype), known if known.mask is None else known.with_(mask=pad(known.mask))


def load_restore_fn(source: str, options: RunOptions | None = None) -> ModelRestorer:
    """Load a model (shipped name or folder) and return it as a restore method."""
    from pixelsmith.zoo import load_model

    return ModelRestorer(load_model(source), options)
