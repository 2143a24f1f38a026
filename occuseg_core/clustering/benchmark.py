"""Timing of the greedy merging on a random supervoxel graph (issue target: <= 20 ms for 1,000
supervoxels with 5,000 adjacencies on one core).

Run: `python -m occuseg_core.clustering.benchmark [--supervoxels K] [--edges E]`.

The graph plants objects of about 20 supervoxels each in a 10 m x 10 m x 2 m room; supervoxels
of one object share a feature vector, centre and predicted size (plus noise), and each
supervoxel is linked to its nearest neighbours, so the merging does realistic work (most
edges inside objects merge, edges between objects stop).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.spatial import cKDTree

from occuseg_core.clustering.graph_merge import MergeConfig, merge_supervoxels
from occuseg_core.clustering.statistics import SupervoxelStatistics


def random_supervoxel_graph(
    num_supervoxels: int, num_edges: int, rng: np.random.Generator, embedding_dim: int = 8
) -> tuple[SupervoxelStatistics, np.ndarray]:
    """A random planted-object supervoxel graph.

    Args:
        num_supervoxels: K >= 2.
        num_edges: wanted number of distinct undirected edges (fewer if K is too small).
        rng: random generator.
        embedding_dim: E of the feature embedding.

    Returns:
        (statistics of the K supervoxels, (E, 2) int64 edges i < j of nearest neighbours).
    """
    num_objects = max(1, num_supervoxels // 20)
    obj = rng.integers(0, num_objects, num_supervoxels)
    obj_center = rng.uniform((0, 0, 0), (10, 10, 2), size=(num_objects, 3))
    obj_feature = rng.normal(0.0, 2.0, size=(num_objects, embedding_dim))
    count = rng.integers(20, 200, num_supervoxels)
    obj_size = np.bincount(obj, weights=count, minlength=num_objects)
    position = obj_center[obj] + rng.normal(0.0, 0.3, size=(num_supervoxels, 3))
    weight = count[:, None].astype(np.float64)
    mean_log_occupancy = np.log(obj_size[obj]) + rng.normal(0, 0.1, num_supervoxels)
    stats = SupervoxelStatistics(
        voxel_count=count.astype(np.int64),
        center_sum=(obj_center[obj] + rng.normal(0, 0.05, (num_supervoxels, 3))) * weight,
        feature_sum=(obj_feature[obj] + rng.normal(0, 0.1, obj_feature[obj].shape)) * weight,
        sigma_sum=np.array([0.6, 0.4]) * weight * rng.uniform(0.9, 1.1, (num_supervoxels, 2)),
        log_occupancy_sum=mean_log_occupancy * count,
    )
    neighbours = min(num_supervoxels - 1, int(np.ceil(4 * num_edges / num_supervoxels)) + 1)
    _, nearest = cKDTree(position).query(position, k=neighbours + 1)
    pairs = np.stack(
        [np.repeat(np.arange(num_supervoxels), neighbours), nearest[:, 1:].ravel()], 1
    )
    pairs = np.unique(np.sort(pairs, axis=1), axis=0)
    pick = rng.choice(pairs.shape[0], size=min(num_edges, pairs.shape[0]), replace=False)
    return stats, pairs[np.sort(pick)].astype(np.int64)


def benchmark_merge(
    num_supervoxels: int = 1000, num_edges: int = 5000, repeats: int = 50, seed: int = 0
) -> dict[str, float]:
    """Times `merge_supervoxels` (including its input checks) after one warm-up call.

    Args:
        num_supervoxels: K.
        num_edges: number of adjacencies.
        repeats: timed calls after the warm-up.
        seed: seed of the random graph.

    Returns:
        {"first_call_s": warm-up call (numba compile, or cache load), "median_ms", "min_ms",
        "num_edges", "num_merges", "num_kept"}.
    """
    stats, edges = random_supervoxel_graph(num_supervoxels, num_edges, np.random.default_rng(seed))
    config = MergeConfig()
    start = time.perf_counter()
    result = merge_supervoxels(stats, edges, config)
    first_call_s = time.perf_counter() - start
    times_ms = []
    for _ in range(repeats):
        start = time.perf_counter()
        merge_supervoxels(stats, edges, config)
        times_ms.append(1e3 * (time.perf_counter() - start))
    return {
        "first_call_s": first_call_s,
        "median_ms": float(np.median(times_ms)),
        "min_ms": float(np.min(times_ms)),
        "num_edges": float(edges.shape[0]),
        "num_merges": float(result.num_merges),
        "num_kept": float(result.kept.sum()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--supervoxels", type=int, default=1000)
    parser.add_argument("--edges", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    report = benchmark_merge(args.supervoxels, args.edges, args.repeats)
    print(" ".join(f"{key}={value:.4g}" for key, value in report.items()))


if __name__ == "__main__":
    main()
