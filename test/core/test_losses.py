"""Tests of occuseg_core.losses (paper eq. 1-10) and nn.outputs.HeadOutputs.

Values and gradients are checked against the loop-based float64 twin in
test/reference/losses_naive.py, against a hand-worked toy batch, and for invariants.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from dataclasses import replace
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
import torch

from occuseg_core.classes import IGNORE_INDEX
from occuseg_core.losses import (
    COV_MIN_Q,
    LOSS_NAMES,
    InstanceTargets,
    covariance_loss,
    feature_losses,
    occuseg_losses,
)
from occuseg_core.nn.outputs import HeadOutputs


def _load_reference():
    path = Path(__file__).resolve().parents[1] / "reference" / "losses_naive.py"
    spec = importlib.util.spec_from_file_location("losses_naive", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


naive = _load_reference()
ALL_NAMES = (*LOSS_NAMES, "loss")
HEAD_NAMES = tuple(HeadOutputs.__dataclass_fields__)
TARGET_FIELDS = ("positions_m", "voxel_scene", "instance", "instance_scene", "semantic_target")
SEEDS, MARGINS = (0, 1), ((0.1, 1.5), (0.5, 1.0))  # (delta_v, delta_d) of the reference runs


def _fields(targets: InstanceTargets) -> list[torch.Tensor]:
    return [getattr(targets, name) for name in TARGET_FIELDS]


def _random_batch(seed: int, dtype=torch.float64):
    """Targets and leaf head tensors (logits, s, d, sigma, o) of `naive.random_batch_arrays`:
    4 scenes, voxels interleaved, a 1-voxel instance, a 1-instance and a 0-instance scene."""
    labels, heads = naive.random_batch_arrays(seed)
    positions = torch.as_tensor(labels.pop("positions_m"), dtype=dtype)
    targets = InstanceTargets(positions, **{k: torch.as_tensor(v) for k, v in labels.items()})
    return targets, tuple(torch.as_tensor(h, dtype=dtype).requires_grad_() for h in heads)


def _grads(value: torch.Tensor, heads) -> list[torch.Tensor]:
    grads = torch.autograd.grad(value, heads, allow_unused=True, retain_graph=True)
    return [torch.zeros_like(h) if g is None else g for g, h in zip(grads, heads, strict=True)]


@functools.cache
def _fast_and_naive(seed: int, delta_v: float, delta_d: float):
    targets, heads = _random_batch(seed)
    fast = occuseg_losses(HeadOutputs(*heads), targets, delta_v=delta_v, delta_d=delta_d)
    margins = {"delta_v": delta_v, "delta_d": delta_d, "min_q": COV_MIN_Q}
    return fast, naive.naive_losses(*_fields(targets), heads, **margins), heads


@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("margins", MARGINS)
@pytest.mark.parametrize("seed", SEEDS)
def test_term_value_and_gradients_match_naive_reference(name, margins, seed):
    fast, slow, heads = _fast_and_naive(seed, *margins)
    torch.testing.assert_close(fast[name], slow[name], rtol=1e-10, atol=1e-12)
    pairs = zip(HEAD_NAMES, _grads(fast[name], heads), _grads(slow[name], heads), strict=True)
    for head, got, want in pairs:
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12, msg=f"d{name}/d{head}")


@pytest.mark.parametrize("delta_v, delta_d", MARGINS)
def test_reference_batches_exercise_both_sides_of_every_hinge(delta_v, delta_d):
    """The reference comparison is only meaningful if the hinges of eq. 5/6 are both active
    and inactive in its data; checked with numpy, independent of either implementation."""
    pulls, gaps = [], []
    for seed in SEEDS:
        targets, heads = _random_batch(seed)
        s, inst = heads[1].detach().numpy(), targets.instance.numpy()
        scenes = targets.instance_scene.numpy()
        means = np.stack([s[inst == c].mean(0) for c in range(targets.num_instances)])
        pulls += list(np.linalg.norm(s[inst >= 0] - means[inst[inst >= 0]], axis=1))
        pairs = [p for p in combinations(range(len(means)), 2) if scenes[p[0]] == scenes[p[1]]]
        gaps += [np.linalg.norm(means[a] - means[b]) for a, b in pairs]
    assert min(pulls) < delta_v < max(pulls) and min(gaps) < 2 * delta_d < max(gaps)


def _toy_batch(dtype):
    """One scene, 4 voxels: instance 0 = {v0, v1}, instance 1 = {v2, v3}. See TOY_EXPECTED."""
    t = functools.partial(torch.tensor, dtype=dtype)
    positions = t([[0.0, 0, 0], [2, 0, 0], [0, 4, 0], [0, 6, 0]])
    labels = ([0, 0, 0, 0], [0, 0, 1, 1], [0, 0], [0, 0, IGNORE_INDEX, 1])
    targets = InstanceTargets(positions, *(torch.tensor(x) for x in labels))
    log2 = math.log(2.0)
    outputs = HeadOutputs(
        semantic_logits=t([[0.0, 0], [math.log(3.0), 0], [5, -5], [0, 0]]),
        feature_embedding=t([[0.0, 0], [0, 0.4], [0, 2.0], [0, 2.1]]),
        spatial_embedding=t([[1.0, 0, 0], [0, 0, 0], [0, 1, 0], [3, -1, 0]]),
        sigma=t([[0.5, 1.0], [1.5, 3.0], [1, 1], [1, 1]]),
        log_occupancy=t([log2, log2 + 1, log2 - 0.5, log2 + 0.5]),
    )
    return targets, outputs


def _bce0(q: float) -> float:
    """-log(1 - exp(-q)), the y = 0 cost of eq. 9."""
    return -math.log(1.0 - math.exp(-q))


TOY_EXPECTED = {
    # valid voxels v0, v1, v3: -log softmax = ln 2, ln(4/3) (logits ln 3, 0), ln 2
    "loss_sem": (2 * math.log(2.0) + math.log(4.0 / 3.0)) / 3,  # 0.557992
    # centres (1,0,0), (0,5,0); mu + d = (1,0,0), (2,0,0), (0,5,0), (3,5,0)
    # -> |.| = 0, 1 | 0, 3 -> ((0 + 1)/2 + (0 + 3)/2) / 2
    "loss_sp": 1.0,
    # u0 = (0, .2): both at 0.2 -> (0.2 - 0.1)^2 = 0.01; u1 = (0, 2.05): 0.05 < 0.1 -> 0
    "loss_var": (0.01 + 0.0) / 2,  # 0.005
    # |u0 - u1| = 1.85 -> (3 - 1.85)^2 = 1.3225, one pair / (C (C - 1) = 2)
    "loss_dist": 1.3225 / 2,  # 0.66125
    "loss_reg": (0.2 + 2.05) / 2,  # 1.125
    # c0: sigma = (1, 2), e0 = (1.5,0,0); q = 0.04 + 0.25/4 = 0.1025 (v0, v1, inside),
    #     v2: 1.8^2 + 27.25/4 = 10.0525, v3: 1.9^2 + 27.25/4 = 10.4225 (outside)
    # c1: sigma = (1, 1), e1 = (1.5,5,0); v0: 2.05^2 + 25.25 = 29.4525, v1: 1.65^2 + 25.25 =
    #     27.9725 (outside), v2, v3: 0.05^2 + 1.5^2 = 2.2525 (inside)
    "loss_cov": (
        (2 * 0.1025 + _bce0(10.0525) + _bce0(10.4225)) / 4
        + (_bce0(29.4525) + _bce0(27.9725) + 2 * 2.2525) / 4
    )
    / 2,  # 0.588759
    # N_c = 2 -> |o - ln 2| = 0, 1 | 0.5, 0.5 -> (0.5 + 0.5) / 2
    "loss_occ": 0.5,
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", LOSS_NAMES)
def test_toy_batch_hand_computed(name, dtype):
    targets, outputs = _toy_batch(dtype)
    got = occuseg_losses(outputs, targets)
    assert got[name].item() == pytest.approx(TOY_EXPECTED[name], abs=1e-6)
    assert got["loss"].item() == pytest.approx(sum(TOY_EXPECTED.values()), abs=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_terms_nonnegative_and_finite_with_finite_gradients(seed, dtype):
    targets, heads = _random_batch(seed, dtype)
    out = occuseg_losses(HeadOutputs(*heads), targets)
    for name in ALL_NAMES:
        assert torch.isfinite(out[name]) and out[name].item() >= 0.0, name
    out["loss"].backward()
    assert all(torch.isfinite(h.grad).all() for h in heads)


@pytest.mark.parametrize("num_voxels", [0, 5])
def test_nothing_valid_gives_zero_and_a_connected_graph(num_voxels):
    """No instance anywhere and every semantic target ignored: all terms exactly 0, and
    backward still reaches every head output (with zero gradient)."""
    n = num_voxels
    labels = (torch.zeros(n), torch.full((n,), -1), torch.zeros(0), torch.full((n,), -100))
    targets = InstanceTargets(torch.rand(n, 3), *(x.long() for x in labels))
    shapes = ((n, 4), (n, 3), (n, 3), (n, 2), (n,))
    heads = [torch.rand(shape, requires_grad=True) for shape in shapes]
    out = occuseg_losses(HeadOutputs(*heads), targets)
    for name in ALL_NAMES:
        assert out[name].item() == 0.0 and out[name].requires_grad, name
    out["loss"].backward()
    for head in heads:
        assert head.grad is not None and not head.grad.any()


def test_permuting_voxels_and_relabelling_instances_and_scenes_changes_nothing():
    targets, heads = _random_batch(3)
    before = occuseg_losses(HeadOutputs(*heads), targets)
    rng = np.random.default_rng(7)
    order = torch.as_tensor(rng.permutation(targets.positions_m.shape[0]))
    relabel = torch.as_tensor(rng.permutation(targets.num_instances))  # old index -> new
    scene_map = torch.tensor([9, 2, 5, 0])  # scenes need not be 0..B-1 or sorted
    new_instance_scene = torch.empty_like(targets.instance_scene)
    new_instance_scene[relabel] = scene_map[targets.instance_scene]
    instance = targets.instance[order]
    moved = InstanceTargets(
        targets.positions_m[order],
        scene_map[targets.voxel_scene[order]],
        torch.where(instance >= 0, relabel[instance.clamp_min(0)], -1),
        new_instance_scene,
        targets.semantic_target[order],
    )
    after = occuseg_losses(HeadOutputs(*(h[order] for h in heads)), moved)
    for name in ALL_NAMES:
        torch.testing.assert_close(after[name], before[name], rtol=1e-12, atol=1e-12)


def _one_scene(instance, positions=None, dtype=torch.float64):
    """Targets of one scene with the given instance indices (semantic targets all 0)."""
    instance, n = torch.tensor(instance), len(instance)
    positions = torch.zeros(n, 3, dtype=dtype) if positions is None else positions
    zeros = torch.zeros(n, dtype=torch.int64)
    return InstanceTargets(positions, zeros, instance, zeros[: instance.max() + 1], zeros)


@pytest.mark.parametrize(
    "gap, expected",
    [(3.5, 0.0), (3.0001, 0.0), (2.5, 3 * 0.5**2 / 6), (1.0, 3 * 2.0**2 / 6)],
)
def test_distance_term_vanishes_beyond_twice_delta_d(gap, expected):
    """Three instances with means on an equilateral triangle of side `gap`: every pair costs
    [3 - gap]_+^2; eq. 6 sums the 3 pairs once and divides by C(C-1) = 6."""
    corners = torch.tensor([[0.0, 0], [1, 0], [0.5, math.sqrt(3.0) / 2]], dtype=torch.float64)
    jitter = torch.tensor([[0.05, 0.0], [-0.05, 0.0]]).repeat(3, 1)
    s = (gap * corners.repeat_interleave(2, dim=0) + jitter).requires_grad_()
    terms = feature_losses(s, _one_scene([0, 0, 1, 1, 2, 2]))
    assert terms["loss_dist"].item() == pytest.approx(expected, abs=1e-12)
    (grad,) = torch.autograd.grad(terms["loss_dist"], s)
    assert (grad.abs().max().item() == 0.0) == (expected == 0.0)


@pytest.mark.parametrize("spread, expected", [(0.09, 0.0), (0.1, 0.0), (0.15, 0.05**2)])
def test_variance_term_vanishes_within_delta_v(spread, expected):
    """Two voxels at mean +- spread along one axis: each is `spread` from the mean, so
    L_var = [spread - 0.1]_+^2."""
    s = torch.tensor([[1.0 + spread, 2.0], [1.0 - spread, 2.0]], dtype=torch.float64)
    terms = feature_losses(s, _one_scene([0, 0]))
    assert terms["loss_var"].item() == pytest.approx(expected, abs=1e-12)


def test_gradients_finite_where_norms_and_abs_are_at_zero():
    """1-voxel instances (s_i == u_c), d_i + mu_i exactly on the centre, two instances with the
    same mean (u_A == u_B), u = 0, o = log N_c exactly, and an unlabelled voxel sitting on an
    instance's centre (q = 0 for y = 0, clamped): every gradient is finite."""
    targets = _one_scene([0, 1, 2, 2, -1])
    log_occupancy = torch.tensor([0.0, 0.0, math.log(2.0), math.log(2.0), 0.0])
    heads = [torch.zeros(5, 3), torch.zeros(5, 4), torch.zeros(5, 3), torch.ones(5, 2)]
    heads = [h.double().requires_grad_() for h in (*heads, log_occupancy)]
    out = occuseg_losses(HeadOutputs(*heads), targets)
    out["loss"].backward()
    for head in heads:
        assert torch.isfinite(head.grad).all()
    assert torch.isfinite(out["loss"])


def test_vector_norm_backward_is_zero_at_the_origin():
    """The losses rely on this torch behaviour (sqrt of a sum of squares would give NaN)."""
    x = torch.zeros(2, 3, requires_grad=True)
    (grad,) = torch.autograd.grad(torch.linalg.vector_norm(x, dim=1).sum(), x)
    assert torch.equal(grad, torch.zeros(2, 3))
    (naive_grad,) = torch.autograd.grad(x.square().sum(1).sqrt().sum(), x)
    assert torch.isnan(naive_grad).all()


def test_covariance_outside_voxel_on_centre_costs_clamped_value():
    """Instance {v0} and unlabelled v1 with the same mu + d and s 1e-4 apart: q = 1e-8 for v1,
    clamped to 1e-6 (y = 0 costs -log(-expm1(-1e-6)) = 13.8155, with zero gradient); v0 is
    its instance's mean, q = 0. L_cov = (0 + 13.8155) / 2."""
    s = torch.tensor([[0.0, 0.0], [1e-4, 0.0]], dtype=torch.float64, requires_grad=True)
    zeros, ones = torch.zeros(2, 3, dtype=torch.float64), torch.ones(2, 2, dtype=torch.float64)
    value = covariance_loss(s, zeros, ones, _one_scene([0, -1]))
    assert value.item() == pytest.approx(-math.log(-math.expm1(-COV_MIN_Q)) / 2, rel=1e-12)
    value.backward()
    assert torch.equal(s.grad, torch.zeros(2, 2, dtype=torch.float64))


def test_covariance_extreme_exponents_stay_finite():
    """Inside voxels 200 m apart with sigma_d = 1 cm: q = 1e8 each, L_cov = 1e8 (no inf/NaN)."""
    positions = torch.tensor([[-100.0, 0, 0], [100.0, 0, 0]], dtype=torch.float64)
    sigma = torch.tensor([[1.0, 0.01], [1.0, 0.01]], dtype=torch.float64, requires_grad=True)
    zeros = torch.zeros(2, 3, dtype=torch.float64)
    value = covariance_loss(zeros[:, :2], zeros, sigma, _one_scene([0, 0], positions))
    assert value.item() == pytest.approx(1e8, rel=1e-9)
    value.backward()
    assert torch.isfinite(sigma.grad).all()


def test_covariance_float32_accurate_far_from_the_origin():
    """Scene 1 km from the origin: the float32 matmul form keeps the float64 value (the means
    are subtracted before the |x|^2 + |m|^2 - 2 x.m expansion)."""
    targets, heads = _random_batch(4)
    far = replace(targets, positions_m=targets.positions_m + torch.tensor([1e3, -800, 30.0]))
    want = covariance_loss(heads[1], heads[2], heads[3], far).item()
    far32 = replace(far, positions_m=far.positions_m.float())
    got = covariance_loss(heads[1].float(), heads[2].float(), heads[3].float(), far32).item()
    assert got == pytest.approx(want, rel=1e-4)


def test_covariance_gradcheck():
    targets, heads = _random_batch(5)
    keep = torch.nonzero(targets.voxel_scene == 0).squeeze(1)  # scene 0: 11 voxels, 3 instances
    scene, ids = targets.voxel_scene[keep], targets.instance[keep] + 1
    small = InstanceTargets.from_labels(targets.positions_m[keep], scene, ids, 0 * scene)
    assert small.num_instances == 3
    inputs = tuple(h.detach()[keep].requires_grad_() for h in heads[1:4])
    assert torch.autograd.gradcheck(lambda s, d, sig: covariance_loss(s, d, sig, small), inputs)


def test_from_labels_numbers_scene_id_pairs():
    """(scene, id) pairs (0, 3), (1, 3), (1, 5) -> instances 0, 1, 2; id 0 -> -1."""
    labels = torch.tensor([[0, 0, 1, 1, 1, 0], [3, 0, 3, 5, 5, 3]])
    targets = InstanceTargets.from_labels(torch.zeros(6, 3), *labels, torch.zeros(6).long())
    assert targets.instance.tolist() == [0, -1, 1, 2, 2, 0]
    assert targets.instance_scene.tolist() == [0, 1, 1]
    assert targets.instance_num_voxels.tolist() == [2, 1, 2]
    assert targets.scenes_with_instances == (0, 1) and targets.num_scenes_with_pairs == 1


def _targets_args():
    labels = ([0, 0, 1], [0, 1, -1], [0, 0], [1, 2, IGNORE_INDEX])
    return dict(zip(TARGET_FIELDS, (torch.zeros(3, 3), *map(torch.tensor, labels)), strict=True))


@pytest.mark.parametrize(
    "field, value",
    [
        ("positions_m", torch.zeros(3, 2)),
        ("positions_m", torch.zeros(3, 3, dtype=torch.int64)),
        ("voxel_scene", torch.tensor([0, 0])),
        ("instance", torch.tensor([0.0, 1.0, -1.0])),
        ("instance", torch.tensor([0, 2, -1])),  # C = 2
        ("instance", torch.tensor([0, 1, -2])),
        ("instance", torch.tensor([0, 0, -1])),  # instance 1 has no voxel
        ("instance_scene", torch.tensor([0, 1])),  # voxel 1 is in scene 0
        ("voxel_scene", torch.tensor([0, 0, -1])),
        ("semantic_target", torch.tensor([1, 2])),
    ],
)
def test_instance_targets_reject_bad_input(field, value):
    args = _targets_args()
    InstanceTargets(**args)  # the unmodified arguments are valid
    with pytest.raises(ValueError):
        InstanceTargets(**{**args, field: value})


def test_weights_scale_terms_and_bad_weights_shapes_or_margins_raise():
    targets, heads = _random_batch(6)
    weights = {"loss_sem": 2.0, "loss_cov": 0.5, "loss_dist": 0.0}
    out = occuseg_losses(HeadOutputs(*heads), targets, weights=weights)
    expected = sum(weights.get(name, 1.0) * out[name].item() for name in LOSS_NAMES)
    assert out["loss"].item() == pytest.approx(expected, rel=1e-12)
    for bad in ({"loss_semantic": 1.0}, {"loss_sp": -1.0}, {"loss_sp": float("nan")}):
        with pytest.raises(ValueError):
            occuseg_losses(HeadOutputs(*heads), targets, weights=bad)
    with pytest.raises(ValueError):
        covariance_loss(heads[1][:-1], heads[2], heads[3], targets)
    with pytest.raises(ValueError):
        feature_losses(heads[1], targets, delta_v=-0.1)


def test_head_outputs_validate_detach_and_move():
    heads = [torch.rand(4, 5), torch.rand(4, 3), torch.rand(4, 3), torch.rand(4, 2), torch.rand(4)]
    heads[1].requires_grad_()
    outputs = HeadOutputs(*heads)
    assert outputs.num_voxels == 4
    detached = outputs.detach()
    assert not detached.feature_embedding.requires_grad
    assert detached.feature_embedding.data_ptr() == heads[1].data_ptr()
    moved = outputs.to("cpu")
    assert torch.equal(moved.sigma, heads[3]) and moved.sigma.device.type == "cpu"
    bad_heads = [(3, torch.rand(4, 3)), (4, torch.rand(4, 1)), (2, torch.rand(5, 3))]
    for index, bad in [*bad_heads, (0, torch.zeros(4, 5, dtype=torch.int64))]:
        with pytest.raises(ValueError):
            HeadOutputs(*heads[:index], bad, *heads[index + 1 :])


@pytest.mark.gpu
def test_cuda_matches_cpu():
    targets, heads = _random_batch(8)
    cpu = occuseg_losses(HeadOutputs(*heads), targets)
    cuda_targets = InstanceTargets(*(x.cuda() for x in _fields(targets)))
    cuda_heads = [h.detach().cuda().requires_grad_() for h in heads]
    gpu = occuseg_losses(HeadOutputs(*cuda_heads), cuda_targets)
    for name in ALL_NAMES:
        torch.testing.assert_close(gpu[name].cpu(), cpu[name].detach(), rtol=1e-9, atol=1e-12)
    gpu["loss"].backward()
    cpu_grads = torch.autograd.grad(cpu["loss"], heads)
    for got, want in zip(cuda_heads, cpu_grads, strict=True):
        torch.testing.assert_close(got.grad.cpu(), want, rtol=1e-9, atol=1e-12)
