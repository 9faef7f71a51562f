"""Interpretability: what a model looks at, what its layers see, where a codec spends its bits.

One module per job: :mod:`~pixelsmith.explain.subject` (a model bound to its image),
:mod:`~pixelsmith.explain.activations`, :mod:`~pixelsmith.explain.attribution` (gradient x
input, integrated gradients, receptive field, inpainting sources), :mod:`~pixelsmith.explain.lrp`,
:mod:`~pixelsmith.explain.gradcam`, :mod:`~pixelsmith.explain.codec_bits`,
:mod:`~pixelsmith.explain.vae_units`, :mod:`~pixelsmith.explain.sanity` (model randomisation),
:mod:`~pixelsmith.explain.page` (PNG panels and the HTML page), :mod:`~pixelsmith.explain.run`
(all of it for one image) and :mod:`~pixelsmith.explain.command` (the CLI).

Names are imported on first use, so ``import pixelsmith.explain`` does not load torch.
"""

from __future__ import annotations

import importlib

_NAMES = {
    "Subject": "subject", "load_subject": "subject", "make_subject": "subject",
    "rebind": "subject",
    "activations": "activations", "stages": "activations",
    "Target": "attribution", "default_target": "attribution", "gradient": "attribution",
    "gradient_x_input": "attribution", "integrated_gradients": "attribution",
    "effective_receptive_field": "attribution", "inpaint_sources": "attribution",
    "pixel_map": "attribution",
    "lrp": "lrp", "relevance_map": "lrp",
    "grad_cam": "gradcam",
    "bit_map": "codec_bits",
    "vae_units": "vae_units",
    "randomized": "sanity", "rank_correlation": "sanity", "edge_map": "sanity",
    "radial_normalized": "sanity",
    "Page": "page",
    "explain": "run",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        module = importlib.import_module(f"pixelsmith.explain.{_NAMES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'pixelsmith.explain' has no attribute '{name}'")
