"""Restore images with any registered method: one entry point for the API, CLI and evaluator."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from pixelsmith.degrade.known import TASKS, Known
from pixelsmith.errors import PixelsmithError, PixelsmithWarning
from pixelsmith.restoration.method import ConfiguredMethod, RestoreMethod, SamplingMethod
from pixelsmith.restoration.registry import (
    Method,
    default_choice,
    default_method,
    default_models,
    get_method,
)
from pixelsmith.restoration.strength import blend
from pixelsmith.restoration.trained import ModelRestorer, RunOptions

#: tasks whose output can be mixed with the input (``strength``); inpainting has no such input
BLENDABLE_TASKS = ("denoise", "deblur", "sr", "dejpeg", "photo")


class Restorer:
    """A loaded method for one task: ``restorer(y, known) -> x_hat`` on (N, C, H, W) tensors.

    It checks that what the method needs (a sigma, a kernel, a mask, a scale) is known and that
    masks match the image, so every method gets valid input and users get one-line errors.

    ``device``, ``tile``, ``overlap``, ``precision`` and ``backend`` apply to trained models (see
    :class:`pixelsmith.restoration.trained.RunOptions`): by default they run on the GPU when
    there is one, in 512-pixel tiles, in fp32, with torch (ONNX Runtime for a quantized
    package). Classical methods run on the CPU on the whole image; the options are still
    checked, so ``device="cuda"`` without a GPU is an error for every method.

    ``samples`` is for VAE methods only (kind "vae", :mod:`pixelsmith.restoration.vae`): the
    number of latent samples whose per-pixel mean is the output; :meth:`restore_with_std`
    also returns their standard deviation. Giving it for another method is an error.

    A default chosen per input that the user may not expect (a super-resolution factor no
    model has, a gray image through a colour model) is said with a
    :class:`~pixelsmith.errors.PixelsmithWarning`, once per kind of input; the default method
    never guesses a super-resolution factor. :attr:`last_method` names the method that ran
    last.
    """

    def __init__(self, task: str, method: str | None = None, *,
                 device: str | torch.device | None = None, tile: int = 512, overlap: int = 32,
                 precision: str = "fp32", samples: int | None = None,
                 strength: float = 1.0, ensemble: bool = False,
                 backend: str | None = None) -> None:
        if task not in TASKS:
            raise PixelsmithError(f"unknown task '{task}' (choose from {', '.join(TASKS)})")
        if strength != 1.0 and task not in BLENDABLE_TASKS:
            raise PixelsmithError(f"strength is for tasks {', '.join(BLENDABLE_TASKS)}, "
                                  f"not '{task}'")
        if not 0.0 <= strength <= 1.0:
            raise PixelsmithError(f"strength must be in 0-1, not {strength:g}")
        self.strength = float(strength)
        self.ensemble = bool(ensemble)
        requested = RunOptions(device, tile, overlap, precision, backend)
        options = requested.checked()  # one-line errors before any model loads
        self.task = task
        self._precision = options.precision  # "auto" resolved for the device
        self.precision_auto = precision == "auto"
        self._run = {"device": device, "tile": tile, "overlap": overlap, "precision": precision,
                     "strength": strength, "ensemble": ensemble, "backend": backend}
        # method None: the default is chosen per input (gray or colour model, SR scale, kernel
        # known or not) and each chosen method is loaded once
        self._auto = method is None
        self._variants: dict[str, Restorer] = {}
        self._choices: dict[tuple, str] = {}  # (channels, scale, kernel given) -> method name
        self.method: Method = get_method(task, method or default_method(task))
        self.last_run: Method = self.method  # the method that ran last (a default's choice)
        self.last_method: str = self.method.name
        if samples is not None:
            if self.method.kind != "vae":
                raise PixelsmithError(
                    f"--samples needs a VAE method (a conv-vae model, e.g. --method vae-faces); "
                    f"'{self.name}' is a {self.method.kind} method"
                    + (" chosen by default" if self._auto else ""))
            if int(samples) != samples or samples < 1:
                raise PixelsmithError(f"samples must be a whole number >= 1, not {samples}")
        self._fn: RestoreMethod = self.method.load()
        if isinstance(self._fn, ConfiguredMethod):  # a network: give it its run options
            self._fn.configure(requested)  # "auto" resolves per model (int8: fp32)
        if samples is not None and isinstance(self._fn, SamplingMethod):
            self._fn.samples = int(samples)
        self.last_precision = self.precision  # of the method that ran last

    def for_input(self, y: torch.Tensor, known: Known) -> Restorer:
        """The restorer that handles ``y``: this one, or for a default, the best fitting one."""
        if not self._auto or y.ndim != 4:
            return self
        if self.task == "sr" and known.scale is None:
            scales = sorted({int(info["scale"]) for info in default_models("sr").values()
                             if info.get("scale")})
            have = f"x{' and x'.join(map(str, scales))} run trained models, other factors " \
                if scales else ""
            raise PixelsmithError(f"--task sr needs --scale N, the factor is never guessed "
                                  f"({have}bicubic)")
        # the choice reads the zoo index and configs: once per kind of input, not per image
        key = (int(y.shape[1]), known.scale, known.kernel is not None)
        if key not in self._choices:
            self._choices[key], why = default_choice(self.task, key[0], known)
            if why:
                warnings.warn(why, PixelsmithWarning, stacklevel=3)
        name = self._choices[key]
        if name == self.method.name:
            return self
        if name not in self._variants:
            self._variants[name] = Restorer(self.task, name, **self._run)
        return self._variants[name]

    @property
    def name(self) -> str:
        return self.method.name

    @property
    def backend(self) -> str | None:
        """Which backend runs a trained model ("torch" or "onnxruntime"); None: classical."""
        if self.method.kind == "classical":
            return None
        return self._fn.backend if isinstance(self._fn, ConfiguredMethod) else "torch"

    @property
    def precision(self) -> str:
        """The precision a trained model runs in ("auto" resolved: "fp32", "bf16", "fp16")."""
        if isinstance(self._fn, ConfiguredMethod):
            return self._fn.options.precision
        return self._precision

    def check(self, y: torch.Tensor, known: Known) -> None:
        """Raise PixelsmithError if ``known`` lacks what the method needs or does not fit ``y``."""
        if y.ndim != 4 or y.shape[1] not in (1, 3):
            raise PixelsmithError(f"expected (N, 1|3, H, W) pixels, got {tuple(y.shape)}")
        for field_name in self.method.needs:
            if getattr(known, field_name) is None:
                option = {"sigma": "--sigma", "kernel": "--kernel", "mask": "--mask",
                          "scale": "--scale", "quality": "--quality"}[field_name]
                raise PixelsmithError(
                    f"method '{self.name}' for task '{self.task}' needs {option}"
                )
        if known.mask is not None and known.mask.shape[-2:] != y.shape[-2:]:
            mh, mw = known.mask.shape[-2:]
            raise PixelsmithError(
                f"mask is {mw}x{mh} but the image is {y.shape[-1]}x{y.shape[-2]}"
            )
        if known.sigma is not None:
            sigmas = torch.as_tensor(known.sigma, dtype=torch.float32).reshape(-1)
            if sigmas.numel() not in (1, y.shape[0]):
                raise PixelsmithError(f"{sigmas.numel()} sigmas for {y.shape[0]} images")
            if not ((sigmas >= 0) & (sigmas <= 1)).all():
                bad = sigmas[(sigmas < 0) | (sigmas > 1) | sigmas.isnan()][0]
                raise PixelsmithError(f"sigma {float(bad) * 255:g} is outside 0-255")
        if known.kernel is not None and (known.kernel.shape[-2] > y.shape[-2]
                                         or known.kernel.shape[-1] > y.shape[-1]):
            kh, kw = known.kernel.shape[-2:]
            raise PixelsmithError(f"the {kw}x{kh} kernel is larger than the {y.shape[-1]}x"
                                  f"{y.shape[-2]} image")
        if known.scale is not None and known.scale < 1:
            raise PixelsmithError(f"scale must be a positive integer, not {known.scale}")

    def restore_with_std(self, y: torch.Tensor, known: Known | None = None,
                         progress: Callable[[int, int], None] | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """VAE methods: (x_hat, per-pixel standard deviation over the latent samples).

        ``progress(done, total)`` is called per fitting step and per sample."""
        known = known or Known()
        self.last_run, self.last_method = self.method, self.name
        if not isinstance(self._fn, SamplingMethod):
            raise PixelsmithError(f"an uncertainty map needs a VAE method; '{self.name}' is a "
                                  f"{self.method.kind} method")
        self.check(y, known)
        with torch.inference_mode():
            mean, std = self._fn.with_std(y, known, progress)
        return mean.clamp(0.0, 1.0), std

    def __call__(self, y: torch.Tensor, known: Known | None = None,
                 progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """Restore ``y``. ``progress(done, total)``, if given, is called after each tile of a
        trained model (:func:`pixelsmith.restoration.tiling.tiled_apply`), or once, (1, 1), at
        the end; VAE methods report per fitting step and per sample."""
        known = known or Known()
        chosen = self.for_input(y, known)
        self.last_run, self.last_method = chosen.method, chosen.name
        self.last_precision = chosen.precision
        if chosen is not self:
            return chosen(y, known, progress)
        self.check(y, known)
        sigma = known.sigma
        # these report each tile (trained models) or step and sample (VAEs) themselves
        tiled = isinstance(self._fn, (ModelRestorer, SamplingMethod))
        with torch.inference_mode():
            if isinstance(sigma, torch.Tensor) and sigma.numel() > 1 \
                    and self.method.kind == "classical":
                # classical methods take one float sigma: run them image by image
                out = torch.cat([
                    self._fn(y[i:i + 1], known.with_(sigma=float(sigma[i]),
                                                     mask=_image_mask(known.mask, i)))
                    for i in range(y.shape[0])
                ]).clamp(0.0, 1.0)
            else:
                if isinstance(sigma, torch.Tensor) and sigma.numel() == 1:
                    known = known.with_(sigma=float(sigma))
                if self.ensemble:
                    out = self_ensemble(self._fn, y, known, progress if tiled else None)
                else:
                    out = self._fn(y, known, progress) if tiled else self._fn(y, known)
                out = out.clamp(0, 1)
        if progress is not None and not tiled:
            progress(1, 1)
        return blend(out, y, self.strength) if self.strength != 1.0 else out


def self_ensemble(fn, y: torch.Tensor, known: Known,
                  progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """The mean of ``fn`` over the 8 dihedral transforms of ``y`` (flips and quarter turns),
    each output turned back; the mask and the blur kernel turn with the image."""
    from pixelsmith.data.augment import dihedral, dihedral_inverse  # loads the data package

    total = None
    for k in range(8):
        turned = known.with_(
            mask=None if known.mask is None else dihedral(known.mask, k),
            kernel=None if known.kernel is None else dihedral(known.kernel, k))
        args = (dihedral(y, k), turned) + ((_offset(progress, k),) if progress else ())
        out = dihedral(fn(*args), dihedral_inverse(k))
        total = out if total is None else total + out
    return total / 8


def _offset(progress: Callable[[int, int], None], k: int) -> Callable[[int, int], None]:
    """Progress of pass ``k`` of 8 as progress of the whole ensemble."""
    return lambda done, tiles: progress(k * tiles + done, 8 * tiles)


def _image_mask(mask: torch.Tensor | None, index: int) -> torch.Tensor | None:
    if mask is None or mask.shape[0] == 1:
        return mask
    return mask[index:index + 1]


def parse_sigma(value: float | int | str | None, task: str | None = None) -> float | str | None:
    """``--sigma`` / ``sigma=``: a number in 0-255, or "auto" (estimate it per image).

    For ``task="denoise"`` no value means "auto": a user with a noisy photo rarely knows its
    sigma."""
    if value is None and task == "denoise":
        return "auto"
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None if value is None else "auto"
    try:
        sigma = float(value)
    except (TypeError, ValueError):
        raise PixelsmithError(f"sigma must be 0-255 or 'auto', not '{value}'") from None
    if not 0.0 <= sigma <= 255.0:
        raise PixelsmithError(f"sigma must be in 0-255 (or 'auto'), not {sigma:g}")
    return sigma


def parse_quality(value: int | str | None) -> int | str | None:
    """``--quality`` / ``quality=``: a JPEG quality 1-100, or "auto" (read it from the file)."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None if value is None else "auto"
    try:
        quality = float(value)
    except (TypeError, ValueError):
        raise PixelsmithError(f"quality must be 1-100 or 'auto', not '{value}'") from None
    if quality != int(quality) or not 1 <= quality <= 100:
        raise PixelsmithError(f"quality must be a whole number in 1-100 (or 'auto'), not {value}")
    return int(quality)


def resolve_sigma(sigma: float | str | None, pixels: torch.Tensor) -> float | torch.Tensor | None:
    """Sigma in [0, 1] units: the given 0-255 value scaled, or estimated per image for "auto".

    One image gives a float, a batch a (N,) tensor.
    """
    sigma = parse_sigma(sigma)
    if sigma is None:
        return None
    if sigma == "auto":
        from pixelsmith.degrade.estimate import estimate_sigma

        estimates = estimate_sigma(pixels).cpu()
        return float(estimates[0]) if estimates.numel() == 1 else estimates
    return float(sigma) / 255.0


def resolve_quality(quality: int | str | None, info: dict | None, source: str) -> int | None:
    """The JPEG quality: as given, or for "auto" read from the file's quantisation tables.

    ``info`` is the file's metadata (:attr:`pixelsmith.io.Image.info`); None when the image did
    not come from a file.
    """
    quality = parse_quality(quality)
    if quality != "auto":
        return quality
    if info is None:
        raise PixelsmithError("quality 'auto' reads a JPEG file's tables: give the image as a "
                              "path, or give the quality")
    tables = info.get("quantization")
    if not tables:
        raise PixelsmithError(f"{source}: quality 'auto' needs a JPEG input (this is "
                              f"{info.get('format') or 'not a JPEG'}); give it with --quality Q")
    from pixelsmith.degrade.estimate import estimate_jpeg_quality

    return estimate_jpeg_quality(tables)


def _as_batch(image) -> tuple[torch.Tensor, str, dict | None]:
    """Accept a path, an (H, W[, C]) array or a (C, H, W) / (N, C, H, W) tensor; return NCHW.

    Also returns the kind of input (to return the same kind) and, for a file, its metadata.
    """
    if isinstance(image, (str, Path)):
        from pixelsmith.io import load_image

        loaded = load_image(image)
        return loaded.pixels, "tensor", loaded.info
    if isinstance(image, np.ndarray):
        array = _array_pixels(image)
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3 or array.shape[2] not in (1, 3) or 0 in array.shape:
            raise PixelsmithError(f"a NumPy image must be HxW or HxWx3 (or HxWx1), not "
                                  f"{image.shape}")
        return torch.from_numpy(array.transpose(2, 0, 1).copy())[None], "numpy", None
    if isinstance(image, torch.Tensor):
        if image.is_floating_point():
            _check_float_range(image, strict=False)
        if image.ndim == 3:
            return image[None], "chw", None
        if image.ndim == 4:
            return image, "tensor", None
    raise PixelsmithError("image must be a path, a NumPy array or a (C, H, W)/(N, C, H, W) tensor")


#: Integer sample types a NumPy image may have, with the value of white.
_INTEGER_WHITE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def _array_pixels(image: np.ndarray) -> np.ndarray:
    """A NumPy image as float32 in [0, 1]: uint8 / 255, uint16 / 65535, floats as they are
    (they must lie in [0, 1]); other types are refused rather than guessed."""
    if image.dtype in _INTEGER_WHITE:
        return image.astype(np.float32) / _INTEGER_WHITE[image.dtype]
    if np.issubdtype(image.dtype, np.floating):
        array = image.astype(np.float32)
        _check_float_range(torch.from_numpy(array), strict=True)
        return array
    raise PixelsmithError(f"a NumPy image must be uint8, uint16 or floating point in [0, 1], "
                          f"not {image.dtype} (convert it with .astype(np.uint8) or scale it)")


def _check_float_range(pixels: torch.Tensor, strict: bool) -> None:
    """Refuse float pixels that are not finite or not in [0, 1]: 0-255 data passed as floats
    would otherwise come back all white. Tensors (``strict=False``) may leave [0, 1] by what
    noise adds (simulated noisy images are not clipped), but not by a 0-255 scale."""
    if pixels.numel() == 0:
        return
    if not torch.isfinite(pixels).all():
        raise PixelsmithError("the image holds NaN or infinite values")
    low, high = float(pixels.min()), float(pixels.max())
    bounds = (0.0, 1.0) if strict else (-1.0, 2.0)
    if low < bounds[0] or high > bounds[1]:
        hint = (" (0-255 or 0-65535 data: scale it to [0, 1], or pass a uint8 or uint16 array)"
                if high > 2.0 else "")
        raise PixelsmithError(f"float pixels must be in [0, 1], these span [{low:g}, {high:g}]"
                              + hint)


def restore(
    image,
    task: str = "denoise",
    *,
    method: str | None = None,
    sigma: float | str | None = None,
    kernel: torch.Tensor | np.ndarray | str | Path | None = None,
    mask: torch.Tensor | np.ndarray | str | Path | None = None,
    scale: int | None = None,
    quality: int | str | None = None,
    device: str | torch.device | None = None,
    tile: int = 512,
    overlap: int = 32,
    precision: str = "fp32",
    progress: Callable[[int, int], None] | None = None,
    strength: float = 1.0,
    ensemble: bool = False,
    backend: str | None = None,
):
    """Restore ``image`` for ``task`` with ``method`` (default: the best available one).

    ``sigma`` is in 0-255 units as in the literature (``sigma=25``), or "auto" to estimate it
    per image (the default for denoising). ``quality`` is the JPEG quality, or "auto" to read it
    from a JPEG file (``image`` must then be a path). ``kernel`` and ``mask`` may be arrays or
    file paths (mask: white = missing). ``device`` / ``tile`` / ``overlap`` / ``precision`` /
    ``backend`` tune trained models (see :class:`Restorer`); ``progress(done, tiles)`` is called
    after each tile (see :meth:`Restorer.__call__`). ``strength`` (0-1) mixes the input back in:
    0 returns the input (enlarged by bicubic for super-resolution), 1 the full restoration;
    ``ensemble`` averages the method over the 8 flips and quarter turns of the input (slower,
    often better). Returns the same kind of object as given, on the input's device: a tensor
    for a tensor or path, a float32 HxW[xC] array in [0, 1] for a NumPy array.

    NumPy images are read by their type: uint8 (0-255), uint16 (0-65535), or floats in [0, 1];
    floats outside [0, 1] (0-255 data in a float array), NaN and other types are refused with a
    one-line :class:`~pixelsmith.errors.PixelsmithError`. Float tensors may exceed [0, 1] by
    simulated noise, but not by a 0-255 scale.
    """
    sigma = parse_sigma(sigma, task)
    parse_quality(quality)
    restorer = Restorer(task, method, device=device, tile=tile, overlap=overlap,
                        precision=precision, strength=strength, ensemble=ensemble,
                        backend=backend)
    batch, kind, info = _as_batch(image)
    batch = batch.float()
    known = Known(
        sigma=resolve_sigma(sigma, batch),
        kernel=kernel_input(kernel),
        mask=mask_input(mask, batch.shape[-2:]),
        scale=None if scale is None else int(scale),
        quality=resolve_quality(quality, info, str(image) if info is not None else "image"),
    )
    out = restorer(batch, known, progress)
    if kind == "chw":
        return out[0]
    if kind == "numpy":
        array = out[0].numpy().transpose(1, 2, 0)
        return array[:, :, 0] if array.shape[2] == 1 else array
    return out


def kernel_input(kernel) -> torch.Tensor | None:
    """A kernel given as a file path or an array, normalised to sum 1 (None passes)."""
    if kernel is None:
        return None
    if isinstance(kernel, (str, Path)):
        from pixelsmith.degrade.kernels import load_kernel

        return load_kernel(kernel)
    k = torch.as_tensor(np.asarray(kernel), dtype=torch.float32)
    if k.ndim != 2 or (k < 0).any() or k.sum() <= 0:
        raise PixelsmithError("kernel must be a non-negative 2-D array with a positive sum")
    return k / k.sum()


def mask_input(mask, size: torch.Size) -> torch.Tensor | None:
    """A mask given as a file path or an array, as (N, 1, H, W) with 1 = missing."""
    if mask is None:
        return None
    if isinstance(mask, (str, Path)):
        from pixelsmith.degrade.mask import load_mask

        return load_mask(mask, size=tuple(size))
    from pixelsmith.degrade.mask import binarize

    m = torch.as_tensor(np.asarray(mask), dtype=torch.float32)
    while m.ndim < 4:
        m = m[None]
    return binarize(m)
