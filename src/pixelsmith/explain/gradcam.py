"""Grad-CAM (Selvaraju et al. 2017) for the models that classify, through captum: the shipped
feature classifiers (which class, and where in the image it was seen) and DCGAN
discriminators (what makes an image look fake: Grad-CAM of the negated real/fake logit).

The map is the ReLU of the gradient-weighted sum of the last convolutional stage's feature
maps, upsampled (bilinear) to the image size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from pixelsmith.errors import PixelsmithError
from pixelsmith.explain.attribution import require_captum
from pixelsmith.explain.subject import Subject


@dataclass
class GradCAM:
    """``heat``: (H, W) at the image size, >= 0; ``coarse``: the map at the layer's size;
    ``layer``: the stage it was read at; ``what``: the explained score, in words."""

    heat: torch.Tensor
    coarse: torch.Tensor
    layer: str
    what: str
    score: float


def cam_layer(model: nn.Module) -> tuple[str, nn.Module]:
    """The last convolutional stage's activation: where Grad-CAM reads the feature maps."""
    from pixelsmith.nets.classifier import FeatureClassifier
    from pixelsmith.nets.dcgan import DCGANDiscriminator

    if isinstance(model, FeatureClassifier):
        last = [i for i, m in enumerate(model.body) if isinstance(m, nn.ReLU)][-1]
        return f"body.{last}", model.body[last]
    if isinstance(model, DCGANDiscriminator):
        last = [i for i, m in enumerate(model.body) if isinstance(m, nn.LeakyReLU)][-1]
        return f"body.{last}", model.body[last]
    raise PixelsmithError("Grad-CAM needs a classifier or a discriminator")


def grad_cam(subject: Subject, label: int | None = None) -> GradCAM:
    """Grad-CAM of class ``label`` (default: the predicted one) or, for a discriminator, of
    'fake' (the negated logit)."""
    attr = require_captum()
    if subject.kind not in ("classifier", "discriminator"):
        raise PixelsmithError(f"Grad-CAM needs a classifier or a discriminator, not a "
                              f"{subject.kind} model")
    name, layer = cam_layer(subject.model)
    inplace = [m for m in subject.model.modules() if getattr(m, "inplace", False) is True]
    for module in inplace:  # captum's layer hooks need the stage's output left intact
        module.inplace = False
    try:
        with torch.no_grad():
            out = subject.run(subject.x)
        if subject.kind == "discriminator":
            def forward(t):
                return -subject.run(t).reshape(len(t), -1).mean(dim=1)
            target, what = None, "fake (negated real/fake logit)"
            score = float(-out.mean())
        else:
            forward = subject.run
            label = int(out.argmax(dim=-1)[0]) if label is None else int(label)
            if not 0 <= label < out.shape[-1]:
                raise PixelsmithError(f"--class must be in 0-{out.shape[-1] - 1}, not {label}")
            target, what = label, f"class {label}"
            score = float(out[0, label])
        cam = attr.LayerGradCam(forward, layer)
        with torch.enable_grad():
            coarse = cam.attribute(subject.x.clone(), target=target, relu_attributions=True)
    finally:
        for module in inplace:
            module.inplace = True
    heat = attr.LayerAttribution.interpolate(coarse, tuple(subject.x.shape[-2:]),
                                             interpolate_mode="bilinear")
    return GradCAM(heat.detach()[0, 0].clamp(min=0), coarse.detach()[0, 0], name, what, score)
