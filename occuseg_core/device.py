"""Device selection: "auto" means CUDA when available, else CPU; anything else is checked."""

from __future__ import annotations

import torch

from occuseg_core.errors import OccusegError


def resolve_device(name: str) -> torch.device:
    """Maps "auto", "cpu", "cuda" or "cuda:N" to a torch device that exists here.

    Raises:
        OccusegError: malformed name, or CUDA requested where it is unavailable.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise OccusegError(f"invalid device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise OccusegError(f"unsupported device {name!r}; use auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise OccusegError(f"device {name!r} requested but CUDA is not available here")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise OccusegError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s)")
    return device
