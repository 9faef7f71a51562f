"""Trained networks behind the restore contract ``fn(y, known) -> x_hat``.

A network declares what it is conditioned on with a class attribute ``conditioning``:
None (blind), "sigma" (noise level in [0, 1], per image), "quality" (JPEG quality / 100) or
"mask" (1 = missing). :func:`restoration_forward` is the one place that maps a
:class:`~pixelsmith.known.Known` to the network's inputs, for training and inference alike.
"""

from __future__ import annotations

import torch

from pixelsmith.errors import PixelsmithError
from pixelsmith.known import Known


def _per_image(value: float | torch.Tensor, n: int, like: torch.Tensor) -> torch.Tensor:
    tensor = torch.as_tensor(value, dtype=like.dtype, device=like.device).reshape(-1)
    return tensor.expand(n) if tensor.numel() == 1 else tensor


def restoration_forward(net: torch.nn.Module, y: torch.Tensor, known: Known) -> torch.Tensor:
    """Call ``net`` on ``y`` with the conditioning input it declares."""
    conditioning = getattr(net, "conditioning", None)
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


def load_restore_fn(source: str):
    """Load a model (shipped name or folder) and return its ``fn(y, known)``."""
    from pixelsmith.zoo import load_model

    net = load_model(source)
    channels = int(net.pixelsmith_config.get("channels", 1))

    def restore_with_model(y: torch.Tensor, known: Known) -> torch.Tensor:
        net.to(y.device)
        with torch.inference_mode():
            return match_channels(channels, y, known,
                                  lambda t, k: restoration_forward(net, t, k))

    return restore_with_model
