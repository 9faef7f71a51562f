"""Registry of restoration methods per task, loaded lazily: listing them imports nothing heavy.

A method is a callable ``fn(y, known) -> x_hat`` on (N, C, H, W) float tensors in [0, 1]
(see :class:`pixelsmith.known.Known`). Classical baselines and, later, pretrained models are
registered here under one name each, so the CLI, the evaluator and the API stay task-agnostic.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

import torch

from pixelsmith.errors import PixelsmithError
from pixelsmith.known import TASKS, Known

RestoreFn = Callable[[torch.Tensor, Known], torch.Tensor]


@dataclass(frozen=True)
class Method:
    """One registered method: where its function lives and what it needs to run."""

    name: str
    task: str
    target: str  # "module:function", imported on first use
    summary: str
    kind: str = "classical"
    requires: tuple[str, ...] = ()  # importable modules it needs (optional dependencies)
    needs: tuple[str, ...] = ()  # Known fields that must be set (e.g. "kernel")

    def available(self) -> bool:
        return all(importlib.util.find_spec(mod) is not None for mod in self.requires)

    def load(self) -> RestoreFn:
        missing = [mod for mod in self.requires if importlib.util.find_spec(mod) is None]
        if missing:
            raise PixelsmithError(
                f"method '{self.name}' needs the Python package(s) {', '.join(missing)}; "
                "install them with: pip install 'pixelsmith[classical]'"
            )
        module_name, func_name = self.target.split(":")
        return getattr(importlib.import_module(module_name), func_name)


_C = "pixelsmith.classical"
_REGISTRY: dict[str, dict[str, Method]] = {task: {} for task in TASKS}


def register(method: Method) -> None:
    """Add a method to the registry (later registrations of a name replace earlier ones)."""
    if method.task not in _REGISTRY:
        raise ValueError(f"unknown task {method.task!r}")
    _REGISTRY[method.task][method.name] = method


for _m in (
    Method("bm3d", "denoise", f"{_C}.denoise:bm3d_denoise", "BM3D (bm3d package)",
           requires=("bm3d",), needs=("sigma",)),
    Method("nlm", "denoise", f"{_C}.denoise:nlm_denoise", "non-local means (scikit-image)",
           needs=("sigma",)),
    Method("tv", "denoise", f"{_C}.denoise:tv_denoise", "total variation, Chambolle (scikit-image)",
           needs=("sigma",)),
    Method("wavelet", "denoise", f"{_C}.denoise:wavelet_denoise",
           "wavelet BayesShrink soft thresholding (scikit-image)", needs=("sigma",)),
    Method("wiener", "deblur", f"{_C}.deblur:wiener_deblur", "Wiener filter in the Fourier domain",
           needs=("kernel",)),
    Method("richardson-lucy", "deblur", f"{_C}.deblur:richardson_lucy_deblur",
           "Richardson-Lucy deconvolution", needs=("kernel",)),
    Method("biharmonic", "inpaint", f"{_C}.inpaint:biharmonic_inpaint",
           "biharmonic inpainting (scikit-image)", needs=("mask",)),
    Method("telea", "inpaint", f"{_C}.inpaint:telea_inpaint", "fast marching, Telea (OpenCV)",
           requires=("cv2",), needs=("mask",)),
    Method("bicubic", "sr", f"{_C}.sr:bicubic_upscale", "MATLAB-style bicubic interpolation",
           needs=("scale",)),
    Method("identity", "dejpeg", f"{_C}.dejpeg:identity", "the decoded JPEG itself"),
):
    register(_m)


def task_methods(task: str) -> dict[str, Method]:
    """Registered methods of ``task`` by name."""
    if task not in _REGISTRY:
        raise PixelsmithError(f"unknown task '{task}' (choose from {', '.join(TASKS)})")
    return dict(_REGISTRY[task])


def get_method(task: str, name: str) -> Method:
    """The method ``name`` of ``task``, or a one-line error listing the choices."""
    methods = task_methods(task)
    if name not in methods:
        raise PixelsmithError(
            f"unknown method '{name}' for task '{task}' (choose from {', '.join(methods)})"
        )
    return methods[name]


DEFAULT_METHOD = {
    "denoise": "bm3d",
    "deblur": "wiener",
    "inpaint": "biharmonic",
    "sr": "bicubic",
    "dejpeg": "identity",
}


def default_method(task: str) -> str:
    """Best available method for ``task`` (falls back when an optional dependency is missing)."""
    methods = task_methods(task)
    preferred = DEFAULT_METHOD[task]
    if methods[preferred].available():
        return preferred
    return next(name for name, m in methods.items() if m.available())
