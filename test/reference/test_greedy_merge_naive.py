"""The compiled greedy merging (heap, running sums, merged neighbour lists) against the slow
twin `greedy_merge_naive` (recomputes every adjacent pair's weight each round) on small random
graphs; partitions are compared up to relabelling."""

from __future__ import annotations

import math

import numpy as np
import pytest
from greedy_merge_naive import canonical_labels, greedy_merge_naive, naive_weight

from occuseg_core.clustering import (
    MergeConfig,
    SupervoxelStatistics,
    edge_weights,
    merge_supervoxels,
)

FLAG_CASES = {
    "full": {},
    "no_feature": {"use_feature": False},
    "no_spatial": {"use_spatial": False},
    "no_occupancy": {"use_occupancy": False},
}


def random_graph(seed: int, min_k: int = 2, max_k: int = 30, min_degree: int = 0) -> tuple:
    """min_k-max_k supervoxels in 1-4 noisy objects, random edges (duplicates, both directions)
    between min_degree * K and 3 K of them."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(min_k, max_k + 1))
    num_objects = int(rng.integers(1, 5))
    obj = rng.integers(0, num_objects, k)
    count = rng.integers(1, 40, k)
    obj_size = np.bincount(obj, weights=count, minlength=num_objects)
    mean_feature = rng.normal(0, 1.0, (num_objects, 4))[obj] + rng.normal(0, 0.3, (k, 4))
    mean_center = rng.uniform(0, 2, (num_objects, 3))[obj] + rng.normal(0, 0.2, (k, 3))
    mean_log = np.log(obj_size[obj]) + rng.normal(0, 0.3, k)
    stats = SupervoxelStatistics(
        voxel_count=count.astype(np.int64), center_sum=mean_center * count[:, None],
        feature_sum=mean_feature * count[:, None],
        sigma_sum=rng.uniform(0.3, 1.0, (k, 2)) * count[:, None],
        log_occupancy_sum=mean_log * count,
    )  # fmt: skip
    edges = rng.integers(0, k, (int(rng.integers(min_degree * k, 3 * k)), 2))
    return stats, edges[edges[:, 0] != edges[:, 1]]


def run_naive(stats: SupervoxelStatistics, edges: np.ndarray, config: MergeConfig):
    return greedy_merge_naive(
        stats.voxel_count.tolist(), stats.center_sum.tolist(), stats.feature_sum.tolist(),
        stats.sigma_sum.tolist(), stats.log_occupancy_sum.tolist(), edges.tolist(),
        config.merge_threshold, config.use_feature, config.use_spatial, config.use_occupancy,
    )  # fmt: skip


@pytest.mark.parametrize("flags", list(FLAG_CASES), ids=list(FLAG_CASES))
@pytest.mark.parametrize("seed", range(25))
def test_merge_matches_naive_reference(seed: int, flags: str) -> None:
    stats, edges = random_graph(seed)
    config = MergeConfig(**FLAG_CASES[flags])
    expected_labels, expected_merges = run_naive(stats, edges, config)
    result = merge_supervoxels(stats, edges, config)
    assert result.cluster.tolist() == expected_labels
    assert result.num_merges == expected_merges
    # kept flags from the naive partition: 0.3 < n / exp(mean o) < 2 (skipped w/o occupancy)
    for c in range(result.num_clusters):
        members = [v for v, label in enumerate(expected_labels) if label == c]
        n = sum(int(stats.voxel_count[v]) for v in members)
        ratio = n / math.exp(sum(stats.log_occupancy_sum[v] for v in members) / n)
        assert result.occupancy_ratio[c] == pytest.approx(ratio, rel=1e-9)
        assert result.kept[c] == (not config.use_occupancy or 0.3 < ratio < 2.0)


@pytest.mark.parametrize("seed", range(100, 104))
def test_merge_matches_naive_reference_on_larger_graphs(seed: int) -> None:
    """80-120 supervoxels: deeper union-find trees, longer merged neighbour lists."""
    stats, edges = random_graph(seed, min_k=80, max_k=120, min_degree=2)
    expected_labels, expected_merges = run_naive(stats, edges, MergeConfig())
    result = merge_supervoxels(stats, edges, MergeConfig())
    assert result.cluster.tolist() == expected_labels
    assert result.num_merges == expected_merges >= 10


def test_random_graphs_exercise_merging() -> None:
    """Guards the comparison above against being vacuous: the random graphs must contain both
    merged and unmerged edges, with distinct weights (no ties to break differently)."""
    merges, kept_apart = 0, 0
    for seed in range(25):
        stats, edges = random_graph(seed)
        _, num_merges = run_naive(stats, edges, MergeConfig())
        merges += num_merges
        kept_apart += stats.num_supervoxels - num_merges
        weights = edge_weights(stats, np.unique(np.sort(edges, axis=1), axis=0))
        assert np.unique(weights).shape == weights.shape
    assert merges >= 50 and kept_apart >= 50


def test_naive_weight_matches_compiled_edge_weights() -> None:
    stats, edges = random_graph(3)
    args = (stats.voxel_count.tolist(), stats.center_sum.tolist(), stats.feature_sum.tolist(),
            stats.sigma_sum.tolist(), stats.log_occupancy_sum.tolist())  # fmt: skip
    expected = [naive_weight({int(i)}, {int(j)}, *args, True, True, True) for i, j in edges]
    np.testing.assert_allclose(edge_weights(stats, edges), expected, rtol=1e-12)


def test_canonical_labels() -> None:
    assert canonical_labels([7, 7, 3, 9, 3]) == [0, 0, 1, 2, 1]
