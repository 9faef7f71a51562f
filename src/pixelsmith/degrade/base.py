"""The degradation contract: operators on NCHW float tensors, random draws from a torch.Generator.

- :class:`Operator` maps a clean batch ``x`` to a degraded one. Operators that draw random
  values (noise) take a ``torch.Generator``; deterministic ones ignore it.
- :class:`LinearOperator` adds ``A_adjoint`` so that <A u, v> = <u, A* v> (tested for all).
- :class:`Compose` chains operators (blur -> downsample -> noise -> JPEG) with one generator.
"""

from __future__ import annotations

import torch


def make_generator(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator:
    """A fresh generator on ``device``; seeded if ``seed`` is given, else from the global RNG."""
    gen = torch.Generator(device=device)
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(int(seed))
    return gen


def check_batch(x: torch.Tensor) -> None:
    """Raise ValueError unless ``x`` is a floating (N, C, H, W) tensor."""
    if x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"expected a float (N, C, H, W) tensor, got {tuple(x.shape)} {x.dtype}")


class Operator:
    """A degradation y = op(x). Subclasses implement :meth:`apply`."""

    #: Whether calling twice with the same input may give different outputs.
    random: bool = False

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        check_batch(x)
        return self.apply(x, generator)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError

    def describe(self) -> str:
        """Short human-readable summary, used in reports (e.g. ``gaussian noise sigma=25/255``)."""
        return type(self).__name__

    def __repr__(self) -> str:
        return self.describe()


class LinearOperator(Operator):
    """A linear degradation with an adjoint. ``A`` and ``A_adjoint`` work on any batch."""

    def A(self, x: torch.Tensor) -> torch.Tensor:  # noqa: N802 (the usual name in inverse problems)
        raise NotImplementedError

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        raise NotImplementedError

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return self.A(x)


class Compose(Operator):
    """Apply operators in order, sharing one generator so the chain is reproducible from a seed."""

    def __init__(self, *operators: Operator) -> None:
        self.operators = list(operators)
        self.random = any(op.random for op in self.operators)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        for op in self.operators:
            x = op(x, generator)
        return x

    def describe(self) -> str:
        return " -> ".join(op.describe() for op in self.operators) or "identity"


def degrade(x: torch.Tensor, *operators: Operator, seed: int | None = None) -> torch.Tensor:
    """Apply ``operators`` in order to ``x``; the same ``seed`` gives the same output."""
    return Compose(*operators)(x, make_generator(seed, x.device))
