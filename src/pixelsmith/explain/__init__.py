"""Interpretability: what a model looks at, what its layers see, where a codec spends its bits.

One module per job: :mod:`~pixelsmith.explain.subject` (a model bound to its image),
:mod:`~pixelsmith.explain.activations`, :mod:`~pixelsmith.explain.attribution` (gradient x
input, integrated gradients, receptive field, inpainting sources), :mod:`~pixelsmith.explain.lrp`,
:mod:`~pixelsmith.explain.gradcam`, :mod:`~pixelsmith.explain.codec_bits`,
:mod:`~pixelsmith.explain.vae_units`, :mod:`~pixelsmith.explain.sanity` (model randomisation),
:mod:`~pixelsmith.explain.page` (PNG panels and the HTML page), :mod:`~pixelsmith.explain.run`
(all of it for one image) and :mod:`~pixelsmith.cli.explain` (the CLI).

Names are imported on first use, so ``import pixelsmith.explain`` does not load torch.
"""

from __future__ import annotations

import importlib

#: public name -> (module, name there). Where a module and its main function share a name
#: (activations, lrp, vae_units), the package exports the function under another name: once
#: the submodule is imported, Python binds the package attribute of that name to the module.
_NAMES = {
    "Subject": ("subject", "Subject"), "load_subject": ("subject", "load_subject"),
    "make_subject": ("subject", "make_subject"), "rebind": ("subject", "rebind"),
    "layer_activations": ("activations", "activations"), "stages": ("activations", "stages"),
    "Target": ("attribution", "Target"), "default_target": ("attribution", "default_target"),
    "gradient": ("attribution", "gradient"),
    "gradient_x_input": ("attribution", "gradient_x_input"),
    "integrated_gradients": ("attribution", "integrated_gradients"),
    "effective_receptive_field": ("attribution", "effective_receptive_field"),
    "inpaint_sources": ("attribution", "inpaint_sources"),
    "pixel_map": ("attribution", "pixel_map"),
    "lrp_relevance": ("lrp", "lrp"), "relevance_map": ("lrp", "relevance_map"),
    "grad_cam": ("gradcam", "grad_cam"),
    "bit_map": ("codec_bits", "bit_map"),
    "latent_units": ("vae_units", "vae_units"),
    "randomized": ("sanity", "randomized"), "rank_correlation": ("sanity", "rank_correlation"),
    "edge_map": ("sanity", "edge_map"), "radial_normalized": ("sanity", "radial_normalized"),
    "Page": ("page", "Page"),
    "explain": ("run", "explain"),
}

__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        module, attribute = _NAMES[name]
        return getattr(importlib.import_module(f"pixelsmith.explain.{module}"), attribute)
    raise AttributeError(f"module 'pixelsmith.explain' has no attribute '{name}'")
