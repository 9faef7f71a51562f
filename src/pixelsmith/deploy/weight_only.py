"""int8 storage for the weights of convolutions that compute in fp32.

Static quantization keeps a restoration network's first and last convolutions in fp32 (their
activations are the image and the residual added to it, where 8-bit activations cost the most
quality), and the U-Net's transposed convolutions (quantized, they cost more quality than the
speed they gave). Their weights need not stay fp32 in the file, though: stored as int8 per output
channel (symmetric, scale max|w| / 127, as ONNX Runtime quantizes the other weights) and
dequantized in the graph, they cost a fraction of the file and only the rounding of the
weights. In EDSR's case the last convolution (48 -> 48 channels before the x4 pixel shuffle) is
a sixth of the int8 file otherwise.
"""

from __future__ import annotations

import numpy as np

WEIGHT_QMAX = 127
WEIGHT_AXIS = {"Conv": 0, "ConvTranspose": 1}  # the output channels' axis of the weight


def int8_weights_only(proto, node_names: list[str]) -> int:
    """Store the weights of the Conv / ConvTranspose nodes ``node_names`` of ``proto`` (an ONNX
    ModelProto, edited in place) as int8 per output channel behind a DequantizeLinear; returns
    how many weight tensors were converted (a weight that is not a float initializer read by
    that node alone is left alone)."""
    from onnx import numpy_helper

    graph = proto.graph
    initializers = {init.name: init for init in graph.initializer}
    readers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    wanted = set(node_names)
    converted = 0
    new_nodes = []
    for node in graph.node:
        if node.name in wanted and node.op_type in WEIGHT_AXIS and len(node.input) > 1:
            weight = initializers.get(node.input[1])
            if weight is not None and readers.get(weight.name) == 1:
                values = numpy_helper.to_array(weight)
                if values.dtype == np.float32:
                    new_nodes.append(_dequantizer(graph, weight, values,
                                                  WEIGHT_AXIS[node.op_type]))
                    node.input[1] = new_nodes[-1].output[0]
                    converted += 1
    if new_nodes:
        # the DequantizeLinear nodes read initializers only: first in topological order
        nodes = new_nodes + list(graph.node)
        del graph.node[:]
        graph.node.extend(nodes)
    return converted


def _dequantizer(graph, weight, values: np.ndarray, axis: int):
    """Replace initializer ``weight`` by int8 values, scales and zero points (per channel along
    ``axis``); the node that dequantizes them."""
    from onnx import helper, numpy_helper

    channels = values.shape[axis]
    moved = np.moveaxis(values, axis, 0).reshape(channels, -1)
    absmax = np.abs(moved).max(axis=1)
    scale = np.where(absmax > 0, absmax / WEIGHT_QMAX, 1.0).astype(np.float32)
    shape = [1] * values.ndim
    shape[axis] = channels
    quantized = np.clip(np.rint(values / scale.reshape(shape)), -WEIGHT_QMAX, WEIGHT_QMAX)
    name = weight.name
    graph.initializer.remove(weight)
    graph.initializer.extend([
        numpy_helper.from_array(quantized.astype(np.int8), f"{name}_int8"),
        numpy_helper.from_array(scale, f"{name}_int8_scale"),
        numpy_helper.from_array(np.zeros(channels, np.int8), f"{name}_int8_zero_point"),
    ])
    return helper.make_node("DequantizeLinear",
                            [f"{name}_int8", f"{name}_int8_scale", f"{name}_int8_zero_point"],
                            [f"{name}_dequantized"], name=f"{name}_DequantizeWeights", axis=axis)
