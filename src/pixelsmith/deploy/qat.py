"""Quantization-aware fine-tuning (``pixelsmith quantize --qat STEPS``).

The fp32 weights are fine-tuned for a few steps of the model's own recipe
(:mod:`pixelsmith.deploy.finetune`) with fake quantization in the forward pass that mimics the
int8 graph ONNX Runtime runs (:mod:`pixelsmith.deploy.quantize`): in every convolution the
static quantization quantizes, the input is rounded to uint8 with the scale and zero point that
calibration gave it (read from a first, post-training quantized graph of the source weights),
and the weights to int8 per output channel, symmetric, scale max|w| / 127 (ONNX Runtime's
choice, recomputed at every step as the weights move). Rounding passes gradients straight
through inside the range and none outside (``torch.fake_quantize_*``). The first and last
convolutions, the transposed convolutions, additions and concatenations compute in fp32, as in
the int8 graph (the int8 storage of those convolutions' weights,
:mod:`pixelsmith.deploy.weight_only`, is not simulated: a rounding of the weights alone). The
static quantization then runs again on the fine-tuned weights with the same calibration.

The fake quantization replaces the ``forward`` of the training module's convolutions only; the
weights, their names and the EMA copy are those of the plain network, so the fine-tuned
weights save as an ordinary package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

WEIGHT_QMIN, WEIGHT_QMAX = -127, 127  # int8, symmetric (ONNX Runtime's per-channel weights)
ACTIVATION_QMIN, ACTIVATION_QMAX = 0, 255  # uint8 activations
_PREFIX = "net."  # the ONNX export wraps the network as "net"
_WEIGHT_SUFFIX = ".weight_quantized"


@dataclass(frozen=True)
class ActivationQuant:
    """The uint8 quantizations (scale, zero point) of a convolution's input and output in the
    int8 graph (output None: not quantized)."""

    scale: float
    zero_point: int
    output: tuple[float, int] | None = None


def graph_activations(path: str | Path) -> dict[str, ActivationQuant]:
    """Module path -> quantization of its input, for every convolution the QDQ graph at
    ``path`` quantizes (its weights come through a DequantizeLinear of "net.<path>.weight")."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load_model(str(path)).graph
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    producer = {output: node for node in graph.node for output in node.output}
    quantizer = {node.input[0]: node for node in graph.node if node.op_type == "QuantizeLinear"}
    found = {}
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        weight, source = producer.get(node.input[1]), producer.get(node.input[0])
        if (weight is None or source is None or weight.op_type != "DequantizeLinear"
                or source.op_type != "DequantizeLinear"):
            continue
        name = weight.input[0]
        if not (name.startswith(_PREFIX) and name.endswith(_WEIGHT_SUFFIX)):
            continue
        module = name[len(_PREFIX):-len(_WEIGHT_SUFFIX)]
        after = quantizer.get(node.output[0])
        output = None if after is None else (float(constants[after.input[1]]),
                                             int(constants[after.input[2]]))
        found[module] = ActivationQuant(float(constants[source.input[1]]),
                                        int(constants[source.input[2]]), output)
    return found


def fake_quantize_weight(weight: torch.Tensor) -> torch.Tensor:
    """``weight`` rounded to int8 per output channel (symmetric, scale max|w| / 127)."""
    absmax = weight.detach().abs().flatten(1).amax(dim=1).clamp_min(1e-12)
    zero = torch.zeros(weight.shape[0], dtype=torch.int32, device=weight.device)
    return torch.fake_quantize_per_channel_affine(weight, absmax / WEIGHT_QMAX, zero, 0,
                                                  WEIGHT_QMIN, WEIGHT_QMAX)


def _fake_quantized_forward(conv: nn.Conv2d, quant: ActivationQuant):
    def forward(x: torch.Tensor) -> torch.Tensor:
        x = torch.fake_quantize_per_tensor_affine(x, quant.scale, quant.zero_point,
                                                  ACTIVATION_QMIN, ACTIVATION_QMAX)
        y = conv._conv_forward(x, fake_quantize_weight(conv.weight), conv.bias)
        if quant.output is None:
            return y
        return torch.fake_quantize_per_tensor_affine(y, *quant.output, ACTIVATION_QMIN,
                                                     ACTIVATION_QMAX)

    return forward


def _quantize_block_input(quant: ActivationQuant):
    def hook(module: nn.Module, args: tuple) -> tuple:
        x = torch.fake_quantize_per_tensor_affine(args[0], quant.scale, quant.zero_point,
                                                  ACTIVATION_QMIN, ACTIVATION_QMAX)
        return (x, *args[1:])

    return hook


def _quantize_output(quant: ActivationQuant):
    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        return torch.fake_quantize_per_tensor_affine(output, quant.scale, quant.zero_point,
                                                     ACTIVATION_QMIN, ACTIVATION_QMAX)

    return hook


@torch.no_grad()
def _input_producers(net: nn.Module, convs: dict[str, ActivationQuant],
                     example: tuple[torch.Tensor, ...]) -> dict[str, ActivationQuant]:
    """Module -> quantization of its output, for the modules whose output is a quantized
    convolution's input (found by running ``example`` once and matching tensors)."""
    made: dict[int, tuple[str, torch.Tensor]] = {}  # the tensors stay referenced: ids stay
    found: dict[str, ActivationQuant] = {}

    def record(name):
        def hook(module, args, output):
            if isinstance(output, torch.Tensor):
                made.setdefault(id(output), (name, output))
        return hook

    def read(quant):
        def hook(module, args):
            producer = made.get(id(args[0]))
            if producer is not None and producer[0] not in convs:
                found[producer[0]] = quant
        return hook

    handles = [module.register_forward_hook(record(name))
               for name, module in net.named_modules() if name]
    handles += [net.get_submodule(name).register_forward_pre_hook(read(quant))
                for name, quant in convs.items()]
    try:
        net(*example)
    finally:
        for handle in handles:
            handle.remove()
    return found


def install_fake_quantization(net: nn.Module, activations: dict[str, ActivationQuant],
                              example: tuple[torch.Tensor, ...]) -> int:
    """Make the convolutions of ``net`` named in ``activations`` fake-quantize their input,
    weights and output (in place, on this module only); returns how many.

    In the int8 graph a quantized tensor is quantized for all its readers, not only for the
    convolution: the input of a residual block reaches its addition quantized, and so do the
    U-Net's skips and EDSR's long skip. So the module that makes a quantized convolution's
    input (found by running ``example`` through ``net`` once) quantizes its output, and a
    residual block whose ``body.0`` is quantized quantizes its input; the convolution's own
    rounding of its input is then a no-op."""
    producers = _input_producers(net, activations, example)
    for name, quant in activations.items():
        conv = net.get_submodule(name)
        if not isinstance(conv, nn.Conv2d):
            raise TypeError(f"{name} is a {type(conv).__name__}, not a Conv2d")
        conv.forward = _fake_quantized_forward(conv, quant)
        if name.endswith(".body.0"):
            net.get_submodule(name.removesuffix(".body.0")).register_forward_pre_hook(
                _quantize_block_input(quant))
    for name, quant in producers.items():
        net.get_submodule(name).register_forward_hook(_quantize_output(quant))
    return len(activations)
