"""Two small shims that make spconv 2.x correct and trainable on CPU-only torch builds.

1. CUDA stream on CPU torch. spconv's backward passes (and its hash tables) ask for the
current CUDA stream with `torch.cuda.current_stream().cuda_stream` even when every tensor is
on the CPU, which raises "Torch not compiled with CUDA enabled" on CPU torch (upstream spconv
issue 366). The CPU kernels ignore the stream, so returning 0 (the default stream handle)
when CUDA is unavailable is exact. With CUDA available the original function runs unchanged.

2. A data race in the CPU sparse convolution. On CPU, spconv's native convolution loops over
the kernel offsets doing gather -> matmul -> `SpconvOps.scatter_add_cpu`. That scatter-add
(`GatherCPU::scatter_add` in spconv/csrc/sparse/gather.py) keeps its two row pointers in
variables declared outside its parallel loop and captured by reference, so with more than
one OpenMP thread the threads overwrite each other's pointers and add rows into the wrong
places. Measured with spconv 2.3.8 and 2 torch threads: a SubMConv3d on 19k voxels differed
from a dense conv3d by up to 1.0 on one call in two, and the bundled model gave a different
segmentation of the same scene on most calls; every layer of the U-Net and its gradients were
affected (upstream spconv issue 679 reports the symptom). With one thread the scatter is exact.
The shim gives spconv's ops module a `SpconvOps` that runs `scatter_add_cpu` on one OpenMP
thread (switching the count costs about a microsecond) and forwards everything else to the
real class; the parallel gather and matmuls are untouched, so the convolution stays about as
fast as before and becomes exact and deterministic. CUDA kernels do not use this function.

3. A deprecation notice on every run. spconv's `SparseConvTensor` has torch.fx's
`ProxyableClassMeta` as metaclass, whose `__call__` asks the deprecated `is_fx_tracing()`; on
the first tensor of a process that logs "is_fx_tracing will return true for both
fx.symbolic_trace and torch.export ..." (a note for spconv's authors: the answer it gives is
right for spconv, which is never traced). torch logs it once per process through a cached
function; `install()` calls that function once with its logger muted, so the notice is used up
in silence. Every other message of that logger, and every answer of `is_fx_tracing()`, is
unchanged.

`install()` rebinds the module-level names in the spconv modules that hold them (their
functions look the names up at call time); it is idempotent and runs when `occuseg_core.nn` is
imported.
"""

from __future__ import annotations

import importlib
import logging

import torch

_PATCHED_MODULES = ("spconv.pytorch.cppcore", "spconv.pytorch.ops", "spconv.pytorch.hash")
_CONV_MODULE = "spconv.pytorch.ops"
_MARKER = "_occuseg_cpu_stream_shim"


def _current_stream_or_zero(original):
    def get_current_stream() -> int:
        if torch.cuda.is_available():
            return original()
        return 0

    setattr(get_current_stream, _MARKER, True)
    return get_current_stream


class SingleThreadScatterOps:
    """Stands in for spconv's `SpconvOps` class: `scatter_add_cpu` runs on one OpenMP thread,
    every other attribute is the real class's."""

    def __init__(self, ops: type) -> None:
        self.wrapped = ops

    def __getattr__(self, name: str):
        return getattr(self.wrapped, name)

    def scatter_add_cpu(self, out, inp, inds) -> None:
        threads = torch.get_num_threads()
        if threads == 1:
            return self.wrapped.scatter_add_cpu(out, inp, inds)
        torch.set_num_threads(1)
        try:
            return self.wrapped.scatter_add_cpu(out, inp, inds)
        finally:
            torch.set_num_threads(threads)


def install() -> list[str]:
    """Patches spconv (CPU stream, thread-safe CPU scatter-add); returns what was patched now.

    Safe to call repeatedly; what is already patched is left alone.
    """
    patched = ["torch.fx is_fx_tracing notice"] if _use_up_fx_tracing_notice() else []
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
    try:
        ops = importlib.import_module(_CONV_MODULE)
    except ImportError:
        return patched
    current = getattr(ops, "SpconvOps", None)
    if current is not None and not isinstance(current, SingleThreadScatterOps):
        ops.SpconvOps = SingleThreadScatterOps(current)
        patched.append(f"{_CONV_MODULE}.SpconvOps")
    return patched


def _use_up_fx_tracing_notice() -> bool:
    """Emits torch's once-per-process is_fx_tracing deprecation notice with its logger muted."""
    try:
        from torch.fx import _symbolic_trace
    except ImportError:
        return False
    notice = getattr(_symbolic_trace, "is_fx_tracing_warning", None)
    cache_info = getattr(notice, "cache_info", None)
    if cache_info is None or cache_info().currsize:
        return False  # another torch, or already used up
    logger = logging.getLogger(_symbolic_trace.__name__)
    disabled = logger.disabled
    logger.disabled = True
    try:
        notice()
    finally:
        logger.disabled = disabled
    return True


def is_installed() -> bool:
    """True when both shims are in place wherever spconv has what they replace."""
    for name in _PATCHED_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        function = getattr(module, "get_current_stream", None)
        if function is not None and not getattr(function, _MARKER, False):
            return False
    try:
        ops = importlib.import_module(_CONV_MODULE)
    except ImportError:
        return True
    return isinstance(getattr(ops, "SpconvOps", None), SingleThreadScatterOps)
