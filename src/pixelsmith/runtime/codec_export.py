"""Export a learned codec's synthesis transform (decoded latent -> image) to one ONNX file.

The graph is what :meth:`pixelsmith.codec.models.Codec.synthesize` runs per tile:
``g_s(synthesis_input(latent))``. Its input ``latent`` (N, M, h, w) is the dequantized
latent y_hat that the entropy decoder yields (for the hyperprior codecs the integer symbols
plus the predicted means; for codec-ae the 8-bit levels 0-255 as float32); its output
``image`` (N, C, 16 h, 16 w) is the padded reconstruction before the clamp to [0, 1] and the
crop that ``decompress`` applies. Batch, height and width are dynamic. The entropy decoding
stays in Python: it is integer table arithmetic, not a network.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from pixelsmith.errors import PixelsmithError
from pixelsmith.runtime.onnx_export import (
    EXPORT_FORMAT,
    OPSET,
    quiet_exporter,
    strip_trace_metadata,
)
from pixelsmith.zoo.config import config_of

TASK = "codec-synthesis"
LATENT, IMAGE = "latent", "image"


class _Synthesis(nn.Module):
    def __init__(self, codec: nn.Module) -> None:
        super().__init__()
        self.codec = codec

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.codec.g_s(self.codec.synthesis_input(latent))


def synthesis_metadata(codec: nn.Module) -> dict[str, str]:
    """The ``metadata_props`` of a synthesis file (all values are strings)."""
    from pixelsmith._version import __version__
    from pixelsmith.codec.models import LATENT_STRIDE

    config = config_of(codec)
    return {
        "pixelsmith_version": __version__,
        "model": config.name or "",
        "task": TASK,
        "network": config.network_name,
        "channels": str(int(codec.channels)),
        "latent_channels": str(int(codec.M)),
        "scale": str(LATENT_STRIDE),
        "inputs": LATENT,
        "layout": f"latent float32 (N, {codec.M}, h, w) -> image float32 (N, {codec.channels},"
                  f" {LATENT_STRIDE}h, {LATENT_STRIDE}w), unclamped; dynamic batch, height "
                  "and width",
        "source_sha256": config.sha256 or "",
        "opset": str(OPSET),
        "export_format": str(EXPORT_FORMAT),
        "exporter": f"torch.onnx.export(dynamo=True), torch {torch.__version__}",
    }


def export_synthesis(codec: nn.Module, path: str | Path) -> Path:
    """Trace ``codec``'s synthesis transform into the ONNX file ``path``, atomically."""
    import onnx

    from pixelsmith.codec.models import Codec
    from pixelsmith.io import atomic_output

    if not isinstance(codec, Codec) or not isinstance(getattr(codec, "g_s", None), nn.Module):
        raise PixelsmithError("only learned codecs with a synthesis transform (g_s) export")
    codec = codec.eval().to("cpu")
    generator = torch.Generator().manual_seed(0)
    latent = torch.round(3 * torch.randn(2, codec.M, 5, 7, generator=generator))
    dynamic = {0: torch.export.Dim.DYNAMIC, 2: torch.export.Dim.DYNAMIC,
               3: torch.export.Dim.DYNAMIC}
    with quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            _Synthesis(codec).eval(), (latent,), dynamo=True, dynamic_shapes=(dynamic,),
            input_names=[LATENT], output_names=[IMAGE], opset_version=OPSET, optimize=True,
            verbose=False, external_data=False)
    proto = program.model_proto
    strip_trace_metadata(proto)
    onnx.helper.set_model_props(proto, synthesis_metadata(codec))
    proto.doc_string = (f"pixelsmith codec synthesis transform: {LATENT} (dequantized latent) "
                        f"-> {IMAGE} (padded, unclamped)")
    path = Path(path)
    with atomic_output(path) as tmp:
        onnx.save_model(proto, str(tmp), save_as_external_data=False)
    return path


def is_codec(model: str | Path) -> bool:
    """Whether a shipped name or model folder is a learned codec (``task`` "codec")."""
    from pixelsmith.zoo import read_config, resolve_model_dir

    return read_config(resolve_model_dir(model)).get("task") == "codec"


def export_codec(model: str | Path, output: str | Path) -> Path:
    """Export the synthesis transform of a codec (shipped name or model folder) to ``output``."""
    from pixelsmith.codec.api import load_codec

    return export_synthesis(load_codec(model), output)
