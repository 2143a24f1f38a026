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
    xyz = xyz.astype(np.float64)
    corners = xyz[faces]
    u, v = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    cross = np.stack(
        [
            u[:, 1] * v[:, 2] - u[:, 2] * v[:, 1],
            u[:, 2] * v[:, 0] - u[:, 0] * v[:, 2],
            u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0],
        ],
        axis=1,
    )
    length = np.sqrt(cross[:, 0] * cross[:, 0] + cross[:, 1] * cross[:, 1] + cross[:, 2] ** 2)
    keep = length != 0.0
    unit = cross[keep] / length[keep, None]
    corner_ids = faces[keep].ravel()  # i1, i2, i3 of each kept triangle, in triangle order
    per_corner = np.repeat(unit, 3, axis=0)
    n = xyz.shape[0]
    total = np.stack([np.bincount(corner_ids, per_corner[:, c], minlength=n) for c in range(3)], 1)
    count = np.bincount(corner_ids, minlength=n)
    out = np.zeros((n, 3), dtype=np.float64)  # (bincount of nothing is int64: not `zeros_like`)
    return np.divide(total, count[:, None], out=out, where=count[:, None] > 0)


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
    xyz = np.asarray(xyz, dtype=np.float64)
    normals = np.asarray(normals, dtype=np.float64)
    n_a, n_b = normals[edges[:, 0]], normals[edges[:, 1]]
    # Summed term by term in this order, like ScanNet's loop, so results are bit-identical.
    dot = n_a[:, 0] * n_b[:, 0] + n_a[:, 1] * n_b[:, 1] + n_a[:, 2] * n_b[:, 2]
    step = xyz[edges[:, 1]] - xyz[edges[:, 0]]
    along = n_b[:, 0] * step[:, 0] + n_b[:, 1] * step[:, 1] + n_b[:, 2] * step[:, 2]
    weight = 1.0 - dot
    return np.where(along > 0.0, weight * weight, weight).astype(np.float32)


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
