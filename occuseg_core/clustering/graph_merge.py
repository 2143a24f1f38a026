"""Occupancy-aware greedy merging of the supervoxel graph (paper sec. 3.2, eq. 14).

The vertices are supervoxels (their `SupervoxelStatistics`), the edges their adjacencies. The
weight of an edge (i, j) is

    w_ij = exp(-(||S_i - S_j|| / sigma_s)^2 - (||D_i - D_j|| / sigma_d)^2) / max(r, 0.5)

with S, D the current vertices' mean feature embedding and centre, and sigma_s, sigma_d, r the
size-weighted means / occupancy ratio of the virtual vertex i + j (r = |Omega| / exp(mean o),
see `statistics.py`). The edge of highest weight is merged while its weight exceeds T0
(`merge_threshold`); the merged vertex inherits both neighbour sets and the weights around it
are recomputed. Final vertices with min_occupancy_ratio < r < max_occupancy_ratio are kept as
instances.

Ablations (paper Table 6): `use_feature=False` drops the S term, `use_spatial=False` the D
term, `use_occupancy=False` sets r = 1 in eq. 14 (so the weight is the bare exponential) and,
since that variant has no occupancy prediction at all, skips the final ratio filter: every
final vertex with at least `min_instance_voxels` voxels is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from occuseg_core.clustering import merge_kernel
from occuseg_core.clustering.statistics import SupervoxelStatistics


@dataclass(frozen=True)
class MergeConfig:
    """Parameters of the occupancy-aware merging.

    Args:
        merge_threshold: T0: merge while the best eq. 14 weight exceeds it (paper 0.5).
        min_occupancy_ratio: keep a final vertex only if r > this (paper 0.3) ...
        max_occupancy_ratio: ... and r < this (paper 2.0); r = voxels / exp(mean o).
        use_feature: include the feature-embedding term of eq. 14.
        use_spatial: include the spatial-embedding term of eq. 14.
        use_occupancy: divide by max(r, 0.5) in eq. 14 and apply the ratio filter; False is
            the paper's "w/o occupancy" (r = 1, no ratio filter).
        min_instance_voxels: keep a final vertex only if it has at least this many voxels
            (0 = off, the paper's setting; useful when `use_occupancy` is False).
    """

    merge_threshold: float = 0.5
    min_occupancy_ratio: float = 0.3
    max_occupancy_ratio: float = 2.0
    use_feature: bool = True
    use_spatial: bool = True
    use_occupancy: bool = True
    min_instance_voxels: int = 0

    def __post_init__(self) -> None:
        if not math.isfinite(self.merge_threshold) or self.merge_threshold < 0:
            raise ValueError(
                f"merge_threshold must be finite and >= 0; got {self.merge_threshold}"
            )
        if not 0 <= self.min_occupancy_ratio < self.max_occupancy_ratio:
            raise ValueError(
                "occupancy ratio bounds must satisfy 0 <= min < max; got"
                f" ({self.min_occupancy_ratio}, {self.max_occupancy_ratio})"
            )
        if self.min_instance_voxels < 0:
            raise ValueError(f"min_instance_voxels must be >= 0; got {self.min_instance_voxels}")


@dataclass(frozen=True, eq=False)
class MergeResult:
    """The final vertices (clusters) of the merged graph.

    Args:
        cluster: (K,) int64 cluster id of each supervoxel, 0..C-1 numbered by the first
            supervoxel of each cluster (a cluster is a union of whole supervoxels).
        voxel_count: (C,) int64 voxels per cluster |Omega|.
        predicted_occupancy: (C,) float64 exp(mean o) over the cluster's voxels, voxels.
        occupancy_ratio: (C,) float64 r = voxel_count / predicted_occupancy.
        kept: (C,) bool: the cluster passes the final filters (an instance candidate).
        num_merges: number of merge operations performed (K - C).
    """

    cluster: np.ndarray
    voxel_count: np.ndarray
    predicted_occupancy: np.ndarray
    occupancy_ratio: np.ndarray
    kept: np.ndarray
    num_merges: int

    @property
    def num_clusters(self) -> int:
        return int(self.voxel_count.shape[0])


def _check_edges(edges: np.ndarray, stats: SupervoxelStatistics) -> np.ndarray:
    """Validated (E', 2) int64 edges without self-loops or empty-supervoxel ends."""
    edges = np.asarray(edges)
    if edges.size == 0:
        return np.empty((0, 2), dtype=np.int64)
    if edges.ndim != 2 or edges.shape[1] != 2 or not np.issubdtype(edges.dtype, np.integer):
        raise ValueError(f"edges must be (E, 2) integers; got {edges.shape} {edges.dtype}")
    k = stats.num_supervoxels
    if edges.min() < 0 or edges.max() >= k:
        raise ValueError(f"edge ends must lie in [0, {k}); got [{edges.min()}, {edges.max()}]")
    edges = edges.astype(np.int64, copy=False)
    keep = (edges[:, 0] != edges[:, 1]) & (stats.voxel_count[edges].min(axis=1) > 0)
    return np.ascontiguousarray(edges[keep])


def _kernel_arrays(stats: SupervoxelStatistics) -> tuple[np.ndarray, ...]:
    """Fresh contiguous float64 copies of the sums (the kernel updates them in place)."""
    arrays = (stats.voxel_count, stats.center_sum, stats.feature_sum, stats.sigma_sum,
              stats.log_occupancy_sum)  # fmt: skip
    return tuple(np.array(a, dtype=np.float64, order="C", copy=True) for a in arrays)


def _flags(config: MergeConfig) -> np.ndarray:
    return np.array([config.use_feature, config.use_spatial, config.use_occupancy], dtype=bool)


def edge_weights(
    stats: SupervoxelStatistics, edges: np.ndarray, config: MergeConfig | None = None
) -> np.ndarray:
    """Eq. 14 weight of each edge between the (unmerged) supervoxels.

    Args:
        stats: statistics of the K supervoxels.
        edges: (E, 2) int supervoxel pairs in [0, K); both ends must have voxels.
        config: which terms to use (ablation switches); default `MergeConfig()`.

    Returns:
        (E,) float64 weights, in [0, 2].
    """
    config = config or MergeConfig()
    edges = np.asarray(edges)
    checked = _check_edges(edges, stats)
    if checked.shape[0] != (edges.shape[0] if edges.size else 0):
        raise ValueError("edge_weights needs edges without self-loops or empty supervoxels")
    return merge_kernel.edge_weights(*_kernel_arrays(stats), checked, _flags(config))


def _first_occurrence_labels(roots: np.ndarray) -> np.ndarray:
    """(K,) int64 0..C-1 relabelling of `roots`, numbered by first occurrence."""
    _, first, inverse = np.unique(roots, return_index=True, return_inverse=True)
    rank = np.empty(first.shape[0], dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.shape[0])
    return rank[inverse.reshape(-1)]


def merge_supervoxels(
    stats: SupervoxelStatistics, edges: np.ndarray, config: MergeConfig | None = None
) -> MergeResult:
    """Greedily merges adjacent supervoxels by eq. 14 weight, then filters by occupancy ratio.

    Args:
        stats: statistics of the K supervoxels (`supervoxel_statistics`).
        edges: (E, 2) int supervoxel adjacencies in [0, K), either direction, duplicates
            allowed; self-loops and edges to empty supervoxels are ignored.
        config: thresholds and ablation switches; default `MergeConfig()` (the paper's).

    Returns:
        The `MergeResult` (empty arrays when K = 0).

    Raises:
        ValueError: malformed edges.
    """
    config = config or MergeConfig()
    edges = _check_edges(edges, stats)
    count, center, feature, sigma, log_occ = _kernel_arrays(stats)
    if stats.num_supervoxels == 0:
        roots, merges = np.empty((0,), dtype=np.int64), 0
    else:
        roots, merges = merge_kernel.greedy_merge(
            count, center, feature, sigma, log_occ, edges, float(config.merge_threshold),
            _flags(config),
        )  # fmt: skip
    cluster = _first_occurrence_labels(roots)
    num_clusters = int(cluster.max(initial=-1)) + 1
    voxel_count = np.bincount(cluster, weights=stats.voxel_count, minlength=num_clusters)
    voxel_count = voxel_count.astype(np.int64)
    log_sum = np.bincount(cluster, weights=stats.log_occupancy_sum, minlength=num_clusters)
    mean_log = np.divide(log_sum, voxel_count, out=np.zeros(num_clusters), where=voxel_count > 0)
    predicted = np.exp(mean_log)
    ratio = voxel_count / predicted
    kept = (voxel_count > 0) & (voxel_count >= config.min_instance_voxels)
    if config.use_occupancy:
        kept &= (ratio > config.min_occupancy_ratio) & (ratio < config.max_occupancy_ratio)
    return MergeResult(
        cluster=cluster, voxel_count=voxel_count, predicted_occupancy=predicted,
        occupancy_ratio=ratio, kept=kept, num_merges=int(merges),
    )  # fmt: skip
