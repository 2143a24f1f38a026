"""The spconv shims of `spconv_compat`: CPU backward on CPU-only torch, and the thread-safe CPU
scatter-add (spconv's own gives wrong sums with more than one torch thread), checked with two
threads against a dense conv3d and against spconv's unpatched kernels run on one thread."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import spconv.pytorch as spconv
import torch
from torch.nn import functional as F

from occuseg_core.nn import spconv_compat

SIZE = 40


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _random_voxels(seed: int, n: int = 12000, channels: int = 4):
    rng = np.random.default_rng(seed)
    coords = np.unique(rng.integers(0, SIZE, (n, 3)), axis=0)
    indices = torch.from_numpy(np.c_[np.zeros(len(coords)), coords]).int()
    features = torch.from_numpy(rng.standard_normal((len(coords), channels)).astype(np.float32))
    return coords, indices, features


def _dense(coords, features):
    grid = torch.zeros(1, features.shape[1], SIZE, SIZE, SIZE)
    grid[0, :, coords[:, 0], coords[:, 1], coords[:, 2]] = features.T
    return grid


def _at(grid, coords):
    return grid[0][:, coords[:, 0], coords[:, 1], coords[:, 2]].T


def _dense_weight(conv):
    return conv.weight.detach().permute(0, 4, 1, 2, 3)  # (out, k, k, k, in) -> (out, in, k...)


def test_cpu_backward_runs_on_cpu_only_torch():
    """Upstream spconv issue 366: backward asked torch.cuda for a stream on CPU-only torch."""
    _, indices, features = _random_voxels(5, n=200)
    features.requires_grad_(True)
    conv = spconv.SubMConv3d(4, 3, 3, bias=False, indice_key="t")
    out = conv(spconv.SparseConvTensor(features, indices, [SIZE] * 3, 1))
    out.features.square().sum().backward()
    assert features.grad is not None and torch.isfinite(features.grad).all()
    assert conv.weight.grad.abs().sum() > 0


def test_the_shim_is_installed_and_forwards_everything_else():
    ops = importlib.import_module("spconv.pytorch.ops")
    assert spconv_compat.is_installed()
    assert isinstance(ops.SpconvOps, spconv_compat.SingleThreadScatterOps)
    assert ops.SpconvOps.get_int32_max() == ops.SpconvOps.wrapped.get_int32_max() == 2**31 - 1
    assert spconv_compat.install() == []


def test_scatter_add_is_exact_with_two_threads(two_threads):
    """Distinct rows, as in the pairs of one kernel offset; compared with index_add_."""
    from spconv.pytorch.cppcore import torch_tensor_to_tv

    ops = importlib.import_module("spconv.pytorch.ops")
    rng = np.random.default_rng(4)
    for _ in range(10):
        rows = torch.from_numpy(rng.permutation(20000)[:6000].astype(np.int32))
        values = torch.randn(6000, 16)
        out = torch.zeros(20000, 16)
        ops.SpconvOps.scatter_add_cpu(torch_tensor_to_tv(out), torch_tensor_to_tv(values),
                                      torch_tensor_to_tv(rows))  # fmt: skip
        assert torch.equal(out, torch.zeros(20000, 16).index_add_(0, rows.long(), values))
    assert torch.get_num_threads() == 2


def test_submanifold_conv_is_exact_and_repeatable_with_two_threads(two_threads):
    coords, indices, features = _random_voxels(0)
    torch.manual_seed(0)
    conv = spconv.SubMConv3d(4, 16, 3, bias=False, indice_key="s").eval()
    outs = []
    with torch.no_grad():
        for _ in range(4):
            outs.append(conv(spconv.SparseConvTensor(features, indices, [SIZE] * 3, 1)).features)
        expected = _at(F.conv3d(_dense(coords, features), _dense_weight(conv), padding=1), coords)
    for out in outs:
        assert torch.equal(out, outs[0])
        torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_strided_conv_matches_dense_conv_at_the_output_sites(two_threads):
    coords, indices, features = _random_voxels(1)
    torch.manual_seed(1)
    conv = spconv.SparseConv3d(4, 8, 2, stride=2, bias=False, indice_key="d").eval()
    with torch.no_grad():
        out = conv(spconv.SparseConvTensor(features, indices, [SIZE] * 3, 1))
        dense = F.conv3d(_dense(coords, features), _dense_weight(conv), stride=2)
    out_coords = out.indices[:, 1:].long().numpy()
    assert len(out_coords) == len(np.unique(coords // 2, axis=0))
    torch.testing.assert_close(out.features, _at(dense, out_coords), atol=1e-5, rtol=1e-5)


def _down_up_loss(features, indices, down, up):
    x = spconv.SparseConvTensor(features, indices, [SIZE] * 3, 1)
    y = up(down(x))
    return (y.features * torch.linspace(-1, 1, y.features.numel()).view_as(y.features)).sum()


@pytest.mark.parametrize("subm", [True, False])
def test_gradients_match_spconvs_kernel_run_single_threaded(subm, two_threads, monkeypatch):
    """Forward and backward through down/up (or submanifold) convs with two threads equal
    spconv's original CPU kernel with one thread (where its scatter-add is exact)."""
    coords, indices, features = _random_voxels(2, n=8000)
    torch.manual_seed(2)
    if subm:
        down = spconv.SubMConv3d(4, 6, 3, bias=False, indice_key="a")
        up = spconv.SubMConv3d(6, 3, 3, bias=False, indice_key="a")
    else:
        down = spconv.SparseConv3d(4, 6, 2, stride=2, bias=False, indice_key="b")
        up = spconv.SparseInverseConv3d(6, 3, 2, bias=False, indice_key="b")

    def run():
        for p in [*down.parameters(), *up.parameters()]:
            p.grad = None
        x = features.clone().requires_grad_(True)
        loss = _down_up_loss(x, indices, down, up)
        loss.backward()
        return loss.detach(), x.grad, down.weight.grad, up.weight.grad

    shim = run()
    ops = importlib.import_module("spconv.pytorch.ops")
    monkeypatch.setattr(ops, "SpconvOps", ops.SpconvOps.wrapped)
    torch.set_num_threads(1)
    reference = run()
    for got, want in zip(shim, reference, strict=True):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_submanifold_gradients_match_dense_autograd():
    coords, indices, features = _random_voxels(3, n=3000)
    torch.manual_seed(3)
    conv = spconv.SubMConv3d(4, 5, 3, bias=False, indice_key="g")
    weights = torch.randn(coords.shape[0], 5)
    x = features.clone().requires_grad_(True)
    (conv(spconv.SparseConvTensor(x, indices, [SIZE] * 3, 1)).features * weights).sum().backward()
    dense_in = _dense(coords, features).requires_grad_(True)
    dense_w = _dense_weight(conv).clone().requires_grad_(True)
    (_at(F.conv3d(dense_in, dense_w, padding=1), coords) * weights).sum().backward()
    torch.testing.assert_close(x.grad, _at(dense_in.grad, coords), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(conv.weight.grad.permute(0, 4, 1, 2, 3), dense_w.grad,
                               atol=1e-3, rtol=1e-4)  # fmt: skip


_FIRST_TENSOR = """
import logging, sys
{imports}
import torch, spconv.pytorch as spconv
spconv.SparseConvTensor(torch.zeros(2, 1), torch.zeros(2, 4, dtype=torch.int32), [4, 4, 4], 1)
logging.getLogger("torch.fx._symbolic_trace").warning("a later message of the same logger")
"""


@pytest.mark.parametrize("with_shim", [False, True])
def test_torch_fx_notice_is_used_up_silently_and_the_logger_still_speaks(with_shim):
    """Issue 17: spconv's first SparseConvTensor made torch log its is_fx_tracing deprecation
    notice on every model-loading command; with occuseg_core.nn imported it is gone, and the
    logger's own later messages still appear."""
    import subprocess
    import sys

    code = _FIRST_TENSOR.format(imports="import occuseg_core.nn" if with_shim else "")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert ("is_fx_tracing will return true" in run.stderr) is not with_shim, run.stderr
    assert "a later message of the same logger" in run.stderr
