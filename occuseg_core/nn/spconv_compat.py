"""A small shim that lets spconv 2.x train on CPU-only torch builds.

spconv's backward passes (and its hash tables) ask for the current CUDA stream with
`torch.cuda.current_stream().cuda_stream` even when every tensor is on the CPU, which raises
"Torch not compiled with CUDA enabled" on CPU torch (upstream spconv issue 366). The CPU
kernels ignore the stream, so returning 0 (the default stream handle) when CUDA is unavailable
is exact. With CUDA available the original function runs unchanged.

`install()` rebinds the module-level name `get_current_stream` in the spconv modules that
imported it; it is idempotent and runs when `occuseg_core.nn` is imported.
"""

from __future__ import annotations

import importlib

import torch

_PATCHED_MODULES = ("spconv.pytorch.cppcore", "spconv.pytorch.ops", "spconv.pytorch.hash")
_MARKER = "_occuseg_cpu_stream_shim"


def _current_stream_or_zero(original):
    def get_current_stream() -> int:
        if torch.cuda.is_available():
            return original()
        return 0

    setattr(get_current_stream, _MARKER, True)
    return get_current_stream


def install() -> list[str]:
    """Patches spconv so CPU backward works; returns the names of the modules patched now.

    Safe to call repeatedly; a module whose function is already patched is left alone.
    """
    patched = []
    for name in _PATCHED_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        original = getattr(module, "get_current_stream", None)
        if original is None or getattr(original, _MARKER, False):
            continue
        module.get_current_stream = _current_stream_or_zero(original)
        patched.append(name)
    return patched


def is_installed() -> bool:
    """True when every spconv module that has `get_current_stream` uses the shim."""
    for name in _PATCHED_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        function = getattr(module, "get_current_stream", None)
        if function is not None and not getattr(function, _MARKER, False):
            return False
    return True
