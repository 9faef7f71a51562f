"""Structured pruning: remove whole channels of a restoration network, then fine-tune it.

torch-pruning (``pip install 'pixelsmith[prune]'``) traces the network's channel dependencies
(residual additions and skip connections tie the widths of many layers together) and removes
the same share of the channels with the smallest L1 weight norms from every group. The output
layer keeps its channels. Because every stage of our U-Nets and EDSRs loses the same share,
the pruned network is again a plain ``unet`` / ``edsr`` with smaller ``features``: it is saved
as an ordinary model folder (``load_model``, ``restore --method``, ``export-onnx`` and
``quantize`` all take it), and fine-tuned with the model's own training recipe, starting from
the pruned weights.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import torch
from torch import nn

from pixelsmith.deploy.finetune import finetune_package
from pixelsmith.errors import PixelsmithError

INSTALL_HINT = "pip install 'pixelsmith[prune]'"
#: kept channel counts are multiples of this: convolution kernels (oneDNN, ONNX Runtime's
#: MLAS) work on blocks of 8 or 16 floats, so odd widths such as 11 or 89 waste part of each;
#: chosen by timing multiples 1, 4, 8 and 16 (``python -m benchmarks.deploy --only-prune``
#: compares the exact share with the rounded widths)
ROUND_TO = 8


def _example_inputs(net: nn.Module) -> tuple[torch.Tensor, ...]:
    y = torch.rand(1, int(net.channels), 64, 64)
    conditioning = net.conditioning
    if conditioning is None:
        return (y,)
    if conditioning == "mask":
        return (y, torch.zeros(1, 1, 64, 64))
    return (y, torch.tensor([0.1]))


def _output_layer(net: nn.Module, name: str) -> nn.Module:
    return net.tail if name == "unet" else net.upsample[0]


def pruned_args(net: nn.Module, name: str, args: dict) -> dict:
    """The network arguments that rebuild ``net`` after pruning (its new widths)."""
    if name == "unet":
        return {**args, "features": [net.head.out_channels]
                + [down.out_channels for down in net.down]}
    return {**args, "features": net.head.out_channels}


def _rounding_pruner(torch_pruning):
    """torch-pruning's magnitude pruner, keeping the multiple of ``round_to`` *nearest* to the
    requested width (torch-pruning rounds down, which turns 30% of 16 channels into 50%), and
    never fewer than one multiple nor more than the layer has."""

    class NearestRoundPruner(torch_pruning.pruner.MagnitudePruner):
        def _round_to(self, n_pruned: int, current_channels: int, round_to: int) -> int:
            kept = round((current_channels - n_pruned) / round_to) * round_to
            kept = min(current_channels, max(round_to, kept))
            return current_channels - kept

    return NearestRoundPruner


def prune_network(net: nn.Module, config: dict, ratio: float,
                  round_to: int = ROUND_TO) -> tuple[nn.Module, dict]:
    """Remove ``ratio`` of the channels of every prunable group of ``net`` (a loaded model),
    keeping a multiple of ``round_to`` channels in each (the nearest to the share; 1: exact).

    Returns a freshly built dense network with the pruned weights and its network config.
    """
    try:
        import torch_pruning
    except ImportError:
        raise PixelsmithError(f"prune needs torch-pruning: {INSTALL_HINT}") from None
    from pixelsmith.nets import build_network

    name = config["network"]["name"]
    if name not in ("unet", "edsr"):
        raise PixelsmithError(f"model '{config.get('name')}' (network {name}) cannot be pruned: "
                              "prune takes restoration U-Nets and EDSRs")
    if not 0.0 < ratio < 1.0:
        raise PixelsmithError(f"the share of channels to remove must be between 0 and 1, "
                              f"not {ratio:g}")
    work = copy.deepcopy(net).eval().to("cpu", memory_format=torch.contiguous_format)
    if round_to < 1:
        raise PixelsmithError(f"channel counts must round to a positive multiple, "
                              f"not {round_to}")
    pruner = _rounding_pruner(torch_pruning)(
        work, _example_inputs(work), importance=torch_pruning.importance.MagnitudeImportance(p=1),
        pruning_ratio=ratio, ignored_layers=[_output_layer(work, name)],
        round_to=round_to if round_to > 1 else None)
    pruner.step()
    args = pruned_args(work, name, config["network"].get("args", {}))
    dense = build_network(name, args)
    try:
        dense.load_state_dict(work.state_dict())
    except RuntimeError:
        raise PixelsmithError(f"pruning left '{config.get('name')}' with uneven widths that "
                              f"network '{name}' cannot express") from None
    return dense.eval(), {**config["network"], "args": args}


def prune_model(model: str | Path, output: str | Path, ratio: float = 0.3,
                finetune: int = 0, device: str | None = None,
                round_to: int = ROUND_TO, lr: float | None = None) -> Path:
    """Prune ``model`` (shipped name or folder) by ``ratio`` of its channels into ``output``
    (widths multiples of ``round_to``), then fine-tune it for ``finetune`` steps of its own
    recipe (0: no fine-tuning) at peak learning rate ``lr`` (default: the recipe's)."""
    from pixelsmith.zoo import load_model, read_config, resolve_model_dir, save_model

    source = resolve_model_dir(model)
    config = read_config(source)
    if config.get("quantized"):
        raise PixelsmithError(f"{model} is quantized: prune the fp32 model, then quantize")
    output = Path(output)
    if output.resolve() == source.resolve():
        raise PixelsmithError("the output folder must differ from the model's folder")
    net = load_model(source)
    dense, network = prune_network(net, config, ratio, round_to)
    before = sum(p.numel() for p in net.parameters())
    after = sum(p.numel() for p in dense.parameters())
    kept = {key: config[key] for key in ("task", "family", "channels", "needs", "summary")
            if key in config}
    pruned = {"ratio": ratio, "round_to": round_to,
              "source": {"name": config.get("name"), "sha256": config.get("sha256")},
              "parameters": {"before": before, "after": after}, "finetune_steps": finetune,
              **({"finetune_lr": lr} if finetune > 0 and lr is not None else {})}
    package = {"name": output.name, **kept, "network": network,
               "training": config.get("training", {}), "pruned": pruned}
    package["summary"] = f"{config.get('summary', config.get('name'))}, {ratio:.0%} of " \
                         "channels pruned"
    if finetune <= 0:
        return save_model(output, dense, package)
    with tempfile.TemporaryDirectory(prefix="pixelsmith-prune-") as folder:
        work = Path(folder)
        start = save_model(work / "pruned", dense, package)
        tuned = finetune_package(start, package, finetune, work, device, lr=lr)
        tuned_net = load_model(tuned)
        training = read_config(tuned).get("training", {})
    return save_model(output, tuned_net, {**package, "training": {
        **package["training"], "finetune": training}})
