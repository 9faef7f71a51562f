"""Latent-space synthesis with autoencoders, VAEs and GAN generators: sampling, reconstruction,
interpolation, latent traversals, and an image grid to show them.

Three kinds of model are understood (any other is a one-line :class:`PixelsmithError`):

- a VAE (:class:`~pixelsmith.nets.autoencoder.ConvVAE`): encoder to the posterior mean, decoder
  mean, standard-normal prior;
- a plain autoencoder (:class:`~pixelsmith.nets.autoencoder.ConvAutoencoder`): encoder and
  decoder, no prior, so it reconstructs and interpolates but cannot generate;
- a GAN generator (:class:`~pixelsmith.nets.dcgan.DCGANGenerator`): prior and decoder, no
  encoder, so it generates and interpolates between seeds but cannot reconstruct.

Latents are always drawn on the CPU from a ``torch.Generator`` seeded with ``seed``
(``torch.randn(n, latent_dim)``, scaled by ``temperature``), then moved to the model's device:
the same seed gives the same latents on every device, and on the CPU ``generate(vae, n, seed)``
equals ``vae.sample(n, seed=seed)``. Sample ``i`` of a batch depends on ``n`` (torch fills
normal tensors in blocks), so compare batches of the same size.

Interpolation paths: linear for a plain autoencoder (its code space has no prior and no reason
to be round), spherical (slerp) for VAEs and GAN generators. Under a standard-normal prior in
``d`` dimensions almost all mass lies near the sphere of radius ``sqrt(d)``, and two codes are
nearly orthogonal, so the midpoint of a straight line has about ``1/sqrt(2)`` of their norm: a
region the decoder seldom saw in training, where images turn blurry and grey (White 2016,
"Sampling generative networks"). Slerp follows the arc between the two codes and keeps the
norm in between theirs. Both paths start and end exactly at the two codes.

Images given to a model are fitted to it first: converted to its channels (RGB -> BT.601 gray,
gray -> three equal channels) and, when their size differs, resized to cover ``image_size`` x
``image_size`` (aspect kept, MATLAB bicubic) and center-cropped, as the synthesis training data
are. Every such change is reported through ``note`` (a callable taking one line of text), or as
a :class:`ResizeWarning` when no ``note`` is given. Outputs are float32 CPU tensors in [0, 1].
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch
from torch import nn

from pixelsmith.errors import PixelsmithError
from pixelsmith.zoo.config import config_of

#: latents decoded per forward pass (bounded memory for large ``n``)
CHUNK = 256

ImageInput = torch.Tensor | str | Path
Note = Callable[[str], None] | None


class ResizeWarning(UserWarning):
    """An input image was converted or resized to fit a model."""


# -- model kinds --------------------------------------------------------------------------------

def model_kind(model: nn.Module) -> str:
    """``"vae"``, ``"autoencoder"`` or ``"generator"``; a one-line error for any other model."""
    from pixelsmith.nets.autoencoder import ConvAutoencoder, ConvVAE
    from pixelsmith.nets.dcgan import DCGANGenerator

    if isinstance(model, ConvVAE):
        return "vae"
    if isinstance(model, ConvAutoencoder):
        return "autoencoder"
    if isinstance(model, DCGANGenerator):
        return "generator"
    what = config_of(model).task or type(model).__name__
    raise PixelsmithError(
        f"model '{_name(model)}' ({what}) is not an autoencoder, VAE or GAN generator"
    )


def _name(model: nn.Module) -> str:
    return config_of(model).display_name(model)


_KIND_WORDS = {"vae": "a VAE", "autoencoder": "a plain autoencoder",
               "generator": "a GAN generator"}


#: what each action needs: the kinds of model that can do it, and why the others cannot
ACTIONS = {
    "generate": (("vae", "generator"), "it has no prior to sample latents from (use a VAE or "
                                      "a GAN generator)"),
    "encode": (("vae", "autoencoder"), "it has no encoder, so it cannot take images as "
                                       "input (use seeds instead)"),
}


def require_kind(model: nn.Module, action: str) -> str:
    """The model's kind if it can ``action`` ("generate" or "encode"), else a one-line error."""
    kind = model_kind(model)
    allowed, why = ACTIONS[action]
    if kind not in allowed:
        raise PixelsmithError(f"model '{_name(model)}' is {_KIND_WORDS[kind]}: {why}")
    return kind


def _device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    param = next(model.parameters())
    return param.device, param.dtype


@contextlib.contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode and no autograd inside the block; the model's mode is put back after it (a
    generator's BatchNorm must use, not update, its running statistics)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


# -- latents ------------------------------------------------------------------------------------

def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise PixelsmithError(f"seed must be an integer, not {seed!r}")
    if not 0 <= seed < 2**63:
        raise PixelsmithError(f"seed must be in 0 .. 2**63 - 1, not {seed}")
    return seed


def _check_temperature(temperature: float) -> float:
    value = float(temperature)
    if not math.isfinite(value) or value < 0:
        raise PixelsmithError(f"temperature must be a finite number >= 0, not {temperature}")
    return value


def draw_latents(n: int, latent_dim: int, seed: int, temperature: float = 1.0) -> torch.Tensor:
    """(n, latent_dim) float32 CPU latents z ~ N(0, temperature^2 I) from a seeded generator."""
    generator = torch.Generator(device="cpu")
    generator.manual_seed(_check_seed(seed))
    z = torch.randn(n, latent_dim, generator=generator)
    return z * _check_temperature(temperature)


def decode(model: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """Images (N, C, S, S) in [0, 1], on the CPU, for latents (N, latent_dim) of any kind of
    model: the decoder mean of a VAE, the decoder of an autoencoder, a generator's output."""
    kind = model_kind(model)
    device, dtype = _device_dtype(model)
    if z.ndim != 2 or z.shape[1] != model.latent_dim:
        raise PixelsmithError(f"latents must be (N, {model.latent_dim}), not {tuple(z.shape)}")
    if kind == "vae":
        run = model.decode_mean
    elif kind == "autoencoder":
        run = model.decode
    else:
        run = model
    outputs = []
    with _evaluating(model):
        for start in range(0, len(z), CHUNK):
            chunk = z[start:start + CHUNK].to(device=device, dtype=dtype)
            outputs.append(run(chunk).float().clamp(0.0, 1.0).cpu())
    return torch.cat(outputs)


# -- fitting images to a model ------------------------------------------------------------------

def _emit(note: Note, message: str) -> None:
    if note is None:
        warnings.warn(message, ResizeWarning, stacklevel=3)
    else:
        note(message)


def fit_image(model: nn.Module, image: ImageInput, note: Note = None,
              name: str | None = None) -> torch.Tensor:
    """One image (a file, or a (C, H, W) / (1, C, H, W) tensor in [0, 1]) as a (1, C, S, S)
    float32 CPU tensor with the model's channels C and size S; changes are reported to ``note``.
    """
    from pixelsmith.io import read_image

    if isinstance(image, (str, Path)):
        name = name or str(image)
        pixels = read_image(image)
    elif isinstance(image, torch.Tensor):
        pixels = image.detach()
        if pixels.ndim == 3:
            pixels = pixels[None]
        if pixels.ndim != 4 or pixels.shape[0] != 1:
            raise PixelsmithError(f"an image must be (C, H, W) or (1, C, H, W), not "
                                  f"{tuple(image.shape)}")
        pixels = pixels.float().cpu()
    else:
        raise PixelsmithError(f"an image must be a file path or a tensor, not "
                              f"{type(image).__name__}")
    name = name or "image"
    channels, size = int(model.channels), int(model.image_size)
    changes = []
    have = pixels.shape[1]
    if have not in (1, 3):
        raise PixelsmithError(f"{name}: {have} channels (expected 1 or 3)")
    if have == 3 and channels == 1:
        from pixelsmith.color import rgb_to_gray

        pixels = rgb_to_gray(pixels)
        changes.append("converted to gray")
    elif have == 1 and channels == 3:
        pixels = pixels.expand(-1, 3, -1, -1).contiguous()
        changes.append("converted to RGB")
    height, width = pixels.shape[-2:]
    if (height, width) != (size, size):
        from pixelsmith.data.folders import resize_cover

        pixels = resize_cover(pixels, size, size)
        crop = ", center-cropped" if height != width else ""
        changes.append(f"resized from {width}x{height} to {size}x{size} (aspect kept{crop})")
    if changes:
        _emit(note, f"{name}: {' and '.join(changes)} to fit the model")
    return pixels.clamp(0.0, 1.0)


def fit_images(model: nn.Module, images: ImageInput | Sequence[ImageInput],
               note: Note = None) -> torch.Tensor:
    """A batch (N, C, S, S) fitted to the model from a tensor (N, C, H, W) or (C, H, W), a
    file, or a list of files and tensors."""
    if isinstance(images, torch.Tensor) and images.ndim == 4:
        items: list[ImageInput] = list(images.unbind(0))
    elif isinstance(images, (torch.Tensor, str, Path)):
        items = [images]
    else:
        items = list(images)
    if not items:
        raise PixelsmithError("no images given")
    return torch.cat([fit_image(model, item, note) for item in items])


# -- the API ------------------------------------------------------------------------------------

def image_grid(images: torch.Tensor | Sequence[torch.Tensor], nrow: int = 8, padding: int = 2,
               pad_value: float = 1.0) -> torch.Tensor:
    """Tile images (N, C, H, W) (or a list of (C, H, W) / (1, C, H, W)) into one image
    (1, C, H', W'): ``nrow`` images per row, filled row by row, ``padding`` pixels of
    ``pad_value`` between them and around the border; the last row's empty cells stay blank.
    """
    if not isinstance(images, torch.Tensor):
        parts = [t[None] if t.ndim == 3 else t for t in images]
        if not parts:
            raise PixelsmithError("image_grid needs at least one image")
        if len({tuple(t.shape[1:]) for t in parts}) != 1:
            raise PixelsmithError("image_grid needs images of one size and channel count")
        images = torch.cat(parts)
    if images.ndim != 4 or len(images) == 0:
        raise PixelsmithError(f"image_grid needs (N, C, H, W) images, not {tuple(images.shape)}")
    if int(nrow) < 1 or int(padding) < 0:
        raise PixelsmithError(f"nrow must be >= 1 and padding >= 0 (got {nrow}, {padding})")
    n, channels, height, width = images.shape
    cols = min(int(nrow), n)
    rows = math.ceil(n / cols)
    pad = int(padding)
    grid = torch.full((1, channels, rows * (height + pad) + pad, cols * (width + pad) + pad),
                      float(pad_value), dtype=images.dtype, device=images.device)
    for index in range(n):
        row, col = divmod(index, cols)
        top, left = pad + row * (height + pad), pad + col * (width + pad)
        grid[0, :, top:top + height, left:left + width] = images[index]
    return grid


def generate(model: nn.Module, n: int, seed: int = 0, temperature: float = 1.0) -> torch.Tensor:
    """``n`` images (n, C, S, S) from the prior, z ~ N(0, temperature^2 I) drawn from ``seed``:
    the decoder mean of a VAE, a GAN generator's output. A plain autoencoder has no prior and
    cannot generate (one-line error). The same seed and ``n`` give the same images."""
    require_kind(model, "generate")
    if int(n) < 1:
        raise PixelsmithError(f"the number of images must be >= 1, not {n}")
    return decode(model, draw_latents(int(n), model.latent_dim, seed, temperature))


def encode_images(model: nn.Module, images: ImageInput | Sequence[ImageInput],
                  note: Note = None) -> torch.Tensor:
    """Latent codes (N, latent_dim) on the CPU: a VAE's posterior mean, an autoencoder's code.
    ``images`` are fitted to the model first (see the module notes)."""
    kind = require_kind(model, "encode")
    batch = fit_images(model, images, note)
    device, dtype = _device_dtype(model)
    codes = []
    with _evaluating(model):
        for start in range(0, len(batch), CHUNK):
            x = batch[start:start + CHUNK].to(device=device, dtype=dtype)
            out = model.encode(x)
            codes.append((out[0] if kind == "vae" else out).float().cpu())
    return torch.cat(codes)


def reconstruct(model: nn.Module, images: ImageInput | Sequence[ImageInput],
                note: Note = None) -> torch.Tensor:
    """Deterministic reconstructions (N, C, S, S) at the model's size: decode(encode(x)), with
    a VAE's posterior mean (what ``model.reconstruct`` computes)."""
    return decode(model, encode_images(model, images, note))


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Points (T, D) on the line a -> b at fractions ``t`` (T,)."""
    t = t.to(a.dtype)[:, None]
    return (1.0 - t) * a[None] + t * b[None]


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Points (T, D) on the arc a -> b at fractions ``t`` (T,) of the angle between them (norms
    are interpolated along the way); nearly parallel or opposite codes fall back to a line."""
    a64, b64, t64 = a.double(), b.double(), t.double()[:, None]
    cosine = torch.dot(a64, b64) / (a64.norm() * b64.norm()).clamp_min(1e-300)
    omega = torch.arccos(cosine.clamp(-1.0, 1.0))
    if float(torch.sin(omega).abs()) < 1e-6:
        return lerp(a, b, t)
    sin = torch.sin(omega)
    path = (torch.sin((1.0 - t64) * omega) / sin) * a64 + (torch.sin(t64 * omega) / sin) * b64
    path = path.to(a.dtype)
    path[t == 0] = a  # exact ends, whatever the rounding
    path[t == 1] = b
    return path


def _fractions(steps: int) -> torch.Tensor:
    if isinstance(steps, bool) or int(steps) != steps or int(steps) < 2:
        raise PixelsmithError(f"steps must be an integer >= 2 (both ends included), not {steps}")
    return torch.linspace(0.0, 1.0, int(steps), dtype=torch.float64)


def latent_path(kind: str, a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """(steps, D) codes from ``a`` to ``b``: linear for an autoencoder, slerp otherwise."""
    t = _fractions(steps)
    return lerp(a, b, t) if kind == "autoencoder" else slerp(a, b, t)


def interpolate(model: nn.Module, a: ImageInput, b: ImageInput, steps: int = 8,
                note: Note = None) -> torch.Tensor:
    """``steps`` images (steps, C, S, S) from image ``a`` to image ``b`` (both included): both
    are encoded, then the path is linear (autoencoder) or spherical (VAE; see the module
    notes) and decoded. A GAN generator has no encoder: use :func:`interpolate_seeds`."""
    kind = require_kind(model, "encode")
    t = _fractions(steps)  # check before any work
    codes = encode_images(model, [a, b], note)
    path = lerp(codes[0], codes[1], t) if kind == "autoencoder" else slerp(codes[0], codes[1], t)
    return decode(model, path)


def interpolate_seeds(model: nn.Module, seed_a: int, seed_b: int, steps: int = 8,
                      temperature: float = 1.0) -> torch.Tensor:
    """``steps`` images (steps, C, S, S) along the arc (slerp) between the latents of two seeds;
    the ends equal ``generate(model, 1, seed_a)`` and ``generate(model, 1, seed_b)``."""
    require_kind(model, "generate")
    t = _fractions(steps)
    a = draw_latents(1, model.latent_dim, seed_a, temperature)[0]
    b = draw_latents(1, model.latent_dim, seed_b, temperature)[0]
    return decode(model, slerp(a, b, t))


def _check_dims(model: nn.Module, dims: Sequence[int]) -> list[int]:
    dims = [int(d) for d in dims]
    if not dims:
        raise PixelsmithError("give at least one latent dimension")
    size = int(model.latent_dim)
    bad = [d for d in dims if not 0 <= d < size]
    if bad:
        raise PixelsmithError(f"latent dimension {bad[0]} is out of range: model "
                              f"'{_name(model)}' has {size} latent dimensions "
                              f"(0-{size - 1})")
    return dims


def base_code(model: nn.Module, base: int | ImageInput | None = None,
              temperature: float = 1.0, note: Note = None) -> torch.Tensor:
    """The code (latent_dim,) a traversal starts from: the prior mean (``base`` None), the
    latent of a seed (an int), or the code of an image (a path or tensor)."""
    kind = model_kind(model)
    from_prior = base is None or (isinstance(base, int) and not isinstance(base, bool))
    if from_prior:
        if kind == "autoencoder":
            raise PixelsmithError(f"model '{_name(model)}' is a plain autoencoder: it has no "
                                  "prior, so start the traversal from an image")
        if base is None:
            return torch.zeros(model.latent_dim)
        return draw_latents(1, model.latent_dim, base, temperature)[0]
    return encode_images(model, base, note)[0]


def traverse_codes(model: nn.Module, dims: Sequence[int], values: Sequence[float] | torch.Tensor,
                   base: int | ImageInput | None = None, temperature: float = 1.0,
                   note: Note = None) -> torch.Tensor:
    """Codes (len(dims), len(values), latent_dim): row ``i`` is the base code with dimension
    ``dims[i]`` set to each of ``values`` in turn (every other dimension is the base's)."""
    dims = _check_dims(model, dims)
    values = torch.as_tensor(values, dtype=torch.float32).reshape(-1)
    if len(values) == 0 or not bool(torch.isfinite(values).all()):
        raise PixelsmithError("traversal values must be finite and at least one")
    start = base_code(model, base, temperature, note)
    codes = start.expand(len(dims), len(values), -1).clone()
    for row, dim in enumerate(dims):
        codes[row, :, dim] = values
    return codes


def traverse(model: nn.Module, dims: Sequence[int],
             values: Sequence[float] | torch.Tensor = (-3, -2, -1, 0, 1, 2, 3),
             base: int | ImageInput | None = None, *, temperature: float = 1.0,
             padding: int = 2, pad_value: float = 1.0, note: Note = None) -> torch.Tensor:
    """A latent traversal as one grid image (1, C, H', W'): one row per dimension of ``dims``,
    one column per value (in prior standard deviations for a VAE or GAN), from ``base``: the
    prior mean (None), a seed's latent (int) or an image's code (path or tensor)."""
    codes = traverse_codes(model, dims, values, base, temperature, note)
    rows, cols, size = codes.shape
    images = decode(model, codes.reshape(rows * cols, size))
    return image_grid(images, nrow=cols, padding=padding, pad_value=pad_value)
