"""Learned entropy models: a factorized prior (:class:`EntropyBottleneck`) and a Gaussian
conditional (:class:`GaussianConditional`), after Balle et al. 2018 and Minnen et al. 2018.

Training sees additive uniform noise in place of rounding, so the likelihoods are
differentiable; evaluation and coding round: the bottleneck rounds around its per-channel
median, the Gaussian conditional around the predicted mean (symbol = round(y - centre),
y_hat = symbol + centre). The same rounding code serves the eval-mode forward and
``compress``, so both give the same y_hat.

Finalize (``update()``) turns each model into integer frequency tables
(:class:`pixelsmith.codec.coder.Tables`). The tables, the medians and the scale table are
*not* buffers: they are written to and read from the state dict by explicit hooks (keys
``<module>.final_<name>``), so they travel in checkpoints and model files, while the Trainer's
EMA and DDP (which average or broadcast buffers) never touch them. A SHA-256 of what they were
built from (``final_source``) tells whether they still match the current weights.

Loading never recomputes a table: whether stored tables are current is judged from stored
values only (the bottleneck's parameters as stored; the Gaussian conditional's own stored scale
table, since its tables depend on no weight), so no host's float rounding can make a shipped
model look stale. The Gaussian conditional picks rows by comparing fixed-point scales with
integer bounds (``final_scale_bounds``, units of 2^-SCALE_BITS) stored with the tables.

Quantiles of the factorized density are found by bisection on its cumulative (which is
monotone by construction) at finalize time, not learned by an auxiliary loss: exact, and no
second optimiser.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from pixelsmith.codec.coder import MAX_TABLE, Tables, quantize_pmf
from pixelsmith.codec.gdn import lower_bound
from pixelsmith.codec.precision import float32_region, widened

LIKELIHOOD_BOUND = 1e-9
#: fixed-point fraction bits of the hyperprior's scales and means (models.hyper_synthesis_fixed)
SCALE_BITS = 16


def symbols_of(y: torch.Tensor, centre: torch.Tensor | float) -> torch.Tensor:
    """round(y - centre) in float64 (integers): what is entropy coded."""
    centre = torch.as_tensor(centre, dtype=torch.float64, device=y.device)
    return torch.round(y.to(torch.float64) - centre)


def dequantize(symbols: torch.Tensor, centre: torch.Tensor | float) -> torch.Tensor:
    """symbols + centre, as float32: the decoded latent."""
    centre = torch.as_tensor(centre, dtype=torch.float64, device=symbols.device)
    return (symbols.to(torch.float64) + centre).to(torch.float32)


def uniform_noise(y: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """y + U(-0.5, 0.5), drawn from ``generator`` (torch's global RNG when None)."""
    noise = torch.rand(y.shape, generator=generator, device=y.device, dtype=y.dtype)
    return y + noise - 0.5


def _digest(*tensors: torch.Tensor) -> torch.Tensor:
    digest = hashlib.sha256()
    for tensor in tensors:
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return torch.frombuffer(bytearray(digest.digest()), dtype=torch.uint8).clone()


class FinalState(nn.Module):
    """Base of the entropy models: tensors set by ``update()`` (``self.final``), saved in and
    restored from the state dict outside the buffer mechanism (see the module notes)."""

    final_names: tuple[str, ...] = ()

    def __init__(self) -> None:
        super().__init__()
        self.final: dict[str, torch.Tensor] = {}
        #: entries of ``final`` derived at load from older files, not stored in them: left out
        #: of the state dict, so the model id stays the hash of what the file holds
        self.derived: set[str] = set()

    def _complete(self, loaded: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The loaded tables, or {} when some are missing (hook for derived entries)."""
        return loaded if len(loaded) == len(self.final_names) else {}

    def _save_to_state_dict(self, destination, prefix, keep_vars) -> None:
        super()._save_to_state_dict(destination, prefix, keep_vars)
        for name in self.final_names:
            if name in self.final and name not in self.derived:
                destination[f"{prefix}final_{name}"] = self.final[name].detach().clone()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        loaded = {}
        for name in self.final_names:
            key = f"{prefix}final_{name}"
            if key in state_dict:
                loaded[name] = state_dict.pop(key).detach().cpu().clone()
        self.derived = set()
        self.final = self._complete(loaded)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def source_digest(self) -> torch.Tensor:
        """SHA-256 of what the tables are built from (32 uint8)."""
        raise NotImplementedError

    def finalized(self) -> bool:
        """Whether tables exist and were built from the current weights."""
        return bool(self.final) and torch.equal(self.final["source"], self.source_digest())

    def tables(self) -> Tables:
        """The integer tables for the coder (``update()`` first)."""
        if not self.final:
            raise RuntimeError("entropy model not finalized: call update() first")
        return Tables(self.final["freqs"].numpy(), self.final["lengths"].numpy(),
                      self.final["offsets"].numpy())


def _rows(pmfs: list[np.ndarray], tails: list[float], offsets: list[int]
          ) -> dict[str, torch.Tensor]:
    """Quantised rows, zero-padded into one table."""
    rows = [quantize_pmf(pmf, tail) for pmf, tail in zip(pmfs, tails, strict=True)]
    width = max(len(row) for row in rows)
    freqs = np.zeros((len(rows), width), dtype=np.int32)
    for index, row in enumerate(rows):
        freqs[index, : len(row)] = row
    return {"freqs": torch.from_numpy(freqs),
            "lengths": torch.tensor([len(row) for row in rows], dtype=torch.int32),
            "offsets": torch.tensor(offsets, dtype=torch.int32)}


class EntropyBottleneck(FinalState):
    """A learned factorized density per channel (Balle et al. 2018, appendix 6.1).

    The cumulative ``c(x)`` is a chain of per-channel affine maps with positive (softplus)
    weights and ``x + tanh(a) * tanh(x)`` non-linearities, so it is monotone; the likelihood of
    a value v is ``sigmoid(c(v + 1/2)) - sigmoid(c(v - 1/2))``, the density convolved with the
    unit box that uniform noise / rounding implies.
    """

    final_names = ("medians", "freqs", "lengths", "offsets", "source")

    def __init__(self, channels: int, filters: tuple[int, ...] = (3, 3, 3),
                 init_scale: float = 10.0, tail_mass: float = 1e-9) -> None:
        super().__init__()
        self.channels, self.tail_mass = int(channels), float(tail_mass)
        dims = (1, *filters, 1)
        scale = init_scale ** (1.0 / (len(filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(filters) + 1):
            start = math.log(math.expm1(1.0 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[i + 1], dims[i]),
                                                         start)))
            self.biases.append(nn.Parameter(torch.rand(channels, dims[i + 1], 1) - 0.5))
            if i < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))

    def logits_cdf(self, x: torch.Tensor) -> torch.Tensor:
        """c(x) for x of shape (C, 1, L), computed in x's dtype."""
        for i, matrix in enumerate(self.matrices):
            x = torch.matmul(F.softplus(matrix.to(x.dtype)), x) + self.biases[i].to(x.dtype)
            if i < len(self.factors):
                x = x + torch.tanh(self.factors[i].to(x.dtype)) * torch.tanh(x)
        return x

    def _box(self, flat: torch.Tensor) -> torch.Tensor:
        lower, upper = self.logits_cdf(flat - 0.5), self.logits_cdf(flat + 0.5)
        # evaluate in the tail where sigmoid differences keep their precision
        sign = torch.where(lower + upper > 0, -1.0, 1.0).to(lower.dtype).detach()
        return torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))

    def likelihood(self, values: torch.Tensor) -> torch.Tensor:
        """P(value) per element of (N, C, H, W) values (bounded below by 1e-9)."""
        n, c, h, w = values.shape
        flat = values.transpose(0, 1).reshape(c, 1, -1)
        with float32_region(values):  # never bf16, even when training under autocast
            lik = lower_bound(self._box(widened(flat)), LIKELIHOOD_BOUND)
        return lik.reshape(c, n, h, w).transpose(0, 1)

    @torch.no_grad()
    def _solve(self, target: float) -> torch.Tensor:
        """Per channel, the x with c(x) = target (float64 bisection)."""
        def c(x: torch.Tensor) -> torch.Tensor:
            return self.logits_cdf(x.view(-1, 1, 1)).view(-1)

        device = self.matrices[0].device
        lo = -torch.ones(self.channels, dtype=torch.float64, device=device)
        hi = torch.ones_like(lo)
        for _ in range(64):
            low_high, high_low = c(lo) > target, c(hi) < target
            if not (low_high.any() or high_low.any()):
                break
            lo = torch.where(low_high, lo * 2, lo)
            hi = torch.where(high_low, hi * 2, hi)
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            below = c(mid) < target
            lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
        return 0.5 * (lo + hi)

    def medians(self) -> torch.Tensor:
        """Per-channel medians (C,) float32: the stored ones when finalized, else fresh."""
        if self.final and self.finalized():
            return self.final["medians"].to(self.matrices[0].device)
        return self._solve(0.0).float()

    def source_digest(self) -> torch.Tensor:
        return _digest(*self.parameters(), torch.tensor([self.tail_mass], dtype=torch.float64))

    @torch.no_grad()
    def update(self) -> None:
        """Finalize: medians, and one quantised row per channel covering its 1 - tail_mass
        central mass, with an escape entry for the rest."""
        target = math.log(2.0 / self.tail_mass - 1.0)
        medians = self._solve(0.0).float()
        centre = medians.double()
        limit = MAX_TABLE // 2 - 2
        lower = torch.ceil(centre - self._solve(-target)).clamp(0, limit)
        upper = torch.ceil(self._solve(target) - centre).clamp(0, limit)
        width = int((lower + upper).max()) + 1
        steps = torch.arange(width, dtype=torch.float64, device=centre.device)
        grid = (centre - lower)[:, None] + steps[None, :]
        pmf = self._box(grid.unsqueeze(1)).squeeze(1)
        below = torch.sigmoid(self.logits_cdf((centre - lower - 0.5).view(-1, 1, 1))).view(-1)
        above = torch.sigmoid(-self.logits_cdf((centre + upper + 0.5).view(-1, 1, 1))).view(-1)
        sizes = (lower + upper + 1).long().tolist()
        pmfs = [pmf[ch, :size].cpu().numpy() for ch, size in enumerate(sizes)]
        tails = (below + above).tolist()
        offsets = (-lower).long().tolist()
        self.final = {"medians": medians.cpu(), **_rows(pmfs, tails, offsets),
                      "source": self.source_digest()}

    def forward(self, y: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(y_tilde, likelihoods): noisy in training, rounded around the medians otherwise."""
        if self.training:
            y_hat = uniform_noise(y, generator)
        else:
            centre = self.medians().view(1, -1, 1, 1)
            y_hat = dequantize(symbols_of(y, centre), centre)
        return y_hat, self.likelihood(y_hat)


def scale_bounds(scale_table: torch.Tensor) -> torch.Tensor:
    """``floor(scale_table * 2^SCALE_BITS)`` as int64 (exact: a power-of-two scaling)."""
    return torch.floor(scale_table.to(torch.float64) * float(1 << SCALE_BITS)).to(torch.int64)


def normal_cdf(x: torch.Tensor) -> torch.Tensor:
    """Phi(x), accurate in the lower tail."""
    return 0.5 * torch.erfc(-x * (0.5**0.5))


class GaussianConditional(FinalState):
    """y ~ N(mean, scale^2) convolved with the unit box; means and scales come from the
    hyperprior. Coding picks, per element, the first entry of a fixed log-spaced scale table
    at or above its predicted scale (rounding the scale up costs little and is safe).

    The stored ``scale_bounds`` are ``floor(scale_table * 2^SCALE_BITS)`` as int64: for a
    fixed-point scale ``s = k / 2^SCALE_BITS`` (what the hyperprior gives in eval mode),
    ``s <= table[i]`` exactly when ``k <= bounds[i]``, so the row is an integer comparison."""

    final_names = ("scale_table", "scale_bounds", "freqs", "lengths", "offsets", "source")

    def __init__(self, scale_min: float = 0.11, scale_max: float = 256.0, levels: int = 64,
                 tail_mass: float = 1e-9) -> None:
        super().__init__()
        self.scale_min, self.tail_mass = float(scale_min), float(tail_mass)
        # used by update() only: loading reads the stored table and never looks at this one
        self.scale_table = torch.exp(torch.linspace(math.log(scale_min), math.log(scale_max),
                                                    levels, dtype=torch.float64))

    def _complete(self, loaded: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        # tables saved before the bounds were stored: the bounds follow exactly from the stored
        # float64 table (a power-of-two scaling and a floor, both exact)
        if "scale_bounds" not in loaded and "scale_table" in loaded:
            loaded["scale_bounds"] = scale_bounds(loaded["scale_table"])
            self.derived = {"scale_bounds"}
        return super()._complete(loaded)

    def _source_of(self, scale_table: torch.Tensor) -> torch.Tensor:
        return _digest(scale_table.to(torch.float64),
                       torch.tensor([self.tail_mass], dtype=torch.float64))

    def source_digest(self) -> torch.Tensor:
        """SHA-256 of the stored scale table and the tail mass: the tables depend on nothing
        else (no weight), so this reads stored values only."""
        table = self.final["scale_table"] if self.final else self.scale_table
        return self._source_of(table)

    def finalized(self) -> bool:
        return (super().finalized()
                and torch.equal(self.final["scale_bounds"],
                                scale_bounds(self.final["scale_table"])))

    def likelihood(self, values: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
        """P(round-off box around ``values``) for centred values and their scales."""
        with float32_region(values):  # never bf16, even when training under autocast
            scales = lower_bound(widened(scales), self.scale_min)
            v = torch.abs(widened(values))
            lik = normal_cdf((0.5 - v) / scales) - normal_cdf((-0.5 - v) / scales)
            return lower_bound(lik, LIKELIHOOD_BOUND)

    @torch.no_grad()
    def update(self) -> None:
        """Finalize: one quantised row per table scale, over +-ceil(scale * z) with
        z = Phi^-1(1 - tail_mass / 2)."""
        z = float(torch.special.ndtri(torch.tensor(1.0 - self.tail_mass / 2,
                                                   dtype=torch.float64)))
        pmfs, tails, offsets = [], [], []
        for scale in self.scale_table.tolist():
            radius = min(math.ceil(scale * z), MAX_TABLE // 2 - 2)
            k = torch.arange(-radius, radius + 1, dtype=torch.float64)
            pmfs.append((normal_cdf((k + 0.5) / scale) - normal_cdf((k - 0.5) / scale)).numpy())
            tails.append(2.0 * float(normal_cdf(torch.tensor((-radius - 0.5) / scale,
                                                             dtype=torch.float64))))
            offsets.append(-radius)
        table = self.scale_table.clone()
        self.derived = set()
        self.final = {"scale_table": table, "scale_bounds": scale_bounds(table),
                      **_rows(pmfs, tails, offsets), "source": self._source_of(table)}

    def indexes(self, scales: torch.Tensor) -> torch.Tensor:
        """Row of the table for each fixed-point scale: the first row whose bound is >= it.

        ``scales`` are int64 counts of 2^-SCALE_BITS, or floats holding such multiples (what
        the hyperprior gives in eval mode, :func:`pixelsmith.codec.models.hyper_synthesis_fixed`;
        converting them back is exact). Integer comparisons: the same rows on every machine."""
        if scales.is_floating_point():
            scales = torch.round(scales.to(torch.float64) * float(1 << SCALE_BITS))
        bounds = self.final["scale_bounds"].to(scales.device)
        index = torch.bucketize(scales.to(torch.int64), bounds)
        return index.clamp_(0, len(bounds) - 1)

    def indexes_float(self, scales: torch.Tensor, table: torch.Tensor | None = None
                      ) -> torch.Tensor:
        """Row for each float64 scale against the float64 table (the stored one unless
        ``table`` is given): how version 1 files chose rows (from float64 scales whose last
        bits may differ between machines)."""
        table = self.final["scale_table"] if table is None else table
        table = table.to(device=scales.device, dtype=torch.float64)
        index = torch.bucketize(scales.to(torch.float64), table)
        return index.clamp_(0, len(table) - 1)

    def forward(self, y: torch.Tensor, scales: torch.Tensor, means: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(y_tilde, likelihoods): noisy in training, rounded around the means otherwise.

        In eval mode ``scales``/``means`` may be float64 (the hyperprior computes them so);
        y_hat is float32 either way.
        """
        centre = torch.zeros((), device=y.device) if means is None else means
        if self.training:
            y_hat = uniform_noise(y, generator)
            values = y_hat - centre
        else:
            symbols = symbols_of(y, centre)
            y_hat, values = dequantize(symbols, centre), symbols.to(y.dtype)
        return y_hat, self.likelihood(values, scales.to(y.dtype))
