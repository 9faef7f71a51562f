"""No slow paths by surprise: bf16 on a CPU without native bf16 runs many times slower than fp32.

Native bf16 on x86 means the AVX512-BF16 or AMX-BF16 instructions (Linux reports them as the
``avx512_bf16`` / ``amx_bf16`` cpuinfo flags); without them oneDNN emulates bf16 convolutions.
"""

from __future__ import annotations

import functools
import platform
import warnings
from pathlib import Path

NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


class SlowPathWarning(UserWarning):
    """An option that makes this machine much slower than the default (one line, no trace)."""


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str] | None:
    """The CPU's feature flags from /proc/cpuinfo (None where there is no such file)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return None
    for line in cpuinfo.read_text(errors="replace").splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return None


def cpu_has_native_bf16(flags: frozenset[str] | None = None) -> bool | None:
    """True / False on x86 Linux (from the cpuinfo flags); None where it cannot be told."""
    flags = cpu_flags() if flags is None else flags
    if flags is None or platform.machine().lower() not in ("x86_64", "amd64", "i686"):
        return None
    return any(flag in flags for flag in NATIVE_BF16_FLAGS)


def fast_precision(device) -> str:
    """What ``--precision auto`` runs on ``device`` (a torch.device): "bf16" where the device
    has native bf16 (a CUDA GPU that supports it, a CPU with AVX512-BF16 or AMX), else "fp32".
    On such CPUs bf16 ran the shipped networks 1.7-3.0x as fast within 0.015 dB (docs/DEPLOY.md)."""
    if device.type == "cuda":
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu" and cpu_has_native_bf16():
        return "bf16"
    return "fp32"


def slow_precision_message(device_type: str, precision: str, native: bool | None = None,
                           option: str = "--precision", fp32: str = "--precision fp32"
                           ) -> str | None:
    """One line when ``precision`` on ``device_type`` is a slow path here, else None;
    ``option`` names the setting and ``fp32`` how to ask for fp32 instead."""
    if precision != "bf16" or device_type != "cpu":
        return None
    native = cpu_has_native_bf16() if native is None else native
    if native is not False:
        return None
    return (f"{option} bf16 on this CPU (no AVX512-BF16 or AMX) is emulated and runs many "
            f"times slower than fp32; use {fp32}")


def warn_slow_precision(device_type: str, precision: str, **names: str) -> None:
    """Emit :class:`SlowPathWarning` for a slow precision (see :func:`slow_precision_message`,
    whose ``option`` and ``fp32`` wording ``names`` may set)."""
    message = slow_precision_message(device_type, precision, **names)
    if message:
        warnings.warn(message, SlowPathWarning, stacklevel=3)
