"""From per-voxel head outputs to scored instances (paper sec. 3.2, the end of the pipeline).

`cluster_instances` labels each supervoxel with the vote of its voxels' predicted classes,
drops background supervoxels (wall, floor: never instances), merges the rest with
`merge_supervoxels` and turns every kept cluster into an instance with a class and a score.

Score (ranks instances for AP):

    score = mean over the instance's voxels of p(class | voxel) * min(r, 1 / r)

The first factor is the semantic confidence in the instance's class (low for clusters that
mix classes or sit on uncertain voxels); the second is the occupancy agreement (1 when the
cluster has exactly its predicted size, 1/2 at r = 2 or 1/2, so partial or over-merged objects
rank below complete ones). With `use_occupancy=False` the second factor is 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from occuseg_core.clustering.graph_merge import MergeConfig, MergeResult, merge_supervoxels
from occuseg_core.clustering.statistics import supervoxel_statistics


@dataclass(frozen=True, eq=False)
class InstanceSegmentation:
    """Instances found in one scene's voxels; instance ids index the per-instance arrays.

    Args:
        voxel_instance: (V,) int64 instance id of each voxel in [0, I), -1 = no instance.
        class_train_id: (I,) int64 predicted class (train id) of each instance.
        score: (I,) float64 confidence in [0, 1] (module docstring), for AP ranking.
        voxel_count: (I,) int64 voxels per instance.
        predicted_occupancy: (I,) float64 exp(mean o) over the instance, voxels.
        occupancy_ratio: (I,) float64 voxel_count / predicted_occupancy.
    """

    voxel_instance: np.ndarray
    class_train_id: np.ndarray
    score: np.ndarray
    voxel_count: np.ndarray
    predicted_occupancy: np.ndarray
    occupancy_ratio: np.ndarray

    @property
    def num_instances(self) -> int:
        return int(self.class_train_id.shape[0])


def _check_probabilities(
    semantic_probs: np.ndarray, background_train_ids: Sequence[int], num_voxels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Validated (V, C) probabilities and the sorted (B,) int64 background train ids."""
    probs = np.asarray(semantic_probs)
    if probs.ndim != 2 or probs.shape[1] == 0 or not np.issubdtype(probs.dtype, np.floating):
        raise ValueError(
            f"semantic_probs must be (V, C) floats, C >= 1; got {probs.shape} {probs.dtype}"
        )
    if probs.shape[0] != num_voxels:
        raise ValueError(f"semantic_probs has {probs.shape[0]} rows; expected one per voxel")
    if not np.all(np.isfinite(probs)):
        raise ValueError("semantic_probs contain NaN or inf")
    background = np.asarray(sorted({int(c) for c in background_train_ids}), dtype=np.int64)
    bad = [int(c) for c in background if not 0 <= c < probs.shape[1]]
    if bad:
        raise ValueError(f"background_train_ids {bad} outside [0, {probs.shape[1]})")
    return probs, background


def _vote(group: np.ndarray, label: np.ndarray, num_groups: int, num_labels: int) -> np.ndarray:
    """(G, L) int64 number of members of each group with each label."""
    flat = np.bincount(group * num_labels + label, minlength=num_groups * num_labels)
    return flat.reshape(num_groups, num_labels)


def _foreground_graph(
    supervoxel: np.ndarray, voxel_class: np.ndarray, num_classes: int,
    voxel_count: np.ndarray, background: np.ndarray, edges: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Foreground supervoxels (the vote of their voxels' classes is not background): their
    ids (K',) and the edges among them renumbered to 0..K'-1."""
    k = voxel_count.shape[0]
    supervoxel_class = _vote(supervoxel, voxel_class, k, num_classes).argmax(axis=1)
    index = np.flatnonzero((voxel_count > 0) & ~np.isin(supervoxel_class, background))
    renumber = np.full(k, -1, dtype=np.int64)
    renumber[index] = np.arange(index.shape[0])
    edges = np.asarray(edges)
    if edges.size == 0:
        return index, np.empty((0, 2), dtype=np.int64)
    if edges.ndim != 2 or edges.shape[1] != 2 or not np.issubdtype(edges.dtype, np.integer):
        raise ValueError(f"edges must be (E, 2) integers; got {edges.shape} {edges.dtype}")
    if edges.min() < 0 or edges.max() >= k:
        raise ValueError(f"edge ends must lie in [0, {k})")
    ends = renumber[edges]
    return index, ends[(ends >= 0).all(axis=1)]


def _instance_records(
    merge: MergeResult, voxel_cluster: np.ndarray, voxel_class: np.ndarray,
    probs: np.ndarray, background: np.ndarray, use_occupancy: bool,
) -> InstanceSegmentation:  # fmt: skip
    """Numbers the kept clusters 0..I-1 and computes class, score and occupancy per instance."""
    instance_of_cluster = np.full(merge.num_clusters, -1, dtype=np.int64)
    instance_of_cluster[merge.kept] = np.arange(int(merge.kept.sum()))
    voxel_instance = np.full(voxel_cluster.shape[0], -1, dtype=np.int64)
    in_cluster = voxel_cluster >= 0
    voxel_instance[in_cluster] = instance_of_cluster[voxel_cluster[in_cluster]]
    num_instances, num_classes = int(merge.kept.sum()), probs.shape[1]
    member = np.flatnonzero(voxel_instance >= 0)
    votes = _vote(voxel_instance[member], voxel_class[member], num_instances, num_classes)
    votes[:, background] = -1  # an instance is never a background class
    instance_class = votes.argmax(axis=1).astype(np.int64)
    class_prob = probs[member, instance_class[voxel_instance[member]]].astype(np.float64)
    prob_sum = np.bincount(voxel_instance[member], weights=class_prob, minlength=num_instances)
    voxel_count = merge.voxel_count[merge.kept]
    ratio = merge.occupancy_ratio[merge.kept]
    agreement = np.minimum(ratio, 1.0 / ratio) if use_occupancy else np.ones(num_instances)
    return InstanceSegmentation(
        voxel_instance=voxel_instance, class_train_id=instance_class,
        score=prob_sum / np.maximum(voxel_count, 1) * agreement, voxel_count=voxel_count,
        predicted_occupancy=merge.predicted_occupancy[merge.kept], occupancy_ratio=ratio,
    )  # fmt: skip


def cluster_instances(
    *,
    semantic_probs: np.ndarray,
    positions_m: np.ndarray,
    spatial_embedding: np.ndarray,
    feature_embedding: np.ndarray,
    sigma: np.ndarray,
    log_occupancy: np.ndarray,
    supervoxel: np.ndarray,
    edges: np.ndarray,
    background_train_ids: Sequence[int],
    config: MergeConfig | None = None,
) -> InstanceSegmentation:
    """Occupancy-aware clustering of one scene's voxels into scored instances.

    Args:
        semantic_probs: (V, C) float class probabilities (softmax) per voxel, train ids.
        positions_m: (V, 3) voxel centres mu, metres.
        spatial_embedding: (V, 3) predicted offsets d to the instance centre, metres.
        feature_embedding: (V, E) feature embeddings s.
        sigma: (V, 2) predicted [sigma_s, sigma_d], > 0.
        log_occupancy: (V,) predicted log instance size o, log voxels.
        supervoxel: (V,) int supervoxel id of each voxel in [0, K).
        edges: (E, 2) int supervoxel adjacencies in [0, K).
        background_train_ids: train ids that never form instances (e.g. wall, floor).
        config: merging parameters; default `MergeConfig()`.

    Returns:
        The `InstanceSegmentation`: a supervoxel's voxels all share one instance id or -1;
        supervoxels whose voxels vote for a background class are never instances.

    Raises:
        ValueError: malformed or mismatched inputs.
    """
    config = config or MergeConfig()
    stats = supervoxel_statistics(
        supervoxel, positions_m, spatial_embedding, feature_embedding, sigma, log_occupancy
    )
    supervoxel = np.asarray(supervoxel).astype(np.int64, copy=False)
    probs, background = _check_probabilities(semantic_probs, background_train_ids, len(supervoxel))
    voxel_class = probs.argmax(axis=1).astype(np.int64)
    index, sub_edges = _foreground_graph(
        supervoxel, voxel_class, probs.shape[1], stats.voxel_count, background, edges
    )
    merge = merge_supervoxels(stats.subset(index), sub_edges, config)
    supervoxel_cluster = np.full(stats.num_supervoxels, -1, dtype=np.int64)
    supervoxel_cluster[index] = merge.cluster
    return _instance_records(
        merge, supervoxel_cluster[supervoxel], voxel_class, probs, background, config.use_occupancy
    )
