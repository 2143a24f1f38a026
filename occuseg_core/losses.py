"""OccuSeg training losses, paper sec. 3.1 eq. 1-10, as pure functions on torch tensors.

Owns the loss terms and their batch bookkeeping (`InstanceTargets`); no nn.Module state, any
device. Terms are vectorized over all instances (index_add/bincount); only L_cov loops over
the few scenes of a batch, for its dense (C_s, N_s) instance-by-voxel matrix.

Batch normalisation: each instance term (L_sp, L_var, L_dist, L_reg, L_cov, L_o) is computed
per scene exactly as printed (1/C over the scene's instances, 1/N_c over an instance's voxels,
1/(C(C-1)) over the scene's pairs c_A < c_B, 1/N over all the scene's voxels for L_cov), then
averaged over the scenes with >= 1 instance (>= 2 for L_dist). L_c is the plain cross-entropy,
the mean over all voxels of the batch whose target is not IGNORE_INDEX. A term with nothing to
average returns 0 that is still connected to the graph (`pred.sum() * 0.0`).

Non-smooth points: norms use torch.linalg.vector_norm, whose backward is 0 at the zero vector
(a 1-voxel instance has s_i == u_c). L_cov takes no square root; it computes -log(1 - p) as
-log(-expm1(-q)), q = -log p clamped to >= COV_MIN_Q (a voxel outside c on c's centre: 13.8).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from occuseg_core.classes import IGNORE_INDEX
from occuseg_core.nn.outputs import HeadOutputs

DELTA_V = 0.1  # eq. 5: feature distance to the instance mean below which L_var is 0
DELTA_D = 1.5  # eq. 6: instance means over 2 delta_d apart cost nothing in L_dist
COV_MIN_Q = 1e-6  # lower clamp of q = -log p in the y = 0 branch of eq. 9
LOSS_NAMES = ("loss_sem", "loss_sp", "loss_var", "loss_dist", "loss_reg", "loss_cov", "loss_occ")
"""The terms of eq. 1, 2 and 4, in the order `occuseg_losses` returns them."""


def _check(name: str, value: Tensor, shape: tuple, device: object, integer: bool = False) -> None:
    """Raise unless `value` is an int64/float tensor of `shape` (-1: any) on `device` (or None)."""
    ok = isinstance(value, Tensor) and value.ndim == len(shape) and device in (None, value.device)
    ok = ok and (value.dtype == torch.int64 if integer else value.is_floating_point())
    if not (ok and all(want in (-1, got) for got, want in zip(value.shape, shape, strict=True))):
        got = type(value).__name__
        if isinstance(value, Tensor):
            got = f"{value.dtype} {tuple(value.shape)} on {value.device}"
        kind = "int64" if integer else "float"
        raise ValueError(f"{name}: need {kind} {shape} (-1: any) on {device}; got {got}")


def _check_rows(name: str, value: Tensor, targets: InstanceTargets, *trailing: int) -> None:
    """Raise unless `value` is float (V, *trailing) on the targets' device."""
    _check(name, value, (len(targets.positions_m), *trailing), targets.positions_m.device)


@dataclass(frozen=True, eq=False)
class InstanceTargets:
    """Ground truth of a batch of scenes, with the per-instance bookkeeping the losses share.

    Args:
        positions_m: (V, 3) float, voxel centres mu_i in metres (voxels of all scenes).
        voxel_scene: (V,) int64, scene index (>= 0) of each voxel.
        instance: (V,) int64, batch-global instance index 0..C-1 of each voxel, -1 for voxels
            in no instance (walls, floors, unannotated). Every instance has >= 1 voxel.
        instance_scene: (C,) int64, scene index of each instance (instances of different scenes
            have different indices).
        semantic_target: (V,) int64, train ids, IGNORE_INDEX (-100) where not supervised.

    Raises:
        ValueError: wrong shape/dtype/device, instance outside -1..C-1, an instance without
            voxels, or a voxel whose scene differs from its instance's scene.
    """

    positions_m: Tensor
    voxel_scene: Tensor
    instance: Tensor
    instance_scene: Tensor
    semantic_target: Tensor
    # Derived in __post_init__, shared by the losses:
    labelled_voxels: Tensor = field(init=False, repr=False)  # (L,) voxels with instance >= 0
    labelled_instance: Tensor = field(init=False, repr=False)  # (L,) their instance
    instance_num_voxels: Tensor = field(init=False, repr=False)  # (C,) int64 N_c
    instance_scene_size: Tensor = field(init=False, repr=False)  # (C,) C of the instance's scene
    scenes_with_instances: tuple[int, ...] = field(init=False)  # sorted, those with C >= 1
    num_scenes_with_pairs: int = field(init=False)  # scenes with C >= 2

    def __post_init__(self) -> None:
        _check("positions_m", self.positions_m, (-1, 3), None)
        num_voxels, device = len(self.positions_m), self.positions_m.device
        for name in ("voxel_scene", "instance", "instance_scene", "semantic_target"):
            length = -1 if name == "instance_scene" else num_voxels
            _check(name, getattr(self, name), (length,), device, integer=True)
        self._derive_instance_bookkeeping()

    def _derive_instance_bookkeeping(self) -> None:
        num_instances = self.num_instances
        labelled = torch.nonzero(self.instance >= 0).squeeze(1)
        labelled_instance = self.instance[labelled]
        bad = (self.instance < -1).sum() + (self.voxel_scene < 0).sum()
        bad = bad + (labelled_instance >= num_instances).sum() + (self.instance_scene < 0).sum()
        if bad.item() > 0:
            raise ValueError(f"need instance in -1..{num_instances - 1} and scene indices >= 0")
        if (self.instance_scene[labelled_instance] != self.voxel_scene[labelled]).any().item():
            raise ValueError("a voxel's voxel_scene differs from its instance's instance_scene")
        sizes = torch.bincount(labelled_instance, minlength=num_instances)
        if num_instances and sizes.min().item() == 0:
            raise ValueError("every instance 0..C-1 needs at least one voxel")
        scene_sizes = torch.bincount(self.instance_scene)
        set_field = object.__setattr__  # frozen dataclass: derived fields are set once, here
        set_field(self, "labelled_voxels", labelled)
        set_field(self, "labelled_instance", labelled_instance)
        set_field(self, "instance_num_voxels", sizes)
        set_field(self, "instance_scene_size", scene_sizes[self.instance_scene])
        set_field(self, "scenes_with_instances", tuple(scene_sizes.nonzero().flatten().tolist()))
        set_field(self, "num_scenes_with_pairs", int((scene_sizes >= 2).sum().item()))

    @property
    def num_instances(self) -> int:
        """C, over the whole batch."""
        return self.instance_scene.shape[0]

    @classmethod
    def from_labels(
        cls,
        positions_m: Tensor,
        voxel_scene: Tensor,
        scene_instance_ids: Tensor,
        semantic_target: Tensor,
    ) -> InstanceTargets:
        """Build targets from per-scene instance ids (0 = none), numbering (scene, id) pairs.

        Args:
            positions_m: (V, 3) float voxel centres in metres.
            voxel_scene: (V,) int64 scene index (>= 0) of each voxel.
            scene_instance_ids: (V,) int64 id within the voxel's scene, 0 = no instance.
            semantic_target: (V,) int64 train ids, IGNORE_INDEX where not supervised.

        Returns:
            Targets whose instances 0..C-1 are the distinct (scene, id > 0) pairs, sorted.

        Raises:
            ValueError: as the constructor, or negative ids.
        """
        _check("voxel_scene", voxel_scene, (-1,), None, integer=True)
        _check("scene_instance_ids", scene_instance_ids, voxel_scene.shape, None, integer=True)
        if scene_instance_ids.numel() and scene_instance_ids.min().item() < 0:
            raise ValueError("scene_instance_ids must be >= 0 (0 = no instance)")
        in_instance = scene_instance_ids > 0
        stride = int(scene_instance_ids.max().item()) + 1 if in_instance.any().item() else 1
        keys = voxel_scene[in_instance] * stride + scene_instance_ids[in_instance]
        unique_keys, inverse = torch.unique(keys, return_inverse=True)  # sorted: scene, then id
        instance = torch.full_like(scene_instance_ids, -1)
        instance[in_instance] = inverse
        return cls(positions_m, voxel_scene, instance, unique_keys // stride, semantic_target)


def _instance_means(values: Tensor, targets: InstanceTargets) -> Tensor:
    """(V, D) per-voxel values -> (C, D) mean over each instance's voxels."""
    sums = values.new_zeros((targets.num_instances, values.shape[1]))
    sums = sums.index_add(0, targets.labelled_instance, values[targets.labelled_voxels])
    return sums / targets.instance_num_voxels.to(values.dtype)[:, None]


def _instance_weights(targets: InstanceTargets, dtype: torch.dtype) -> Tensor:
    """(C,) weight 1 / (C_s * S) of each instance: 1/C within its scene, 1/S over the scenes."""
    return 1.0 / (targets.instance_scene_size.to(dtype) * len(targets.scenes_with_instances))


def _average_over_instances(per_voxel: Tensor, targets: InstanceTargets) -> Tensor:
    """sum_c w_c (1/N_c) sum_{i in c} f_i for (L,) values f over the labelled voxels."""
    dtype = per_voxel.dtype
    weights = _instance_weights(targets, dtype) / targets.instance_num_voxels.to(dtype)
    return (weights[targets.labelled_instance] * per_voxel).sum()


def semantic_loss(semantic_logits: Tensor, semantic_target: Tensor) -> Tensor:
    """L_c (eq. 1): cross-entropy averaged over the voxels whose target is not IGNORE_INDEX.

    Args:
        semantic_logits: (V, K) float unnormalised class scores.
        semantic_target: (V,) int64 train ids 0..K-1 or IGNORE_INDEX.

    Returns:
        () tensor; 0, still connected to semantic_logits, when every target is ignored.

    Raises:
        ValueError: shapes or dtypes do not match.
    """
    _check("semantic_logits", semantic_logits, (-1, -1), None)
    num_voxels, device = len(semantic_logits), semantic_logits.device
    _check("semantic_target", semantic_target, (num_voxels,), device, integer=True)
    summed = F.cross_entropy(
        semantic_logits, semantic_target, ignore_index=IGNORE_INDEX, reduction="sum"
    )
    num_valid = (semantic_target != IGNORE_INDEX).sum()
    # sum / max(count, 1): no host sync; with nothing valid, an exact 0 that keeps the graph.
    return summed / num_valid.clamp_min(1).to(summed.dtype)


def spatial_loss(spatial_embedding: Tensor, targets: InstanceTargets) -> Tensor:
    """L_sp (eq. 3): mean over instances of the mean of ||d_i + mu_i - mean_c(mu)|| (metres).

    Args:
        spatial_embedding: (V, 3) float offsets d_i in metres.
        targets: the batch's ground truth.

    Returns:
        () tensor in metres, averaged over scenes as described in the module docstring.
    """
    _check_rows("spatial_embedding", spatial_embedding, targets, 3)
    if targets.num_instances == 0:
        return spatial_embedding.sum() * 0.0
    positions = targets.positions_m.to(spatial_embedding.dtype)
    centres = _instance_means(positions, targets)
    voxels = targets.labelled_voxels
    residual = spatial_embedding[voxels] + positions[voxels] - centres[targets.labelled_instance]
    return _average_over_instances(torch.linalg.vector_norm(residual, dim=1), targets)


def feature_losses(
    feature_embedding: Tensor,
    targets: InstanceTargets,
    *,
    delta_v: float = DELTA_V,
    delta_d: float = DELTA_D,
) -> dict[str, Tensor]:
    """L_var, L_dist, L_reg (eq. 5-7), the discriminative loss on the feature embedding s.

    Args:
        feature_embedding: (V, E) float s_i.
        targets: the batch's ground truth.
        delta_v: eq. 5 margin, >= 0 (unitless, like s).
        delta_d: eq. 6 margin, >= 0: means further apart than 2 delta_d are not pushed.

    Returns:
        {"loss_var", "loss_dist", "loss_reg"}: () tensors. L_dist counts each same-scene pair
        c_A < c_B once and divides by C(C-1) of that scene, as printed in eq. 6.

    Raises:
        ValueError: bad shapes or negative margins.
    """
    _check_rows("feature_embedding", feature_embedding, targets, -1)
    if not (delta_v >= 0.0 and delta_d >= 0.0):
        raise ValueError(f"delta_v and delta_d must be >= 0; got {delta_v}, {delta_d}")
    if targets.num_instances == 0:
        return dict.fromkeys(("loss_var", "loss_dist", "loss_reg"), feature_embedding.sum() * 0.0)
    means = _instance_means(feature_embedding, targets)
    pull = means[targets.labelled_instance] - feature_embedding[targets.labelled_voxels]
    hinge = F.relu(torch.linalg.vector_norm(pull, dim=1) - delta_v).square()
    weights = _instance_weights(targets, means.dtype)
    return {
        "loss_var": _average_over_instances(hinge, targets),
        "loss_dist": _distance_term(means, targets, delta_d),
        "loss_reg": (weights * torch.linalg.vector_norm(means, dim=1)).sum(),
    }


def _distance_term(means: Tensor, targets: InstanceTargets, delta_d: float) -> Tensor:
    """Eq. 6 over all same-scene pairs at once; (C, E) means -> () tensor."""
    first, second = torch.triu_indices(*(2 * (targets.num_instances,)), 1, device=means.device)
    same_scene = targets.instance_scene[first] == targets.instance_scene[second]
    first, second = first[same_scene], second[same_scene]
    if first.numel() == 0:
        return means.sum() * 0.0
    gap = torch.linalg.vector_norm(means[first] - means[second], dim=1)
    hinge = F.relu(2.0 * delta_d - gap).square()
    scene_size = targets.instance_scene_size[first].to(means.dtype)
    weights = 1.0 / (scene_size * (scene_size - 1.0) * targets.num_scenes_with_pairs)
    return (weights * hinge).sum()


def covariance_loss(
    feature_embedding: Tensor, spatial_embedding: Tensor, sigma: Tensor, targets: InstanceTargets
) -> Tensor:
    """L_cov (eq. 8-9): BCE of each instance's Gaussian membership p_i over its whole scene.

    sigma_s^c, sigma_d^c, u_c, e_c are the means over c of sigma, s and mu + d; for every
    voxel i of c's scene, -log p_i = (|s_i - u_c| / sigma_s^c)^2 + (|mu_i + d_i - e_c| /
    sigma_d^c)^2, and y_i = [i in c].

    Args:
        feature_embedding: (V, E) float s_i.
        spatial_embedding: (V, 3) float d_i in metres.
        sigma: (V, 2) float, positive [sigma_s, sigma_d] (sigma_d in metres).
        targets: the batch's ground truth.

    Returns:
        () tensor: per scene the mean over its instances and voxels, then over scenes.
    """
    _check_rows("feature_embedding", feature_embedding, targets, -1)
    _check_rows("spatial_embedding", spatial_embedding, targets, 3)
    _check_rows("sigma", sigma, targets, 2)
    if targets.num_instances == 0:
        return (feature_embedding.sum() + spatial_embedding.sum() + sigma.sum()) * 0.0
    centres = targets.positions_m.to(spatial_embedding.dtype) + spatial_embedding
    means = [_instance_means(x, targets) for x in (feature_embedding, centres, sigma)]
    total = feature_embedding.new_zeros(())
    for scene in targets.scenes_with_instances:
        voxels = torch.nonzero(targets.voxel_scene == scene).squeeze(1)
        members = torch.nonzero(targets.instance_scene == scene).squeeze(1)
        q = _neg_log_p(*(m[members] for m in means), feature_embedding[voxels], centres[voxels])
        inside = members[:, None] == targets.instance[voxels][None, :]
        total = total + _MembershipNLLSum.apply(q, inside) / q.numel()
    return total / len(targets.scenes_with_instances)


def _neg_log_p(u_c: Tensor, e_c: Tensor, sigma_c: Tensor, s: Tensor, mu_d: Tensor) -> Tensor:
    """q = -log p (eq. 8), (C, N), from the (C, E) u_c, (C, 3) e_c, (C, 2) sigma means of C
    instances and the (N, E) s, (N, 3) mu + d of N voxels.

    One matmul via |x - m|^2 = |x|^2 + |m|^2 - 2 x.m, after shifting both sides by the detached
    mean of the means (value and gradient unchanged, less cancellation error)."""
    u, s = (x - u_c.detach().mean(0) for x in (u_c, s))
    e, p = (x - e_c.detach().mean(0) for x in (e_c, mu_d))
    w = sigma_c.square().reciprocal()  # (C, 2): 1 / sigma_s^2, 1 / sigma_d^2
    left = torch.cat([w, -2.0 * w[:, :1] * u, -2.0 * w[:, 1:] * e], dim=1)
    right = torch.cat([s.square().sum(1, keepdim=True), p.square().sum(1, keepdim=True), s, p], 1)
    bias = w[:, 0] * u.square().sum(1) + w[:, 1] * e.square().sum(1)
    return torch.addmm(bias[:, None], left, right.T).clamp_min_(0.0)


class _MembershipNLLSum(torch.autograd.Function):
    """sum over (C, N) of -[y log p + (1 - y) log(1 - p)], p = exp(-q), y = `inside`.

    Fused by hand (the only (C, N)-sized work here): works in place and keeps only dL/dq = 1
    inside, 1 - 1/(1 - p) outside (0 where q < COV_MIN_Q is clamped)."""

    @staticmethod
    def forward(ctx, q: Tensor, inside: Tensor) -> Tensor:
        one_minus_p = q.clamp_min(COV_MIN_Q).neg_().expm1_().neg_()
        if ctx.needs_input_grad[0]:  # no (C, N) gradient work for evaluation-only calls
            grad = one_minus_p.reciprocal().neg_().add_(1.0)
            ctx.save_for_backward(grad.masked_fill_(q < COV_MIN_Q, 0.0).masked_fill_(inside, 1.0))
        return torch.where(inside, q, one_minus_p.log_().neg_()).sum()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: Tensor) -> tuple[Tensor, None]:
        (grad,) = ctx.saved_tensors
        return grad * grad_output, None


def occupancy_loss(log_occupancy: Tensor, targets: InstanceTargets) -> Tensor:
    """L_o (eq. 10): mean over instances of the mean over voxels of |o_i - log N_c|.

    Args:
        log_occupancy: (V,) float o_i, predicted log voxel count of the voxel's instance.
        targets: the batch's ground truth.

    Returns:
        () tensor (log-count units).
    """
    _check_rows("log_occupancy", log_occupancy, targets)
    if targets.num_instances == 0:
        return log_occupancy.sum() * 0.0
    log_sizes = targets.instance_num_voxels.to(log_occupancy.dtype).log()
    error = log_occupancy[targets.labelled_voxels] - log_sizes[targets.labelled_instance]
    return _average_over_instances(error.abs(), targets)


def occuseg_losses(
    outputs: HeadOutputs,
    targets: InstanceTargets,
    weights: dict[str, float] | None = None,
    delta_v: float = DELTA_V,
    delta_d: float = DELTA_D,
) -> dict[str, Tensor]:
    """All terms of L_joint (eq. 1, 2, 4) and their weighted sum.

    Args:
        outputs: the heads' predictions for the batch's V voxels.
        targets: the batch's ground truth.
        weights: optional weight per term name (keys from LOSS_NAMES); missing keys weigh 1,
            which is the paper's plain sum.
        delta_v, delta_d: the margins of eq. 5 and eq. 6.

    Returns:
        Every name in LOSS_NAMES mapped to its unweighted () tensor, plus "loss", the weighted
        sum to backpropagate.

    Raises:
        ValueError: unknown or negative/non-finite weights, or mismatched shapes.
    """
    unknown = sorted(set(weights or {}) - set(LOSS_NAMES))
    if unknown:
        raise ValueError(f"unknown loss weight keys {unknown}; known: {list(LOSS_NAMES)}")
    weights = {name: float((weights or {}).get(name, 1.0)) for name in LOSS_NAMES}
    if not all(0.0 <= w < float("inf") for w in weights.values()):
        raise ValueError(f"loss weights must be finite and >= 0; got {weights}")
    terms = {
        "loss_sem": semantic_loss(outputs.semantic_logits, targets.semantic_target),
        "loss_sp": spatial_loss(outputs.spatial_embedding, targets),
        **feature_losses(outputs.feature_embedding, targets, delta_v=delta_v, delta_d=delta_d),
        "loss_cov": covariance_loss(
            outputs.feature_embedding, outputs.spatial_embedding, outputs.sigma, targets
        ),
        "loss_occ": occupancy_loss(outputs.log_occupancy, targets),
    }
    terms["loss"] = sum(weights[name] * term for name, term in terms.items())
    return terms
