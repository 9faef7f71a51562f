"""What each stage of a network sees: forward hooks record one activation tensor per stage;
each stage gets its most active feature maps (by energy, the mean square over the map) and
its statistics: mean, mean |a|, and sparsity, the share of values that are (near) zero.

Stages are the natural blocks of each architecture (:func:`stages`): the U-Net's head,
encoder, bottleneck and decoder blocks and tail; EDSR's head and residual blocks; the
classifier's ReLU outputs; the VAE encoder's activations; the codec's analysis transform.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from pixelsmith.explain.subject import Subject

#: a value counts as zero for the sparsity when |a| <= this fraction of the stage's max |a|
ZERO_FRACTION = 0.01


@dataclass
class StageActivation:
    """One stage: its name, shape (C, H, W), statistics, and the top feature maps."""

    name: str
    shape: tuple[int, int, int]
    mean: float
    mean_abs: float
    sparsity: float
    top_channels: list[int]
    top_energy: list[float]
    maps: torch.Tensor  # (k, H, W) the top channels' maps, float32


def stages(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The (name, module) pairs whose outputs are a network's stages, in forward order."""
    from pixelsmith.codec.gdn import GDN
    from pixelsmith.codec.models import Codec
    from pixelsmith.nets.autoencoder import ConvAutoencoder, ConvVAE
    from pixelsmith.nets.edsr import EDSR
    from pixelsmith.nets.unet import ConditionedUNet

    named = dict(model.named_modules())
    if isinstance(model, ConditionedUNet):
        names = ["head"]
        names += [f"encoders.{i}" for i in range(len(model.encoders))]
        names += ["body"] + [f"decoders.{i}" for i in range(len(model.decoders))] + ["tail"]
        return [(n, named[n]) for n in names]
    if isinstance(model, EDSR):
        names = ["head"] + [f"body.{i}" for i in range(len(model.body) - 1)] + ["upsample.0"]
        return [(n, named[n]) for n in names]
    if isinstance(model, Codec):
        out = [(n, m) for n, m in model.g_a.named_children()
               if isinstance(m, (GDN, nn.ReLU))]
        last = str(len(model.g_a) - 1)
        return [(f"g_a.{n}", m) for n, m in out] + [(f"g_a.{last} (latent y)",
                                                     model.g_a[int(last)])]
    if isinstance(model, (ConvVAE, ConvAutoencoder)):
        return [(f"encoder.body.{n}", m) for n, m in model.encoder.body.named_children()
                if isinstance(m, nn.SiLU)]
    acts = (nn.ReLU, nn.LeakyReLU, nn.SiLU, GDN)
    return [(n, m) for n, m in model.named_modules() if isinstance(m, acts)]


def _summary(name: str, value: torch.Tensor, top: int) -> StageActivation:
    a = value.detach().float()[0]  # (C, H, W)
    energy = a.pow(2).mean(dim=(1, 2))
    k = min(int(top), a.shape[0])
    order = torch.argsort(energy, descending=True)[:k]
    largest = float(a.abs().max())
    sparsity = float((a.abs() <= ZERO_FRACTION * largest).float().mean()) if largest > 0 else 1.0
    return StageActivation(name, tuple(a.shape), float(a.mean()), float(a.abs().mean()),
                           sparsity, [int(c) for c in order], [float(energy[c]) for c in order],
                           a[order].clone())


def activations(subject: Subject, top: int = 8) -> list[StageActivation]:
    """Run the subject's image once and summarise every stage (see :func:`stages`)."""
    found: dict[str, torch.Tensor] = {}
    handles = []
    for name, module in stages(subject.model):
        def hook(_module, _inputs, output, name=name):
            if isinstance(output, torch.Tensor) and output.ndim == 4 and name not in found:
                found[name] = output.detach().clone()
        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            if subject.kind == "codec":  # the analysis transform is what sees the image
                from pixelsmith.codec.models import pad_image

                subject.model.g_a(pad_image(subject.x, subject.model.pad_multiple)[0])
            else:
                subject.run(subject.x)
    finally:
        for handle in handles:
            handle.remove()
    return [_summary(name, found[name], top) for name, _ in stages(subject.model)
            if name in found]
