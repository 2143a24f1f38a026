"""Two small shims that make spconv 2.x correct and trainable on CPU-only torch builds.

1. CUDA stream on CPU torch. spconv's backward passes (and its hash tables) ask for the
current CUDA stream with `torch.cuda.current_stream().cuda_stream` even when every tensor is
on the CPU, which raises "Torch not compiled with CUDA enabled" on CPU torch (upstream spconv
issue 366). The CPU kernels ignore the stream, so returning 0 (the default stream handle)
when CUDA is unavailable is exact. With CUDA available the original function runs unchanged.

2. Race in the CPU sparse convolution. On CPU, spconv's native convolution is a loop over
kernel offsets of gather -> matmul -> `SpconvOps.scatter_add_cpu`, and that scatter-add gives
wrong sums when torch runs more than one intra-op thread (measured here with spconv 2.3.8 and
2 threads: a SubMConv3d on 19k voxels differs from a dense conv3d by up to 1.0 on one call in
two; with `torch.set_num_threads(1)` it is exact; upstream spconv issue 679 reports the
symptom). Every layer of the U-Net and its gradients were affected. `indice_conv` and
`indice_conv_backward` are replaced, for CPU tensors only, by the same gather-matmul-scatter
written with `index_select`, `torch.mm` and `index_add_`, which are exact and deterministic
for any thread count and as fast. CUDA tensors, other weight layouts, bias or fused
activation (which spconv's CPU path refuses anyway) go to the original functions.

`install()` rebinds the module-level names in the spconv modules that hold them (functional.py
looks `ops.indice_conv` up at call time); it is idempotent and runs when `occuseg_core.nn` is
imported.
"""

from __future__ import annotations

import importlib

import torch

_PATCHED_MODULES = ("spconv.pytorch.cppcore", "spconv.pytorch.ops", "spconv.pytorch.hash")
_CONV_MODULE = "spconv.pytorch.ops"
_MARKER = "_occuseg_cpu_stream_shim"
_CONV_MARKER = "_occuseg_cpu_conv_shim"


def _current_stream_or_zero(original):
    def get_current_stream() -> int:
        if torch.cuda.is_available():
            return original()
        return 0

    setattr(get_current_stream, _MARKER, True)
    return get_current_stream


def _offsets(indice_pair_num: torch.Tensor, subm: bool):
    """(offset index, number of pairs) of every kernel offset with work to do, in spconv's
    convention: the centre of a submanifold kernel is the identity map and is done apart, and
    the upper half of a submanifold kernel reuses the counts of the mirrored lower half."""
    counts = indice_pair_num.cpu().tolist()
    kv = len(counts)
    for i, nhot in enumerate(counts):
        if subm and i == kv // 2:
            continue
        if subm and i > kv // 2:
            nhot = counts[kv - i - 1]
        if nhot > 0:
            yield i, nhot


def _no_activation():
    from cumm import tensorview as tv

    return tv.gemm.Activation.None_


def _handled_on_cpu(features: torch.Tensor, bias, act_type) -> bool:
    """True for the calls the exact CPU path covers: CPU float tensors, spconv's KRSC weight
    layout, no bias and no fused activation."""
    ops = importlib.import_module(_CONV_MODULE)
    return (
        not features.is_cuda
        and ops.ALL_WEIGHT_IS_KRSC
        and features.dtype in (torch.float32, torch.float64)
        and bias is None
        and act_type == _no_activation()
    )


def _cpu_indice_conv(original):
    """`spconv.pytorch.ops.indice_conv` with an exact CPU path (see the module docstring)."""

    def indice_conv(features, filters, indice_pairs, indice_pair_num, num_activate_out,
                    inverse=False, subm=False, *args, **kwargs):  # fmt: skip
        bias = kwargs.get("bias", args[2] if len(args) > 2 else None)
        act_type = kwargs.get("act_type", args[5] if len(args) > 5 else _no_activation())
        if not _handled_on_cpu(features, bias, act_type):
            return original(features, filters, indice_pairs, indice_pair_num,
                            num_activate_out, inverse, subm, *args, **kwargs)  # fmt: skip
        features = features.contiguous()
        out_channels = filters.shape[0]
        weights = filters.reshape(out_channels, -1, filters.shape[-1])  # (out, kv, in): KRSC
        centre = weights.shape[1] // 2
        if subm:
            out = torch.mm(features, weights[:, centre].T)
        else:
            out = features.new_zeros((num_activate_out, out_channels))
        pair_in, pair_out = indice_pairs[int(inverse)], indice_pairs[int(not inverse)]
        for i, nhot in _offsets(indice_pair_num, subm):
            rows_in = pair_in[i, :nhot].long()
            rows_out = pair_out[i, :nhot].long()
            out.index_add_(0, rows_out, torch.mm(features.index_select(0, rows_in),
                                                 weights[:, i].T))  # fmt: skip
        return out

    setattr(indice_conv, _CONV_MARKER, True)
    indice_conv.__wrapped__ = original
    return indice_conv


def _cpu_indice_conv_backward(original):
    """`spconv.pytorch.ops.indice_conv_backward` with an exact CPU path."""

    def indice_conv_backward(features, filters, out_bp, indice_pairs, indice_pair_num,
                             inverse=False, subm=False, *args, **kwargs):  # fmt: skip
        if not _handled_on_cpu(features, None, _no_activation()):
            return original(features, filters, out_bp, indice_pairs, indice_pair_num,
                            inverse, subm, *args, **kwargs)  # fmt: skip
        features, out_bp = features.contiguous(), out_bp.contiguous()
        out_channels = filters.shape[0]
        weights = filters.reshape(out_channels, -1, filters.shape[-1])
        centre = weights.shape[1] // 2
        d_weights = torch.zeros_like(weights)
        if subm:
            d_weights[:, centre] = torch.mm(out_bp.T, features)
            d_features = torch.mm(out_bp, weights[:, centre])
        else:
            d_features = torch.zeros_like(features)
        pair_in, pair_out = indice_pairs[int(inverse)], indice_pairs[int(not inverse)]
        for i, nhot in _offsets(indice_pair_num, subm):
            rows_in = pair_in[i, :nhot].long()
            grad_out = out_bp.index_select(0, pair_out[i, :nhot].long())
            d_weights[:, i] = torch.mm(grad_out.T, features.index_select(0, rows_in))
            d_features.index_add_(0, rows_in, torch.mm(grad_out, weights[:, i]))
        return d_features, d_weights.reshape(filters.shape)

    setattr(indice_conv_backward, _CONV_MARKER, True)
    indice_conv_backward.__wrapped__ = original
    return indice_conv_backward


def install() -> list[str]:
    """Patches spconv (CPU stream, exact CPU convolution); returns what was patched now.

    Safe to call repeatedly; a function already patched is left alone.
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
    try:
        ops = importlib.import_module(_CONV_MODULE)
    except ImportError:
        return patched
    for attr, wrap in (("indice_conv", _cpu_indice_conv),
                       ("indice_conv_backward", _cpu_indice_conv_backward)):  # fmt: skip
        original = getattr(ops, attr, None)
        if original is None or getattr(original, _CONV_MARKER, False):
            continue
        setattr(ops, attr, wrap(original))
        patched.append(f"{_CONV_MODULE}.{attr}")
    return patched


def is_installed() -> bool:
    """True when both shims are in place wherever spconv has the functions they replace."""
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
    return all(getattr(getattr(ops, attr, None), _CONV_MARKER, True)
               for attr in ("indice_conv", "indice_conv_backward"))  # fmt: skip
