"""Slow, obviously-correct twins of the supervoxel code, in plain Python (no numpy in the loops).

`felzenszwalb_naive` sorts all edges and merges with a dict-based union-find; `mesh_graph_naive`
rebuilds ScanNet's mesh graph with `math`; the neighbour and adjacency twins check every pair.
They are the independent expectations of `test_felzenszwalb_naive.py`.
"""

from __future__ import annotations

import itertools
import math


def felzenszwalb_naive(
    num_nodes: int, edges: list[tuple[int, int, float]], k_thresh: float, min_size: int = 0
) -> list[int]:
    """Felzenszwalb-Huttenlocher segmentation, then joining of components under `min_size`.

    Args:
        num_nodes: number of nodes.
        edges: (a, b, weight) triples; visited by ascending weight (Python's stable sort).
        k_thresh: scale k of the threshold Int(C) + k / |C|.
        min_size: second pass: join the two ends of an edge when either side is smaller.

    Returns:
        Component label of each node (some member of its component).
    """
    parent = {node: node for node in range(num_nodes)}
    size = {node: 1 for node in range(num_nodes)}
    threshold = {node: k_thresh for node in range(num_nodes)}

    def find(node: int) -> int:
        while parent[node] != node:
            node = parent[node]
        return node

    def union(a: int, b: int) -> int:
        parent[b] = a
        size[a] += size[b]
        return a

    ordered = sorted(edges, key=lambda edge: edge[2])
    for a, b, weight in ordered:
        root_a, root_b = find(a), find(b)
        if root_a != root_b and weight <= threshold[root_a] and weight <= threshold[root_b]:
            root = union(root_a, root_b)
            threshold[root] = weight + k_thresh / size[root]
    for a, b, _ in ordered:
        root_a, root_b = find(a), find(b)
        if root_a != root_b and (size[root_a] < min_size or size[root_b] < min_size):
            union(root_a, root_b)
    return [find(node) for node in range(num_nodes)]


def mesh_graph_naive(
    xyz: list[tuple[float, float, float]], faces: list[tuple[int, int, int]]
) -> list[tuple[int, int, float]]:
    """ScanNet's mesh graph: 3 directed edges per triangle, weight from the vertex normals.

    A vertex normal is the mean of the unit normals of its (non-degenerate) triangles; edge
    (a, b) weighs 1 - n_a . n_b, squared when n_b . (p_b - p_a) > 0.
    """
    sums = [[0.0, 0.0, 0.0] for _ in xyz]
    counts = [0 for _ in xyz]
    for face in faces:
        p1, p2, p3 = (xyz[i] for i in face)
        u = [p2[c] - p1[c] for c in range(3)]
        v = [p3[c] - p1[c] for c in range(3)]
        normal = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]]
        length = math.sqrt(sum(c * c for c in normal))
        if length == 0.0:
            continue
        for i in face:
            for c in range(3):
                sums[i][c] += normal[c] / length
            counts[i] += 1
    normals = [
        [s / n for s in total] if n else [0.0, 0.0, 0.0]
        for total, n in zip(sums, counts, strict=True)
    ]
    graph = []
    for i1, i2, i3 in faces:
        for a, b in ((i1, i2), (i1, i3), (i3, i2)):
            dot = sum(normals[a][c] * normals[b][c] for c in range(3))
            along = sum(normals[b][c] * (xyz[b][c] - xyz[a][c]) for c in range(3))
            weight = 1.0 - dot
            graph.append((a, b, weight * weight if along > 0 else weight))
    return graph


def voxel_neighbors_naive(coords: list[tuple[int, int, int]], radius: int = 1) -> set:
    """Every unordered pair {i, j} of voxels within Chebyshev distance `radius`."""
    return {
        frozenset((i, j))
        for i, j in itertools.combinations(range(len(coords)), 2)
        if max(abs(coords[i][c] - coords[j][c]) for c in range(3)) <= radius
    }


def adjacency_naive(
    coords: list[tuple[int, int, int]], labels: list[int]
) -> list[tuple[int, int]]:
    """Sorted (i < j) label pairs with a pair of 26-neighbour voxels between them."""
    pairs = set()
    for pair in voxel_neighbors_naive(coords):
        i, j = sorted(pair)
        if labels[i] != labels[j]:
            pairs.add((min(labels[i], labels[j]), max(labels[i], labels[j])))
    return sorted(pairs)


def partition(labels) -> list[int]:
    """Labels renumbered by first appearance, so two partitions compare with ==."""
    first: dict[int, int] = {}
    return [first.setdefault(int(label), len(first)) for label in labels]
