"""The compiled supervoxel code against its slow plain-Python twins (`felzenszwalb_naive.py`)
on small random graphs, meshes and voxel sets; partitions are compared up to relabelling.

Random weights are continuous, so no two distinct edges tie and the sort order is the same in
both implementations (a mesh edge shared by two triangles appears twice with equal weight,
which cannot change the result: the second copy finds both ends already joined or faces the
same test).
"""

from __future__ import annotations

import numpy as np
import pytest
from felzenszwalb_naive import (
    adjacency_naive,
    felzenszwalb_naive,
    mesh_graph_naive,
    partition,
    voxel_neighbors_naive,
)

from occuseg_core.supervoxel import (
    MeshSupervoxelConfig,
    PointCloudSupervoxelConfig,
    felzenszwalb_segment,
    mesh_edge_weights,
    mesh_edges,
    mesh_supervoxel_adjacency,
    mesh_vertex_normals,
    segment_mesh,
    segment_voxels,
    supervoxel_adjacency,
    voxel_neighbor_edges,
)


def height_field_mesh(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A wavy nx-by-ny grid surface with noise, each cell split along a random diagonal."""
    rng = np.random.default_rng(seed)
    nx, ny = (int(v) for v in rng.integers(3, 9, 2))
    x, y = np.meshgrid(np.arange(nx) * 0.05, np.arange(ny) * 0.05, indexing="ij")
    z = 0.05 * np.sin(x * rng.uniform(5, 30)) + rng.normal(0, 0.004, x.shape)
    xyz = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    faces = []
    for i in range(nx - 1):
        for j in range(ny - 1):
            a, b, c, d = i * ny + j, (i + 1) * ny + j, (i + 1) * ny + j + 1, i * ny + j + 1
            faces += [(a, b, c), (a, c, d)] if rng.random() < 0.5 else [(a, b, d), (b, c, d)]
    return xyz, np.array(faces, dtype=np.int64)


def triangle_soup(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random triangles over random points (non-manifold, inconsistent orientation)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 30))
    xyz = rng.uniform(-1, 1, (n, 3))
    faces = np.array([rng.choice(n, 3, replace=False) for _ in range(int(rng.integers(1, 50)))])
    return xyz, faces


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("min_size", [0, 3, 8])
def test_felzenszwalb_matches_naive_on_random_graphs(seed, min_size):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    e = int(rng.integers(0, 3 * n + 1))
    edges = rng.integers(0, n, (e, 2))  # duplicates and self-loops included
    weights = rng.random(e).astype(np.float32)
    k = float(rng.uniform(0.05, 2.0))
    fast = felzenszwalb_segment(n, edges, weights, k, min_size)
    graph = [(int(a), int(b), float(w)) for (a, b), w in zip(edges, weights, strict=True)]
    slow = felzenszwalb_naive(n, graph, k, min_size)
    assert partition(fast) == partition(slow)
    # ScanNet's convention: the representative is a member of its own segment.
    assert np.array_equal(fast[fast], fast)


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("make_mesh", [height_field_mesh, triangle_soup])
def test_mesh_weights_match_naive(seed, make_mesh):
    xyz, faces = make_mesh(seed)
    graph = mesh_graph_naive(xyz.tolist(), faces.tolist())
    edges = mesh_edges(faces)
    assert edges.tolist() == [[a, b] for a, b, _ in graph]
    weights = mesh_edge_weights(xyz, mesh_vertex_normals(xyz, faces), edges)
    np.testing.assert_allclose(weights, [w for _, _, w in graph], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("make_mesh", [height_field_mesh, triangle_soup])
@pytest.mark.parametrize("k_thresh, min_verts", [(0.01, 0), (0.01, 5), (0.3, 0), (2.0, 4)])
def test_segment_mesh_matches_naive(seed, make_mesh, k_thresh, min_verts):
    xyz, faces = make_mesh(seed)
    fast = segment_mesh(xyz, faces, MeshSupervoxelConfig(k_thresh=k_thresh, min_verts=min_verts))
    slow = felzenszwalb_naive(len(xyz), mesh_graph_naive(xyz.tolist(), faces.tolist()),
                              k_thresh, min_verts)  # fmt: skip
    assert partition(fast) == partition(slow)


def test_random_mesh_cases_are_not_trivial():
    """Guards the comparison above against vacuous partitions (all one or all singletons)."""
    xyz, faces = height_field_mesh(1)
    counts = [
        len(set(felzenszwalb_naive(len(xyz), mesh_graph_naive(xyz.tolist(), faces.tolist()), k)))
        for k in (0.01, 0.3)
    ]
    assert all(1 < c < len(xyz) for c in counts), counts


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("radius", [1, 2])
def test_voxel_neighbors_match_brute_force(seed, radius):
    rng = np.random.default_rng(seed)
    cells = rng.choice(6 * 6 * 6, int(rng.integers(2, 80)), replace=False)
    coords = np.stack(np.unravel_index(cells, (6, 6, 6)), axis=1) - 3
    edges = voxel_neighbor_edges(coords.astype(np.int32), radius)
    found = [frozenset(map(int, pair)) for pair in edges]
    assert len(found) == len(set(found))  # each pair once
    assert set(found) == voxel_neighbors_naive(coords.tolist(), radius)


@pytest.mark.parametrize("seed", range(6))
def test_adjacency_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    cells = rng.choice(7 * 7 * 7, int(rng.integers(2, 120)), replace=False)
    coords = np.stack(np.unravel_index(cells, (7, 7, 7)), axis=1)
    labels = rng.integers(0, 8, len(coords)) * 3  # arbitrary, non-consecutive ids
    pairs = supervoxel_adjacency(coords.astype(np.int32), labels)
    assert pairs.dtype == np.int64 and pairs.shape[1] == 2
    assert [tuple(p) for p in pairs.tolist()] == adjacency_naive(coords.tolist(), labels.tolist())


@pytest.mark.parametrize("seed", range(6))
def test_mesh_adjacency_matches_brute_force(seed):
    xyz, faces = triangle_soup(seed)
    labels = np.random.default_rng(seed).integers(0, 5, len(xyz))
    expected = sorted(
        {(min(labels[a], labels[b]), max(labels[a], labels[b]))
         for face in faces.tolist() for a in face for b in face if labels[a] != labels[b]}
    )  # fmt: skip
    pairs = mesh_supervoxel_adjacency(faces, labels)
    assert [tuple(p) for p in pairs.tolist()] == expected


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("convexity", [True, False])
def test_segment_voxels_matches_naive(seed, convexity):
    """Point-cloud mode = naive F-H over brute-force neighbour pairs with the documented weight
    w = g + color_weight * |c_a - c_b|, g = 1 - n_a . n_b, squared if (n_b - n_a).(p_b - p_a)
    > 0 (convex) and the convexity rule is on."""
    rng = np.random.default_rng(seed)
    cells = rng.choice(5 * 5 * 5, int(rng.integers(2, 60)), replace=False)
    coords = np.stack(np.unravel_index(cells, (5, 5, 5)), axis=1)
    normals = rng.normal(size=(len(coords), 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    colors = rng.random((len(coords), 3)).astype(np.float32)
    config = PointCloudSupervoxelConfig(
        k_thresh=float(rng.uniform(0.1, 3.0)), min_size_vox=int(rng.integers(0, 6)),
        color_weight=0.7, convexity=convexity, neighbor_radius_vox=1,
    )  # fmt: skip
    normals32 = normals.astype(np.float32).astype(np.float64)
    graph = []
    for pair in voxel_neighbors_naive(coords.tolist()):
        a, b = sorted(pair)
        g = max(0.0, 1.0 - float(normals32[a] @ normals32[b]))
        if convexity and float((normals32[b] - normals32[a]) @ (coords[b] - coords[a])) > 0:
            g = g * g
        graph.append((a, b, g + 0.7 * float(np.linalg.norm(colors[a].astype(float) - colors[b]))))
    slow = felzenszwalb_naive(len(coords), graph, config.k_thresh, config.min_size_vox)
    fast = segment_voxels(coords, colors, normals32.astype(np.float32), config)
    assert partition(fast) == partition(slow)
    assert fast.tolist() == partition(fast)  # ids are 0..K-1 by first appearance
