"""pixelsmith: image restoration, synthesis and compression on PyTorch.

Heavy modules load on first use, so ``import pixelsmith`` and ``pixelsmith --help`` stay fast.
"""

from __future__ import annotations

from pixelsmith._version import __version__

_LAZY = {
    "load_image": "pixelsmith.io",
    "read_image": "pixelsmith.io",
    "save_image": "pixelsmith.io",
    "restore": "pixelsmith.restoration.restorer",
    "compress": "pixelsmith.codec.api",
    "decompress": "pixelsmith.codec.api",
    "load_model": "pixelsmith.zoo",
    "Known": "pixelsmith.degrade.known",
    "PixelsmithError": "pixelsmith.errors",
    "generate": "pixelsmith.synthesis",
    "reconstruct": "pixelsmith.synthesis",
    "encode_images": "pixelsmith.synthesis",
    "interpolate": "pixelsmith.synthesis",
    "interpolate_seeds": "pixelsmith.synthesis",
    "traverse": "pixelsmith.synthesis",
    "image_grid": "pixelsmith.synthesis",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pixelsmith' has no attribute {name!r}")
