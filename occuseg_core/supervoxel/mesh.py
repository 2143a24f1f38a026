"""Mesh supervoxels, compatible with ScanNet's mesh segmentator (the official `.segs.json`).

The graph is the mesh itself: every triangle (i1, i2, i3) contributes the three directed edges
(i1, i2), (i1, i3), (i3, i2), and an edge shared by two triangles is kept twice. A vertex normal
is the plain mean of the unit normals of its triangles (not renormalised). The weight of edge
(a, b) is 1 - n_a . n_b; when the step a -> b goes along b's normal (n_b . (p_b - p_a) > 0,
a convex bend) it is squared, so convex folds such as a chair's rounded back stay together
while concave creases such as floor-to-leg split. The graph is then segmented by
`felzenszwalb_segment` with kThresh and segMinVerts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from occuseg_core.supervoxel.graph import felzenszwalb_segment


@dataclass(frozen=True)
class MeshSupervoxelConfig:
    """Parameters of the mesh segmentator (ScanNet's command-line arguments).

    Args:
        k_thresh: Felzenszwalb scale k (ScanNet kThresh, unitless like the weights). A segment
            C accepts an edge of weight w <= Int(C) + k / |C|; raising k gives fewer, larger
            segments. ScanNet's segments use 0.01.
        min_verts: segments with fewer vertices are joined to a neighbour (ScanNet
            segMinVerts); raising it removes more small segments. 0 or 1 disables the pass.
    """

    k_thresh: float = 0.01
    min_verts: int = 20

    def __post_init__(self) -> None:
        if not (np.isfinite(self.k_thresh) and self.k_thresh >= 0):
            raise ValueError(f"k_thresh must be finite and >= 0; got {self.k_thresh}")
        if int(self.min_verts) != self.min_verts or self.min_verts < 0:
            raise ValueError(f"min_verts must be an integer >= 0; got {self.min_verts}")


def segment_mesh(
    xyz: np.ndarray, faces: np.ndarray, config: MeshSupervoxelConfig | None = None
) -> np.ndarray:
    """Over-segments a triangle mesh into supervoxels like ScanNet's segmentator.

    Args:
        xyz: (N, 3) vertex positions in metres (any frame; the result is frame invariant).
        faces: (M, 3) integer vertex indices of the triangles; M may be 0.
        config: k_thresh and min_verts; defaults to ScanNet's (0.01, 20).

    Returns:
        (N,) int64 ScanNet `segIndices`: for each vertex, the index of the vertex representing
        its segment. A vertex in no triangle is a segment of its own.

    Raises:
        ValueError: bad shapes or dtypes, non-finite positions, face indices out of range.
    """
    config = config or MeshSupervoxelConfig()
    xyz, faces = _validated_mesh(xyz, faces)
    normals = mesh_vertex_normals(xyz, faces)
    edges = mesh_edges(faces)
    weights = mesh_edge_weights(xyz, normals, edges)
    return felzenszwalb_segment(
        xyz.shape[0], edges, weights, config.k_thresh, int(config.min_verts)
    )


def mesh_vertex_normals(xyz: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Vertex normals as the mean of the unit normals of the triangles around each vertex.

    Args:
        xyz: (N, 3) float vertex positions.
        faces: (M, 3) integer triangles; the normal follows the right-hand rule of the order.

    Returns:
        (N, 3) float64 mean normals, length <= 1 (shorter where the triangles disagree); zero
        for a vertex in no triangle. Zero-area triangles are left out (ScanNet's would turn the
        vertex normal into NaN).
    """
    xyz, faces = _validated_mesh(xyz, faces)
    return _vertex_normals(xyz.astype(np.float64), faces)


def mesh_edges(faces: np.ndarray) -> np.ndarray:
    """The directed edges ScanNet's graph has: (i1, i2), (i1, i3), (i3, i2) per triangle.

    Args:
        faces: (M, 3) integer triangles.

    Returns:
        (3M, 2) int64 edges, triangle by triangle; an edge shared by two triangles appears
        twice (possibly in both directions, which weigh differently).
    """
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    return faces[:, [0, 1, 0, 2, 2, 1]].reshape(-1, 2)


def mesh_edge_weights(xyz: np.ndarray, normals: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """ScanNet's edge weight: normal difference, squared on convex bends.

    w(a, b) = 1 - n_a . n_b, replaced by its square when n_b . (p_b - p_a) > 0. Example: n_a =
    (0, 0, 1), n_b = (0.6, 0, 0.8) gives 1 - 0.8 = 0.2; if b lies at +x of a the bend is convex
    and w = 0.04. An edge of zero length counts as concave.

    Args:
        xyz: (N, 3) float vertex positions.
        normals: (N, 3) float vertex normals (as from `mesh_vertex_normals`).
        edges: (E, 2) integer directed edges (a, b).

    Returns:
        (E,) float32 weights in [0, 4].
    """
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    return _edge_weights(
        np.asarray(xyz, dtype=np.float64), np.asarray(normals, dtype=np.float64), edges
    )


def _validated_mesh(xyz: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xyz = np.asarray(xyz)
    faces = np.asarray(faces)
    if xyz.ndim != 2 or xyz.shape[1] != 3 or not np.issubdtype(xyz.dtype, np.number):
        raise ValueError(f"xyz must be (N, 3) numbers; got {xyz.shape} {xyz.dtype}")
    if xyz.size and not np.all(np.isfinite(xyz)):
        raise ValueError("xyz contains NaN or inf")
    if faces.size == 0:
        faces = faces.reshape(0, 3)
    if faces.ndim != 2 or faces.shape[1] != 3 or not np.issubdtype(faces.dtype, np.integer):
        raise ValueError(f"faces must be (M, 3) integers; got {faces.shape} {faces.dtype}")
    if faces.size and (faces.min() < 0 or faces.max() >= xyz.shape[0]):
        raise ValueError(f"face indices must be in [0, {xyz.shape[0]}); got "
                         f"[{faces.min()}, {faces.max()}]")  # fmt: skip
    return xyz, np.ascontiguousarray(faces, dtype=np.int64)


@numba.njit(cache=True, error_model="numpy")
def _vertex_normals(xyz, faces):
    """Sum of unit triangle normals per vertex divided by the vertex's triangle count."""
    total = np.zeros((xyz.shape[0], 3), dtype=np.float64)
    count = np.zeros(xyz.shape[0], dtype=np.int64)
    for f in range(faces.shape[0]):
        i1, i2, i3 = faces[f, 0], faces[f, 1], faces[f, 2]
        ux, uy, uz = xyz[i2, 0] - xyz[i1, 0], xyz[i2, 1] - xyz[i1, 1], xyz[i2, 2] - xyz[i1, 2]
        vx, vy, vz = xyz[i3, 0] - xyz[i1, 0], xyz[i3, 1] - xyz[i1, 1], xyz[i3, 2] - xyz[i1, 2]
        cx, cy, cz = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx
        length = np.sqrt(cx * cx + cy * cy + cz * cz)
        if length == 0.0:
            continue
        for i in (i1, i2, i3):
            total[i, 0] += cx / length
            total[i, 1] += cy / length
            total[i, 2] += cz / length
            count[i] += 1
    out = np.zeros((xyz.shape[0], 3), dtype=np.float64)
    for i in range(xyz.shape[0]):
        if count[i] > 0:
            for c in range(3):
                out[i, c] = total[i, c] / count[i]
    return out


@numba.njit(cache=True, error_model="numpy")
def _edge_weights(xyz, normals, edges):
    """1 - n_a . n_b per directed edge, squared where n_b . (p_b - p_a) > 0."""
    out = np.empty(edges.shape[0], dtype=np.float32)
    for e in range(edges.shape[0]):
        a, b = edges[e, 0], edges[e, 1]
        dot = normals[a, 0] * normals[b, 0] + normals[a, 1] * normals[b, 1]
        dot += normals[a, 2] * normals[b, 2]
        along = 0.0
        for c in range(3):
            along += normals[b, c] * (xyz[b, c] - xyz[a, c])
        weight = 1.0 - dot
        if along > 0.0:
            weight = weight * weight
        out[e] = weight
    return out
