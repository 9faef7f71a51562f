"""The device a command runs on, from what the user typed (``--device``)."""

from __future__ import annotations

import torch

from pixelsmith.errors import PixelsmithError


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N`` as a device (None: cuda when available, else cpu).

    Asking for a GPU that this machine does not have is a one-line error, not a CUDA trace.
    """
    if isinstance(name, torch.device):
        name = str(name)
    if name is None or name == "":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    text = name.strip().lower()
    if text == "cpu":
        return torch.device("cpu")
    index = text[5:] if text.startswith("cuda:") else ("0" if text == "cuda" else None)
    if index is None or not index.isdigit():
        raise PixelsmithError(f"device must be cpu, cuda or cuda:N, not '{name}'")
    if not torch.cuda.is_available():
        raise PixelsmithError(f"device '{name}': CUDA is not available on this machine "
                              "(use --device cpu)")
    if int(index) >= torch.cuda.device_count():
        raise PixelsmithError(f"device '{name}': this machine has "
                              f"{torch.cuda.device_count()} CUDA device(s)")
    return torch.device("cuda", int(index))
