"""Training objectives: pixel losses for restoration, the adversarial losses of GANs and
pix2pix (hinge or non-saturating, R1, feature matching). The VAE's ELBO lives with the VAE
(:mod:`pixelsmith.nets.autoencoder`)."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def charbonnier(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """sqrt((x - y)^2 + eps^2), averaged: an L1 that is smooth at zero."""
    return torch.sqrt((x - y) ** 2 + eps**2).mean()


PIXEL_LOSSES = {"l1": F.l1_loss, "mse": F.mse_loss, "charbonnier": charbonnier}

GAN_KINDS = ("hinge", "nonsaturating")


def discriminator_loss(kind: str, real_logits: torch.Tensor,
                       fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]; non-saturating: the logistic loss."""
    if kind == "hinge":
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(kind: str, fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge: -E[D(G(z))]; non-saturating: E[softplus(-D(G(z)))] = -E[log sigmoid D(G(z))]."""
    if kind == "hinge":
        return -fake_logits.mean()
    return F.softplus(-fake_logits).mean()


def r1_penalty(real_logits: torch.Tensor, real_inputs: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): the batch mean of ||grad_x D(x)||^2 on real inputs.

    ``real_inputs`` must require grad and be what D saw; the graph is kept, so the penalty
    can be backpropagated into D's weights.
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), real_inputs, create_graph=True)
    return grad.float().pow(2).flatten(1).sum(dim=1).mean()


def feature_matching_loss(fake: list[torch.Tensor], real: list[torch.Tensor]) -> torch.Tensor:
    """Mean over layers of the L1 distance between fake and (detached) real activations."""
    terms = [F.l1_loss(f.float(), r.detach().float()) for f, r in zip(fake, real, strict=True)]
    return torch.stack(terms).mean()
