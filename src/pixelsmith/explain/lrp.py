"""Layer-wise relevance propagation (Bach et al. 2015; Montavon et al. 2019) for the layers the
shipped restoration networks and classifiers use: Conv2d, ConvTranspose2d, Linear and
BatchNorm2d carry the rules; ReLU, LeakyReLU, max and average pooling, pixel shuffle, padding,
cropping, bicubic resizing, concatenation and residual additions pass relevance on as it is.

captum's LRP has no rule for ``ConvTranspose2d`` and no notion of the functional residual
additions of the U-Net and EDSR, so this module writes the propagation itself, as a modified
gradient: every tensor t of the forward pass holds relevance ``R_t = t * g_t``, where ``g`` is
the gradient with each rule layer's backward replaced by its LRP rule. Linear maps without a
bias (padding, pooling, resizing, pixel shuffle) and residual additions then split relevance
in proportion to each input's share of the value, exactly as LRP prescribes, and conserve it.

Rules of the layers with weights, for input a, weights W and output z = W a + b:

- ``"epsilon"``: R_a = a * W^T (R_z / (W a + eps * sign(W a))). The bias's share of z goes
  to the inputs in proportion to their contributions (``bias="share"``, the default), so a
  layer conserves relevance up to what ``eps`` absorbs; ``bias="absorb"`` is the textbook
  variant, R_z / (z + eps * sign(z)), in which the bias keeps its share and relevance leaks.
  ``eps`` is relative: eps times the root mean square of W a over the layer.
- ``"zplus"``: only positive contributions count, R_a = a+ W+^T s + a- W-^T s with
  s = R_z / (W+ a+ + W- a-) (the z+ / alpha1-beta0 rule, written for inputs of either sign);
  it conserves exactly. BatchNorm always uses the epsilon rule.

Residual blocks (x + body(x), the U-Net's and EDSR's) get one composite rule on top
(Montavon et al. 2019 compose rules per layer): a unit of the branch whose every input is zero
(the ReLU inside the block is off over its whole window) outputs its bias alone, a constant.
No rule of the form R_a = a * (...) can pass relevance through zero inputs, so relevance
given to it would be lost. Such a unit is a bias of the addition, and it is treated as the
layers treat biases: with ``bias="share"`` its share goes to the input-dependent summand, the
skip x (R_x = R_out at that unit); with ``bias="absorb"`` it keeps it (textbook).

Non-linearities without a rule here (GroupNorm, SiLU, GDN, Tanh) make :func:`lrp` refuse the
model with a one-line error rather than return a map that is not LRP.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from pixelsmith.errors import PixelsmithError
from pixelsmith.explain.attribution import Target, scalar_fn
from pixelsmith.explain.subject import Subject
from pixelsmith.nets.contract import conditioning_of

RULES = ("epsilon", "zplus")
RULE_LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.BatchNorm2d)
PASS_LAYERS = (nn.ReLU, nn.LeakyReLU, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
               nn.PixelShuffle, nn.Flatten, nn.Dropout, nn.Identity)
REFUSED = (nn.GroupNorm, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.LayerNorm, nn.GELU)


@dataclass
class LayerRelevance:
    """One rule layer: the sums of relevance entering (output side) and leaving (input side)."""

    name: str
    out_sum: float
    in_sum: float
    out_abs: float

    @property
    def leak(self) -> float:
        """Relevance this layer lost (or made): |in - out|."""
        return abs(self.in_sum - self.out_sum)


@dataclass
class LRPResult:
    """``relevance``: (1, C, H, W) on the input image (the first layer's input for classifiers,
    whose images enter centred); ``output``: the relevance put on the target (its value);
    ``conditioning``: relevance on the noise-level / quality / mask input channel."""

    relevance: torch.Tensor
    output: float
    conditioning: float
    layers: list[LayerRelevance] = field(default_factory=list)
    rule: str = "epsilon"

    @property
    def total(self) -> float:
        return float(self.relevance.sum()) + self.conditioning

    @property
    def conservation_error(self) -> float:
        """|sum at the input (image + conditioning) - relevance at the output| / |output|."""
        return abs(self.total - self.output) / max(abs(self.output), 1e-30)

    @property
    def worst_layer_error(self) -> float:
        """The largest relevance leak of one layer, relative to |relevance at the output|."""
        return max((layer.leak for layer in self.layers), default=0.0) / max(
            abs(self.output), 1e-30)


def _check_layers(model: nn.Module) -> None:
    from pixelsmith.codec.gdn import GDN

    for name, module in model.named_modules():
        if isinstance(module, (*REFUSED, GDN)):
            raise PixelsmithError(f"LRP has no rule for the {type(module).__name__} layer "
                                  f"'{name}' of this model (it covers conv, transposed conv, "
                                  "linear, batch norm, ReLU and pooling layers)")


def _bias_free(module: nn.Module, a: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    if isinstance(module, nn.Conv2d):
        return module._conv_forward(a, weight, None)
    if isinstance(module, nn.ConvTranspose2d):
        return F.conv_transpose2d(a, weight, None, module.stride, module.padding,
                                  module.output_padding, module.groups, module.dilation)
    if isinstance(module, nn.Linear):
        return F.linear(a, weight)
    raise TypeError(type(module).__name__)


def _batchnorm_scale(module: nn.BatchNorm2d) -> torch.Tensor:
    scale = torch.rsqrt(module.running_var + module.eps)
    if module.weight is not None:
        scale = scale * module.weight
    return scale.view(1, -1, 1, 1)


def _stabilise(z: torch.Tensor, eps: float, reference: torch.Tensor | None = None
               ) -> torch.Tensor:
    """z + eps * rms * sign(z), rms: the root mean square of ``reference`` (default z)."""
    reference = z if reference is None else reference
    rms = float(reference.detach().pow(2).mean().sqrt()) if reference.numel() else 0.0
    size = eps * rms + 1e-12
    return z + size * torch.where(z >= 0, 1.0, -1.0).to(z.dtype)


class _Propagator:
    """Forward hooks that give each rule layer its LRP backward, and record relevance sums."""

    def __init__(self, rule: str, eps: float, bias: str) -> None:
        self.rule, self.eps, self.bias = rule, float(eps), bias
        self.records: list[dict] = []
        self.handles: list = []
        self.branch_ends: set[int] = set()  # ids of the last layers of residual branches

    def attach(self, model: nn.Module) -> None:
        for name, module in model.named_modules():
            if isinstance(module, RULE_LAYERS):
                self.handles.append(module.register_forward_pre_hook(self._pre(name)))
                self.handles.append(module.register_forward_hook(self._post(name)))
            elif _residual_branch_end(module) is not None and self.bias == "share":
                self.branch_ends.add(id(_residual_branch_end(module)))
                self.handles.append(module.register_forward_hook(self._residual))

    def _residual(self, module, inputs, out):
        """A residual block x + body(x): branch units that are their bias alone (no input
        contribution) pass their relevance to the skip x, as a shared bias would."""
        end = _residual_branch_end(module)
        dead = getattr(end, "_lrp_dead", None)
        (x,) = inputs
        if dead is None or dead.shape != out.shape or not out.requires_grad:
            return None
        del end._lrp_dead
        chosen = dead & (x != 0)
        if not bool(chosen.any()):
            return None
        ratio = (out / _stabilise(torch.where(chosen, x, torch.ones_like(x)), self.eps,
                                  x)).detach()
        moved = x * ratio
        moved = moved + (out - moved).detach()  # the value stays out; the gradient goes to x
        return torch.where(chosen, moved, out)

    def detach(self) -> None:
        for handle in self.handles:
            handle.remove()

    def _pre(self, name: str):
        def hook(module, inputs):
            (a,) = inputs
            if not a.requires_grad:
                return None
            local = a.view_as(a)  # a node of its own: its gradient comes from this layer only
            record = {"name": name, "a": local.detach(), "g_a": None, "z": None, "g_z": None}
            self.records.append(record)
            local.register_hook(lambda g: record.__setitem__("g_a", g))
            module._lrp_record = record
            return (local,)

        return hook

    def _post(self, name: str):
        def hook(module, inputs, z):
            record = getattr(module, "_lrp_record", None)
            if record is None:
                return None
            del module._lrp_record
            (a,) = inputs
            if self.rule == "zplus" and not isinstance(module, nn.BatchNorm2d):
                weight = module.weight
                path = (_bias_free(module, a.clamp(min=0), weight.clamp(min=0))
                        + _bias_free(module, a.clamp(max=0), weight.clamp(max=0)))
                out = path * (z / _stabilise(path, self.eps)).detach()
            else:
                out = self._epsilon(module, a, z)
            out = out + (z - out).detach()  # the value is z; the gradient is the rule's
            if id(module) in self.branch_ends:  # units with no input contribution
                module._lrp_dead = _bias_free(module, a.abs(), module.weight.abs()).detach() == 0
            record["z"] = z.detach()
            out.register_hook(lambda g: record.__setitem__("g_z", g))
            return out

        return hook

    def _epsilon(self, module: nn.Module, a: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The epsilon rule as a forward value z whose gradient is the rule's backward."""
        if isinstance(module, nn.BatchNorm2d):
            scale = _batchnorm_scale(module)
            path, spread = a * scale, a.abs() * scale.abs()
        else:
            path = _bias_free(module, a, module.weight)
            spread = _bias_free(module, a.abs(), module.weight.abs())
        denominator = _stabilise(z, self.eps).detach()
        out = path * (z / denominator).detach()
        if self.bias == "share":  # the bias's share, split by |a_i w_ij| / sum_i |a_i w_ij|
            bias_part, total = (z - path).detach(), spread.detach()
            share = torch.where(total > 0, z * bias_part / (denominator * total.clamp(min=1e-30)),
                                0.0)
            out = out + spread * share.detach()
        return out


def _residual_branch_end(module: nn.Module) -> nn.Module | None:
    """The last rule layer of a residual block's branch (U-Net ResBlock, EDSR block), else
    None."""
    from pixelsmith.nets.edsr import ScaledResBlock
    from pixelsmith.nets.unet import ResBlock

    if isinstance(module, (ResBlock, ScaledResBlock)) and isinstance(module.body, nn.Sequential):
        last = module.body[-1]
        return last if isinstance(last, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) else None
    return None


@contextlib.contextmanager
def _no_inplace(model: nn.Module):
    """In-place activations would overwrite the tensors relevance is read from: off meanwhile."""
    changed = [m for m in model.modules() if getattr(m, "inplace", False) is True]
    for module in changed:
        module.inplace = False
    try:
        yield
    finally:
        for module in changed:
            module.inplace = True


@contextlib.contextmanager
def _canonized(model: nn.Module):
    """Fold each BatchNorm2d into the convolution before it (LRP's usual canonisation): the
    rules then see one affine layer whose bias holds the normalisation's shift, instead of a
    convolution whose small outputs are re-centred afterwards. The model is restored after."""
    swaps = []
    for parent in model.modules():
        if not isinstance(parent, nn.Sequential):
            continue
        children = list(parent)
        for i in range(len(children) - 1):
            conv, norm = children[i], children[i + 1]
            if not (isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d)):
                continue
            scale = _batchnorm_scale(norm).view(-1)
            fused = copy.deepcopy(conv)
            bias = conv.bias if conv.bias is not None else torch.zeros_like(norm.running_mean)
            shift = norm.bias if norm.bias is not None else torch.zeros_like(bias)
            with torch.no_grad():
                fused.weight = nn.Parameter(conv.weight * scale.view(-1, 1, 1, 1))
                fused.bias = nn.Parameter((bias - norm.running_mean) * scale + shift)
            swaps.append((parent, str(i), conv, str(i + 1), norm))
            parent._modules[str(i)] = fused
            parent._modules[str(i + 1)] = nn.Identity()
    try:
        yield
    finally:
        for parent, i, conv, j, norm in swaps:
            parent._modules[i], parent._modules[j] = conv, norm


def _conditioning_relevance(subject: Subject, records: list[dict]) -> float:
    """Relevance on the extra input channel of a conditioned U-Net (level or mask), read at the
    input of its first convolution."""
    channels = subject.x.shape[1]
    if conditioning_of(subject.model) is None:
        return 0.0
    head = next((r for r in records if r["name"] == "head"), None)
    if head is None or head["g_a"] is None:
        return 0.0
    return float((head["a"] * head["g_a"])[:, channels:].sum())


def lrp(subject: Subject, target: Target, rule: str = "epsilon", eps: float = 1e-3,
        bias: str = "share") -> LRPResult:
    """LRP of ``target`` for the subject's image with ``rule`` ("epsilon" or "zplus")."""
    if rule not in RULES:
        raise PixelsmithError(f"LRP rule must be one of {', '.join(RULES)}, not '{rule}'")
    if bias not in ("share", "absorb"):
        raise PixelsmithError(f"bias must be 'share' or 'absorb', not '{bias}'")
    if subject.kind not in ("restoration", "classifier"):
        raise PixelsmithError(f"LRP covers restoration models and classifiers, not a "
                              f"{subject.kind} model")
    model = subject.model
    _check_layers(model)
    propagator = _Propagator(rule, eps, bias)
    x = subject.x.clone().requires_grad_(True)
    f = scalar_fn(subject, target)
    with _canonized(model), _no_inplace(model), torch.enable_grad():
        propagator.attach(model)
        try:
            value = f(x)
            (grad,) = torch.autograd.grad(value.sum(), x)
        finally:
            propagator.detach()
    records = propagator.records
    layers = []
    for r in records:
        if r["g_a"] is None or r["g_z"] is None:
            continue
        r_out = r["z"] * r["g_z"]
        layers.append(LayerRelevance(r["name"], float(r_out.sum()),
                                     float((r["a"] * r["g_a"]).sum()), float(r_out.abs().sum())))
    if subject.kind == "classifier":
        first = records[0]  # the images enter centred (x - 0.5): relevance of that input
        relevance = (first["a"] * first["g_a"]).detach()
    else:
        relevance = (x.detach() * grad).detach()
    return LRPResult(relevance, float(value.detach().sum()),
                     _conditioning_relevance(subject, records), layers, rule)


def relevance_map(result: LRPResult) -> np.ndarray:
    """(H, W) relevance summed over channels."""
    return result.relevance.detach().double().sum(dim=(0, 1)).cpu().numpy()
