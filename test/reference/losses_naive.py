"""Slow twin of `occuseg_core.losses`: eq. 1-10 written out with Python loops over scenes,
instances and voxels, one voxel at a time, for float64 tensors.

Written from the paper's equations (sec. 3.1) and the batch rule of the losses module docstring
(per scene as printed, then the mean over scenes with >= 1 instance, >= 2 for L_dist); it
shares no code with the fast module. Autograd runs through it, so tests compare gradients too.
Only for tiny inputs (tens of voxels); `random_batch_arrays` makes such inputs.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

IGNORE = -100
NAMES = ("loss_sem", "loss_sp", "loss_var", "loss_dist", "loss_reg", "loss_cov", "loss_occ")
# Per scene: instance sizes (incl. a 1-voxel instance; a scene with one instance, so no L_dist
# pair; a scene with none) and the number of unlabelled voxels.
SCENE_LAYOUT = (((4, 1, 3), 3), ((5,), 2), ((2, 3), 1), ((), 3))


def _norm(x: Tensor) -> Tensor:
    """Euclidean norm with the subgradient 0 at the zero vector (sqrt alone has none there)."""
    if bool((x == 0).all()):
        return (x * 0.0).sum()
    return torch.sqrt((x * x).sum())


def _mean(rows: list[Tensor]) -> Tensor:
    total = rows[0]
    for row in rows[1:]:
        total = total + row
    return total / len(rows)


def _mean_or_zero(values: list[Tensor], like: Tensor) -> Tensor:
    """Mean of the list; 0 (connected to `like`) when it is empty."""
    if not values:
        return (like * 0.0).sum()
    return _mean(values)


def _groups(voxel_scene: Tensor, instance: Tensor, instance_scene: Tensor):
    """Python dicts: voxels of each instance, instances of each scene, voxels of each scene."""
    members: dict[int, list[int]] = {c: [] for c in range(len(instance_scene))}
    scene_voxels: dict[int, list[int]] = {}
    for i, (scene, c) in enumerate(zip(voxel_scene.tolist(), instance.tolist(), strict=True)):
        scene_voxels.setdefault(scene, []).append(i)
        if c >= 0:
            members[c].append(i)
    scene_instances: dict[int, list[int]] = {}
    for c, scene in enumerate(instance_scene.tolist()):
        scene_instances.setdefault(scene, []).append(c)
    return members, scene_instances, scene_voxels


def naive_semantic(logits: Tensor, target: Tensor) -> Tensor:
    """Mean over voxels with target != IGNORE of -log softmax(logits_i)[target_i]."""
    terms = []
    for i, t in enumerate(target.tolist()):
        if t != IGNORE:
            row = logits[i]
            log_norm = torch.log(sum(torch.exp(row[k]) for k in range(row.shape[0])))
            terms.append(log_norm - row[t])
    return _mean_or_zero(terms, logits)


def naive_losses(
    positions: Tensor,
    voxel_scene: Tensor,
    instance: Tensor,
    instance_scene: Tensor,
    semantic_target: Tensor,
    heads: tuple[Tensor, Tensor, Tensor, Tensor, Tensor],
    delta_v: float = 0.1,
    delta_d: float = 1.5,
    min_q: float = 1e-6,
) -> dict[str, Tensor]:
    """Every term by name (loss_sem ... loss_occ) and their unweighted sum "loss".

    `heads` = (logits (V, K), s (V, E), d (V, 3), sigma (V, 2), o (V,)).
    """
    logits, s, d, sigma, o = heads
    members, scene_instances, scene_voxels = _groups(voxel_scene, instance, instance_scene)
    per_scene: dict[str, list[Tensor]] = {name: [] for name in NAMES[1:]}
    for scene, insts in scene_instances.items():
        groups = [members[c] for c in insts]
        terms = _scene_terms(
            groups, scene_voxels[scene], positions, heads, delta_v, delta_d, min_q
        )
        for name, value in terms.items():
            if value is not None:
                per_scene[name].append(value)
    out = {"loss_sem": naive_semantic(logits, semantic_target)}
    for name, like in zip(NAMES[1:], (d, s, s, s, s, o), strict=True):
        out[name] = _mean_or_zero(per_scene[name], like)
    total = out["loss_sem"]
    for name in NAMES[1:]:
        total = total + out[name]
    out["loss"] = total
    return out


def _scene_terms(groups, scene_vox, positions, heads, delta_v, delta_d, min_q):
    """The six instance terms of one scene whose instances have the voxel lists `groups`."""
    _, s, d, sigma, o = heads
    sp, var, reg, cov, occ, means = [], [], [], [], [], []
    for vox in groups:
        centre = _mean([positions[i] for i in vox])
        sp.append(_mean([_norm(d[i] + positions[i] - centre) for i in vox]))
        u = _mean([s[i] for i in vox])
        means.append(u)
        var.append(_mean([torch.clamp(_norm(u - s[i]) - delta_v, min=0.0) ** 2 for i in vox]))
        reg.append(_norm(u))
        occ.append(_mean([torch.abs(o[i] - math.log(len(vox))) for i in vox]))
        cov.append(_cov_instance(vox, scene_vox, positions, s, d, sigma, min_q))
    count = len(groups)
    dist = None
    for a in range(count):
        for b in range(a + 1, count):
            term = torch.clamp(2 * delta_d - _norm(means[a] - means[b]), min=0.0) ** 2
            dist = term if dist is None else dist + term
    return {
        "loss_sp": _mean(sp),
        "loss_var": _mean(var),
        "loss_dist": None if dist is None else dist / (count * (count - 1)),
        "loss_reg": _mean(reg),
        "loss_cov": _mean(cov),
        "loss_occ": _mean(occ),
    }


def _cov_instance(vox, scene_vox, positions, s, d, sigma, min_q) -> Tensor:
    """Eq. 8-9 for one instance: (1/N) sum over the scene's N voxels of the BCE of p_i."""
    sigma_s = _mean([sigma[i, 0] for i in vox])
    sigma_d = _mean([sigma[i, 1] for i in vox])
    u = _mean([s[i] for i in vox])
    e = _mean([positions[k] + d[k] for k in vox])
    inside = set(vox)
    terms = []
    for i in scene_vox:
        # (||x|| / sigma)^2 written as sum(x^2) / sigma^2: no square root to differentiate.
        a2 = ((s[i] - u) ** 2).sum() / sigma_s**2
        b2 = ((positions[i] + d[i] - e) ** 2).sum() / sigma_d**2
        if i in inside:
            terms.append(-torch.log(torch.exp(-(a2 + b2))))
        else:
            p = torch.exp(-torch.clamp(a2 + b2, min=min_q))
            terms.append(-torch.log(1.0 - p))
    return _mean(terms)


def random_batch_arrays(seed: int, num_classes: int = 4, dim: int = 4):
    """Test inputs for SCENE_LAYOUT: voxels of all scenes interleaved, instance indices not
    ordered by scene, ~30% ignored semantic targets, some s within 0.01 of their mean.

    Returns:
        ({positions_m (V, 3), voxel_scene, instance, instance_scene, semantic_target} as numpy
        arrays, (logits (V, K), s (V, E), d (V, 3), sigma (V, 2), o (V,)) float64 arrays).
    """
    rng = np.random.default_rng(seed)
    sizes = [size for sizes, _ in SCENE_LAYOUT for size in sizes]
    instance_scene = [index for index, (sizes, _) in enumerate(SCENE_LAYOUT) for _ in sizes]
    unlabelled = [count for _, count in SCENE_LAYOUT]
    scene = np.r_[np.repeat(instance_scene, sizes), np.repeat(range(len(unlabelled)), unlabelled)]
    instance = np.r_[np.repeat(range(len(sizes)), sizes), np.full(sum(unlabelled), -1)]
    order, relabel = rng.permutation(len(scene)), rng.permutation(len(instance_scene))
    scene, instance = scene[order], instance[order]
    instance = np.where(instance >= 0, relabel[instance], -1)
    new_scene = np.empty(len(instance_scene), np.int64)
    new_scene[relabel] = instance_scene
    n = len(scene)
    centre = rng.uniform(0.0, 3.0, (len(new_scene) + 1, 3))  # last row: unlabelled voxels
    positions = centre[instance] + rng.normal(0.0, 0.3, (n, 3))
    feature_centre = rng.normal(0.0, 0.8, (len(new_scene) + 1, dim))
    noise_scale = rng.choice([0.01, 0.3], (n, 1))  # some voxels inside the delta_v margin
    semantic = rng.integers(0, num_classes, n)
    semantic[rng.random(n) < 0.3] = IGNORE
    labels = {"positions_m": positions, "voxel_scene": scene, "instance": instance}
    labels |= {"instance_scene": new_scene, "semantic_target": semantic}
    heads = (
        rng.normal(0.0, 1.0, (n, num_classes)),
        feature_centre[instance] + noise_scale * rng.normal(0.0, 1.0, (n, dim)),
        rng.normal(0.0, 0.3, (n, 3)),
        rng.uniform(0.4, 1.5, (n, 2)),
        rng.normal(1.0, 1.0, n),
    )
    return labels, heads
