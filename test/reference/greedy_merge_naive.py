"""Slow, straightforward twin of `occuseg_core.clustering.merge_supervoxels` (plain Python).

Every round recomputes, from the member supervoxels' sums, the eq. 14 weight of every pair of
adjacent clusters, merges the best pair if its weight exceeds the threshold, and stops
otherwise. No heap, no running sums, no union-find: only lists, sets and `math`.
"""

from __future__ import annotations

import math


def _cluster_sums(members, count, center, feature, sigma, log_occ):
    n = sum(count[m] for m in members)
    return {
        "n": n,
        "center": [sum(center[m][e] for m in members) for e in range(3)],
        "feature": [sum(feature[m][e] for m in members) for e in range(len(feature[0]))],
        "sigma": [sum(sigma[m][e] for m in members) for e in range(2)],
        "log_occ": sum(log_occ[m] for m in members),
    }


def naive_weight(a, b, count, center, feature, sigma, log_occ, use_feature, use_spatial, use_occ):
    """Eq. 14 between clusters a and b (sets of supervoxel ids), recomputed from scratch."""
    sa = _cluster_sums(a, count, center, feature, sigma, log_occ)
    sb = _cluster_sums(b, count, center, feature, sigma, log_occ)
    union = _cluster_sums(a | b, count, center, feature, sigma, log_occ)
    exponent = 0.0
    if use_feature:
        dist = math.dist(
            [x / sa["n"] for x in sa["feature"]], [x / sb["n"] for x in sb["feature"]]
        )
        exponent += (dist / (union["sigma"][0] / union["n"])) ** 2
    if use_spatial:
        dist = math.dist([x / sa["n"] for x in sa["center"]], [x / sb["n"] for x in sb["center"]])
        exponent += (dist / (union["sigma"][1] / union["n"])) ** 2
    ratio = union["n"] / math.exp(union["log_occ"] / union["n"]) if use_occ else 1.0
    return math.exp(-exponent) / max(ratio, 0.5)


def greedy_merge_naive(
    count, center_sum, feature_sum, sigma_sum, log_occupancy_sum, edges, threshold=0.5,
    use_feature=True, use_spatial=True, use_occupancy=True,
):  # fmt: skip
    """Greedy eq. 14 merging, recomputing every adjacent pair's weight each round.

    Args:
        count, center_sum, feature_sum, sigma_sum, log_occupancy_sum: per-supervoxel sums as
            nested Python lists (K,), (K, 3), (K, E), (K, 2), (K,); every count > 0.
        edges: list of (i, j) supervoxel pairs.
        threshold: T0.

    Returns:
        (K,) list of cluster labels numbered by first occurrence, and the number of merges.
    """
    stats = (count, center_sum, feature_sum, sigma_sum, log_occupancy_sum)
    flags = (use_feature, use_spatial, use_occupancy)
    label = list(range(len(count)))
    merges = 0
    while True:
        pairs = {tuple(sorted((label[i], label[j]))) for i, j in edges if label[i] != label[j]}
        members = {c: {v for v in range(len(label)) if label[v] == c} for c in set(label)}
        best, best_pair = -math.inf, None
        for a, b in sorted(pairs):
            w = naive_weight(members[a], members[b], *stats, *flags)
            if w > best:
                best, best_pair = w, (a, b)
        if best_pair is None or not best > threshold:
            break
        label = [best_pair[0] if c == best_pair[1] else c for c in label]
        merges += 1
    return canonical_labels(label), merges


def canonical_labels(labels):
    """Relabels a partition 0, 1, ... by first occurrence (compares partitions up to naming)."""
    seen = {}
    return [seen.setdefault(x, len(seen)) for x in labels]
