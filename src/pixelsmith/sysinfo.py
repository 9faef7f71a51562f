"""A one-line description of the machine, for the header of every benchmark table."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what platform reports."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


#: /proc/cpuinfo flag -> name: the instruction sets that change convolution speed (int8 and bf16)
NOTABLE_CPU_FLAGS = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_vnni": "AVX-512 VNNI",
                     "avx_vnni": "AVX-VNNI", "avx512_bf16": "AVX-512 BF16",
                     "amx_tile": "AMX", "amx_int8": "AMX-INT8", "amx_bf16": "AMX-BF16"}


def cpu_features(flags: frozenset[str] | None = None) -> list[str]:
    """The notable vector instruction sets among the CPU's feature ``flags`` (default: this
    CPU's, :func:`pixelsmith.runtime.precision.cpu_flags`; none where they cannot be read)."""
    from pixelsmith.runtime.precision import cpu_flags

    flags = cpu_flags() if flags is None else flags
    return [name for flag, name in NOTABLE_CPU_FLAGS.items() if flag in (flags or ())]


def machine_summary() -> str:
    """E.g. 'Intel Xeon ... , 2 cores, Linux x86_64, Python 3.11.7, torch 2.13.0 (2 threads)'."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    device = "CUDA " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    features = cpu_features()
    isa = f" ({', '.join(features)})" if features else ""
    return (f"{cpu_model()}{isa}, {cores} cores, {platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), {device}")
