"""What is explained: a loaded model, the image it sees, and one differentiable call.

Every explanation method works on a :class:`Subject`: ``subject.run(x)`` maps an input image
(1, C, H, W) to the model's output with every other input (noise level, JPEG quality, mask)
held fixed, so gradients, integrated gradients and LRP all see one function of the pixels.
:func:`load_subject` builds it from a shipped model name or a model folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from pixelsmith.errors import PixelsmithError
from pixelsmith.nets.contract import RestorationNet, conditioning_of
from pixelsmith.zoo.config import config_of

#: what each kind of model can explain (the CLI's default --kind per model kind)
KINDS = {
    "restoration": ("activations", "attribution", "lrp"),
    "classifier": ("activations", "attribution", "lrp", "gradcam"),
    "discriminator": ("activations", "attribution", "gradcam"),
    "codec": ("codec", "activations"),
    "vae": ("vae", "activations"),
    "autoencoder": ("activations",),
}


@dataclass
class Subject:
    """A model and its input: ``run(x)`` is the model with its conditioning bound.

    - ``kind``: "restoration", "classifier", "discriminator", "codec", "vae" or "autoencoder".
    - ``x``: the input image (1, C, H, W) in [0, 1], already in the model's channels/size.
    - ``mask``: for inpainting, (1, 1, H, W) with 1 = missing (the region the model fills).
    - ``extra``: conditioning values used, for the report (e.g. {"sigma": 25.0}).
    """

    model: nn.Module
    name: str
    kind: str
    x: torch.Tensor
    run: Callable[[torch.Tensor], torch.Tensor]
    mask: torch.Tensor | None = None
    extra: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)  # resolved sigma/quality/mask, for rebind()
    skip: Callable[[torch.Tensor], torch.Tensor] | None = None  # the weight-free path

    def __post_init__(self) -> None:
        if self.kind == "restoration" and self.skip is None:
            self.skip = skip_path(self.model, self.mask)

    def output(self) -> torch.Tensor:
        """The model's output for ``x`` (no autograd)."""
        with torch.no_grad():
            return self.run(self.x)


def model_kind(model: nn.Module) -> str:
    """Which explanations fit the model: see :data:`KINDS` (one-line error for others)."""
    from pixelsmith.codec.models import Codec
    from pixelsmith.nets.autoencoder import ConvAutoencoder, ConvVAE
    from pixelsmith.nets.classifier import FeatureClassifier
    from pixelsmith.nets.dcgan import DCGANDiscriminator, DCGANGenerator
    from pixelsmith.nets.dncnn import DnCNN
    from pixelsmith.nets.edsr import EDSR
    from pixelsmith.nets.unet import ConditionedUNet

    if isinstance(model, (ConditionedUNet, EDSR, DnCNN)):
        return "restoration"
    if isinstance(model, FeatureClassifier):
        return "classifier"
    if isinstance(model, DCGANDiscriminator):
        return "discriminator"
    if isinstance(model, Codec):
        return "codec"
    if isinstance(model, ConvVAE):
        return "vae"
    if isinstance(model, ConvAutoencoder):
        return "autoencoder"
    if isinstance(model, DCGANGenerator):
        raise PixelsmithError("a GAN generator takes latents, not images: explain its "
                              "discriminator, or see `pixelsmith traverse` for its latents")
    raise PixelsmithError(f"cannot explain a {type(model).__name__} model")


def skip_path(model: nn.Module, mask: torch.Tensor | None = None
              ) -> Callable[[torch.Tensor], torch.Tensor]:
    """The part of a restoration network's output that no weight computes: the input itself
    (residual U-Net, DnCNN), its bicubic upscale (EDSR), or its pull-push fill (inpainting).
    Explaining ``output - skip`` explains what the network learned to add."""
    from torch.nn import functional as F

    from pixelsmith.nets.edsr import EDSR
    from pixelsmith.nets.unet import pull_push_fill

    if isinstance(model, EDSR):
        return lambda t: F.interpolate(t, scale_factor=model.scale, mode="bicubic",
                                       align_corners=False)
    if mask is not None:
        return lambda t: pull_push_fill(t, mask.expand(t.shape[0], -1, -1, -1))
    return lambda t: t


def rebind(subject: Subject, model: nn.Module) -> Subject:
    """The same image and conditioning with another network (e.g. re-initialised weights)."""
    return make_subject(model, subject.x, **subject.options)


def model_name(model: nn.Module) -> str:
    """The model's name in its config, else its class name."""
    return config_of(model).display_name(model)


def _channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    if x.shape[1] == channels:
        return x
    if channels == 1:
        from pixelsmith.color import rgb_to_gray

        return rgb_to_gray(x)
    return x.expand(-1, channels, -1, -1).contiguous()


def make_subject(model: nn.Module, x: torch.Tensor, *, sigma: float | None = None,
                 quality: int | None = None, mask: torch.Tensor | None = None,
                 image_info: dict | None = None) -> Subject:
    """Bind a model to an image (1, C, H, W) in [0, 1]: conditioning and channels are fixed here.

    ``sigma`` is in 0-255 units (None: estimated from the image for sigma-conditioned models),
    ``quality`` a JPEG quality (None: read from ``image_info``'s tables when it is a JPEG),
    ``mask`` (1, 1, H, W) with 1 = missing, for inpainting models.
    """
    model.eval()
    kind = model_kind(model)
    name = model_name(model)
    x = torch.nan_to_num(x.detach().float()).clamp(0.0, 1.0)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[0] != 1 or x.shape[1] not in (1, 3):
        raise PixelsmithError(f"explain takes one (1, C, H, W) image, not {tuple(x.shape)}")
    extra: dict = {}
    if kind in ("classifier", "discriminator", "vae", "autoencoder"):
        from pixelsmith.synthesis import fit_image

        notes: list[str] = []
        x = fit_image(_SizedView(model), x, note=notes.append)
        if notes:
            extra["input"] = notes[0]
        run = _head_run(model, kind)
        return Subject(model, name, kind, x, run, extra=extra)
    if kind == "codec":
        x = _channels(x, model.channels)
        return Subject(model, name, kind, x, lambda t: model(t)["x_hat"], extra=extra)
    channels = int(model.channels) if isinstance(model, RestorationNet) else x.shape[1]
    x = _channels(x, channels)
    conditioning = conditioning_of(model)
    if conditioning == "sigma":
        if sigma is None:
            from pixelsmith.degrade.estimate import estimate_sigma

            level = float(estimate_sigma(x)[0])
            extra["sigma"] = f"{level * 255:.1f} (estimated)"
        else:
            level = float(sigma) / 255.0
            extra["sigma"] = f"{float(sigma):g}"
        level_t = torch.full((1,), level)
        return Subject(model, name, kind, x, lambda t: model(t, level_t), extra=extra,
                       options={"sigma": level * 255.0})
    if conditioning == "quality":
        if quality is None and image_info and image_info.get("quantization"):
            from pixelsmith.degrade.estimate import estimate_jpeg_quality

            quality = estimate_jpeg_quality(image_info["quantization"])
        if quality is None:
            raise PixelsmithError(f"model '{name}' needs the JPEG quality: give --quality Q "
                                  "(or a JPEG file, whose tables tell it)")
        extra["quality"] = int(quality)
        level_t = torch.full((1,), float(quality) / 100.0)
        return Subject(model, name, kind, x, lambda t: model(t, level_t), extra=extra,
                       options={"quality": int(quality)})
    if conditioning == "mask":
        if mask is None:
            raise PixelsmithError(f"model '{name}' inpaints: give the mask with --mask FILE "
                                  "(white = missing)")
        mask = (mask.float() > 0.5).float().reshape(1, 1, *mask.shape[-2:])
        if tuple(mask.shape[-2:]) != tuple(x.shape[-2:]):
            raise PixelsmithError(f"the mask is {mask.shape[-1]}x{mask.shape[-2]}, the image "
                                  f"{x.shape[-1]}x{x.shape[-2]}")
        if not bool(mask.any()):
            raise PixelsmithError("the mask has no missing (white) pixel")
        extra["missing"] = f"{float(mask.mean()) * 100:.1f}% of the pixels"
        return Subject(model, name, kind, x, lambda t: model(t, mask), mask=mask, extra=extra,
                       options={"mask": mask})
    return Subject(model, name, kind, x, model, extra=extra)


class _SizedView:
    """What :func:`pixelsmith.synthesis.fit_image` reads of a model: channels, image_size."""

    def __init__(self, model: nn.Module) -> None:
        self.channels = int(model.channels)
        self.image_size = int(model.image_size)


def _head_run(model: nn.Module, kind: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if kind == "vae":
        return lambda t: model.encode(t)[0]  # the posterior mean
    if kind == "autoencoder":
        return model.encode
    return model  # class logits (N, K) or real/fake logits (N,)


def load_subject(method: str | Path, image: str | Path | torch.Tensor, *,
                 sigma: float | None = None, quality: int | None = None,
                 mask: str | Path | torch.Tensor | None = None,
                 max_pixels: int = 100_000_000) -> Subject:
    """A :class:`Subject` from a shipped model name or folder and an image path or tensor."""
    info = None
    if isinstance(image, (str, Path)):
        from pixelsmith.io import load_image

        loaded = load_image(image, max_pixels=max_pixels)
        x, info = loaded.pixels, loaded.info
    else:
        x = image
    if isinstance(mask, (str, Path)):
        from pixelsmith.degrade.mask import load_mask

        mask = load_mask(mask, size=tuple(x.shape[-2:]))
    model = _load(method)
    return make_subject(model, x, sigma=sigma, quality=quality, mask=mask, image_info=info)


def _load(method: str | Path) -> nn.Module:
    """A model by name or folder; codecs through the codec loader (finalized entropy tables)."""
    from pixelsmith.zoo import load_model, read_config, resolve_model_dir

    if read_config(resolve_model_dir(method)).get("family") == "codec":
        from pixelsmith.codec.api import load_codec

        return load_codec(method)
    return load_model(method)
