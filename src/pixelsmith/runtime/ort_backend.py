"""ONNX Runtime as the inference backend of trained restoration models.

:class:`OrtNetwork` stands in for the torch module inside
:class:`pixelsmith.restoration.trained.ModelRestorer`: it is called the same way (``net(y)``,
``net(y, level)`` or ``net(y, mask)`` on torch tensors) and declares the same facts
(:class:`pixelsmith.nets.contract.RestorationInterface`) and config, so tiling, gray/colour
matching, level maps and sigma / quality estimation are the code that runs for torch too. The
ONNX graph comes from the user cache (:mod:`pixelsmith.runtime.cache`), exported on first use.

Backends: "torch", "onnxruntime", or "auto" (where ONNX Runtime is installed, the model is
exportable, the device is the CPU and the precision fp32, the faster of the two as measured
once on this machine, :mod:`pixelsmith.runtime.auto_backend`; torch elsewhere). How fast each is:
docs/DEPLOY.md (benchmarks/deploy.py).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import torch
from torch import nn

from pixelsmith.errors import PixelsmithError
from pixelsmith.zoo.config import config_of, raw_config

BACKENDS = ("torch", "onnxruntime", "auto")
INSTALL_HINT = "pip install 'pixelsmith[fast]'"


def onnxruntime_available() -> bool:
    """Whether onnxruntime and what the export needs (onnx, onnxscript) are importable."""
    return all(importlib.util.find_spec(name) is not None
               for name in ("onnxruntime", "onnx", "onnxscript"))


def _exportable(net: nn.Module) -> bool:
    from pixelsmith.runtime.onnx_export import RESTORATION_NETWORKS

    config = config_of(net)
    return bool(config.sha256 and config.network_name in RESTORATION_NETWORKS)


def _providers(device: torch.device) -> list[str]:
    if device.type == "cpu":
        return ["CPUExecutionProvider"]
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        raise PixelsmithError(f"--backend onnxruntime on {device}: this onnxruntime has no CUDA "
                              "provider (install onnxruntime-gpu, or use --backend torch)")
    index = 0 if device.index is None else device.index
    return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]


def is_quantized(net: nn.Module) -> bool:
    """Whether ``net`` comes from a quantized package (``pixelsmith quantize``)."""
    return bool(config_of(net).quantized)


def choose_backend(requested: str | None, net: nn.Module, device: torch.device,
                   precision: str) -> str:
    """The backend that runs ``net``: "torch" or "onnxruntime" (one-line errors when the
    requested one cannot). None is the model's default: onnxruntime for a quantized package
    (its int8 graph), torch for the others."""
    if requested is None:
        requested = "onnxruntime" if is_quantized(net) else "torch"
    if requested not in BACKENDS:
        raise PixelsmithError(f"backend must be {', '.join(BACKENDS)}, not '{requested}'")
    if requested == "torch":
        return "torch"
    if requested == "auto":
        fits = device.type == "cpu" and precision == "fp32" and _exportable(net)
        return "onnxruntime" if fits and onnxruntime_available() else "torch"
    if not onnxruntime_available():
        what = ("this model is quantized for ONNX Runtime (--backend torch runs its fp32 "
                "weights); it" if is_quantized(net) else "--backend onnxruntime")
        raise PixelsmithError(f"{what} needs onnxruntime, onnx and onnxscript: {INSTALL_HINT}")
    if precision != "fp32":
        raise PixelsmithError(f"--backend onnxruntime runs fp32 only, not {precision}")
    if not _exportable(net):
        name = config_of(net).display_name(net)
        raise PixelsmithError(f"model '{name}' has no ONNX export (restoration U-Nets and EDSRs "
                              "only): use --backend torch")
    _providers(device)
    return "onnxruntime"


class OrtNetwork:
    """A restoration network run by ONNX Runtime, called like the torch module it replaces."""

    def __init__(self, module: nn.Module, device: torch.device | str = "cpu",
                 threads: int | None = None) -> None:
        self.module = module
        self.conditioning = module.conditioning
        self.channels = int(module.channels)
        self.scale = int(module.scale)
        self.multiple = int(module.multiple)
        self.pixelsmith_config = raw_config(module)
        self.device = torch.device(device)
        self.threads = threads
        self._sessions: dict[int, object] = {}

    def session(self, level_class: int):
        """The inference session of one size class (exported to the cache if needed)."""
        if level_class not in self._sessions:
            import onnxruntime

            from pixelsmith.runtime.cache import cached_export
            from pixelsmith.runtime.int8 import quantized_graph

            path = (quantized_graph(self.module, level_class)
                    or cached_export(self.module, level_class))
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.threads or torch.get_num_threads()
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            self._sessions[level_class] = onnxruntime.InferenceSession(
                str(path), options, providers=_providers(self.device))
        return self._sessions[level_class]

    def __call__(self, image: torch.Tensor, level: torch.Tensor | None = None) -> torch.Tensor:
        from pixelsmith.runtime.onnx_export import IMAGE, LEVEL, MASK, OUTPUT, size_class

        n, _, height, width = image.shape
        level_class = size_class(self.module, height, width)
        if self.conditioning == "mask" and level_class < 4:
            # inputs this small cannot be traced (reflect padding); the module handles or
            # refuses them exactly as the torch backend does
            return self.module(image, level)
        feed = {IMAGE: _array(image)}
        if self.conditioning == "mask":
            feed[MASK] = _array(torch.as_tensor(level).to(image).expand(n, 1, height, width))
        elif self.conditioning is not None:
            if level is None:
                raise ValueError(f"this network needs its {self.conditioning} level")
            feed[LEVEL] = _array(torch.as_tensor(level, dtype=torch.float32).reshape(-1)
                                 .expand(n))
        out = self.session(level_class).run([OUTPUT], feed)[0]
        return torch.from_numpy(out).to(image.device)


def _array(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().to("cpu", torch.float32).numpy())
