"""Export a restoration network to one self-contained ONNX file (weights inside, metadata set).

The graph is traced by ``torch.onnx.export(dynamo=True)`` with dynamic batch, height and width:
the U-Net's reflect padding to its size multiple and the crop back are inside the graph, so
any size the torch module takes works. Inputs and output are float32 NCHW in [0, 1]:

- ``image`` (N, C, H, W);
- ``level`` (N,) for level-conditioned networks: noise sigma in [0, 1] units, or JPEG
  quality / 100;
- ``mask`` (N, 1, H, W) for inpainting networks, 1 = missing;
- ``output`` (N, C, H * scale, W * scale).

One exception to "any size": the inpainting networks pre-fill holes with a pull-push pyramid
whose depth depends on the image's smaller side (``ceil(log2(side))`` levels, at most 12).
The traced graph keeps the depth of its example, so such a network is exported per
*size class* (that depth): a file is exact for inputs whose smaller side is in
``metadata["min_side"]``. :func:`size_class` says which class an input needs.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from pixelsmith.errors import PixelsmithError
from pixelsmith.nets.contract import RestorationNet
from pixelsmith.zoo.config import config_of

OPSET = 18
#: Bump when the exported graph changes for the same weights: part of the cache key.
EXPORT_FORMAT = 1
RESTORATION_NETWORKS = ("unet", "edsr")
IMAGE, LEVEL, MASK, OUTPUT = "image", "level", "mask", "output"
#: Pyramid levels of pull-push hole filling (pixelsmith.nets.unet.pull_push_fill's default).
MAX_LEVELS = 12


def check_exportable(config: dict) -> None:
    """One-line error unless ``config`` is a restoration network this module can export."""
    from pixelsmith.degrade.known import TASKS

    network = config.get("network", {}).get("name")
    if network not in RESTORATION_NETWORKS or config.get("task") not in TASKS:
        raise PixelsmithError(
            f"model '{config.get('name', '?')}' ({config.get('family')}, network {network}) "
            f"cannot be exported: export-onnx takes restoration models "
            f"({', '.join(RESTORATION_NETWORKS)} networks for {', '.join(TASKS)})")


def size_multiple(net: RestorationNet) -> int:
    """The multiple the network pads its input to internally (1: none)."""
    return int(net.multiple)


def size_class(net: RestorationNet, height: int, width: int) -> int:
    """The size class an input of ``height`` x ``width`` needs: 0 means any size.

    For inpainting networks (mask conditioning) it is the depth of the pull-push pyramid,
    ``ceil(log2(min(height, width)))`` capped at :data:`MAX_LEVELS`.
    """
    if net.conditioning != "mask":
        return 0
    side = max(1, min(int(height), int(width)))
    return min(MAX_LEVELS, (side - 1).bit_length())


def class_sides(level_class: int) -> tuple[int, int | None]:
    """Smallest and largest smaller side of the inputs of a mask network's size class
    (None: unbounded, the last class)."""
    low = 2 ** (level_class - 1) + 1 if level_class > 0 else 1
    return low, None if level_class >= MAX_LEVELS else 2 ** level_class


def example_size(net: RestorationNet, level_class: int) -> tuple[int, int]:
    """An input size to trace with: odd, not a multiple of the network's, height != width
    (equal example sizes would let the tracer assume they are always equal)."""
    if net.conditioning != "mask":
        return 67, 53
    height = class_sides(level_class)[0]
    width = height + 2
    if -height % size_multiple(net) >= height:  # reflect padding needs pad < side
        raise PixelsmithError(
            f"inputs with a smaller side of {height} px or less are too small for this network")
    return height, width


class _Blind(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)


class _Conditioned(_Blind):
    def forward(self, image: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        return self.net(image, level)


def input_names(net: RestorationNet) -> list[str]:
    """The graph's input names for ``net``: image, then level or mask if it is conditioned."""
    conditioning = net.conditioning
    if conditioning is None:
        return [IMAGE]
    return [IMAGE, MASK if conditioning == "mask" else LEVEL]


def metadata(net: RestorationNet, level_class: int) -> dict[str, str]:
    """The ``metadata_props`` written into the file (all values are strings)."""
    from pixelsmith._version import __version__

    config = config_of(net)
    conditioning = net.conditioning
    level = {None: "none", "sigma": "level = noise sigma in [0, 1] (sigma_255 / 255), (N,)",
             "quality": "level = JPEG quality / 100, (N,)",
             "mask": "mask (N, 1, H, W), 1 = missing"}[conditioning]
    props = {
        "pixelsmith_version": __version__,
        "model": config.name or "",
        "task": config.task or "",
        "network": config.network_name,
        "channels": str(int(net.channels)),
        "scale": str(int(net.scale)),
        "conditioning": conditioning or "none",
        "level_conditioning": level,
        "inputs": ", ".join(input_names(net)),
        "layout": "float32 NCHW in [0, 1]; dynamic batch, height and width",
        "size_multiple": str(size_multiple(net)),
        "source_sha256": config.sha256 or "",
        "opset": str(OPSET),
        "export_format": str(EXPORT_FORMAT),
        "exporter": f"torch.onnx.export(dynamo=True), torch {torch.__version__}",
    }
    if conditioning == "mask":
        low, high = class_sides(level_class)
        props["size_class"] = str(level_class)
        props["min_side"] = f"{low}-{high if high else 'any'}"
    else:
        props["size_class"] = "0"
        props["min_side"] = "any"
    return props


@contextlib.contextmanager
def quiet_exporter():
    """The dynamo exporter logs progress and deprecation notes: keep them off the console."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def strip_trace_metadata(proto) -> None:
    """Drop what the exporter records per node for debugging (the Python stack trace with this
    machine's file paths, FX node text, module scopes): a fifth of a small model's file, and
    it made the same weights export to different bytes in different checkouts."""
    for graph in (proto.graph, *proto.functions):
        for node in graph.node:
            del node.metadata_props[:]
            node.doc_string = ""
    for info in list(proto.graph.value_info) + list(proto.graph.input) + list(proto.graph.output):
        del info.metadata_props[:]


def export_network(net: nn.Module, path: str | Path, level_class: int | None = None) -> Path:
    """Trace ``net`` (a loaded restoration model) into the ONNX file ``path``, atomically.

    ``level_class``: the size class for inpainting networks (default: the class of a
    512-pixel tile, :func:`size_class`); ignored by the others.
    """
    import onnx

    from pixelsmith.io import atomic_output

    if level_class is None:
        level_class = size_class(net, 512, 512)
    net = net.eval().to("cpu", memory_format=torch.contiguous_format)
    height, width = example_size(net, level_class)
    names = input_names(net)
    channels = int(net.channels)
    batch = 2  # a batch of 1 would be specialised to 1
    image = torch.rand(batch, channels, height, width, generator=torch.Generator().manual_seed(0))
    spatial = {0: torch.export.Dim.DYNAMIC, 2: torch.export.Dim.DYNAMIC,
               3: torch.export.Dim.DYNAMIC}
    if len(names) == 1:
        wrapper, args, shapes = _Blind(net), (image,), (spatial,)
    elif names[1] == MASK:
        mask = (torch.rand(batch, 1, height, width) > 0.7).float()
        wrapper, args, shapes = _Conditioned(net), (image, mask), (spatial, spatial)
    else:
        level = torch.tensor([0.1, 0.2])
        wrapper, args, shapes = (_Conditioned(net), (image, level),
                                 (spatial, {0: torch.export.Dim.DYNAMIC}))
    with quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            wrapper.eval(), args, dynamo=True, dynamic_shapes=shapes, input_names=names,
            output_names=[OUTPUT], opset_version=OPSET, optimize=True, verbose=False,
            external_data=False)
    proto = program.model_proto
    strip_trace_metadata(proto)
    onnx.helper.set_model_props(proto, metadata(net, level_class))
    proto.doc_string = ("pixelsmith restoration network; inputs "
                        f"{', '.join(names)}, output {OUTPUT}: float32 NCHW in [0, 1]")
    path = Path(path)
    with atomic_output(path) as tmp:
        onnx.save_model(proto, str(tmp), save_as_external_data=False)
    return path


def export_onnx(model: str | Path, output: str | Path, max_side: int = 512) -> Path:
    """Export a shipped model name or model folder to ``output`` (one .onnx file).

    ``max_side``: inpainting networks are exported for the size class of inputs whose smaller
    side is ``max_side`` (the restore tile, 512 by default); other networks take any size.
    (Codecs: :func:`pixelsmith.runtime.codec_export.export_codec`.)
    """
    from pixelsmith.zoo import load_model, read_config, resolve_model_dir

    check_exportable(read_config(resolve_model_dir(model)))
    if max_side < 1:
        raise PixelsmithError(f"max side must be 1 or more, not {max_side}")
    net = load_model(model)
    return export_network(net, output, size_class(net, max_side, max_side))


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata_props of an ONNX file, without reading its weights."""
    import onnx

    proto = onnx.load_model(str(path), load_external_data=False)
    return {prop.key: prop.value for prop in proto.metadata_props}


def describe(path: str | Path) -> str:
    """One line for the CLI: file, size, opset and the inputs it takes."""
    props = read_metadata(path)
    size = Path(path).stat().st_size / 1e6
    if props.get("task") == "codec-synthesis":
        return (f"{path}: {size:.1f} MB, opset {props.get('opset')}, codec synthesis: latent "
                f"({props.get('latent_channels')} channels) -> image x{props.get('scale')}")
    sides = "" if props.get("min_side", "any") == "any" else \
        f"; exact for a smaller side of {props['min_side']} px"
    return (f"{path}: {size:.1f} MB, opset {props.get('opset')}, inputs {props.get('inputs')}, "
            f"size multiple {props.get('size_multiple')}{sides}")

