"""Mesh side of the TSDF scanner (`tsdf_scan`): from the marching-cubes mesh of the fused
volume to a ScanNet `_vh_clean_2`-like mesh: fragments removed, decimated, canonical vertex
order (vertex normals: occuseg_core.geometry). Frames: room frame, metres, z up.
"""

from __future__ import annotations

import numpy as np
import open3d as o3d
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from occuseg_core.data.synthetic.config import SynthConfig

MIN_FRAGMENT_M2 = 0.01
"""Connected pieces of the fused mesh with less surface are removed (ScanNet's cleaning)."""
PRE_CLUSTER = 2.25
"""Vertex clustering cell, in TSDF voxels, applied before the (slower) quadric decimation."""


def clean_mesh(
    raw: o3d.t.geometry.TriangleMesh, config: SynthConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decimates the marching-cubes mesh to about one vertex per `tsdf_mesh_spacing_m`^2 of
    surface (vertex clustering at PRE_CLUSTER voxels, then quadric edge collapse) and removes
    connected pieces smaller than MIN_FRAGMENT_M2. Vertices are put in a canonical order (by
    position) before and after, so the result does not depend on the volume's hash order.

    Returns:
        vertices (V, 3) float64 metres, triangles (T, 3) int64, colours (V, 3) float64 0..1.
    """
    empty = np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), np.zeros((0, 3))
    if "positions" not in raw.vertex or raw.vertex.positions.shape[0] == 0:
        return empty
    arrays = _canonical(raw.vertex.positions.numpy().astype(np.float64),
                        raw.triangle.indices.numpy().astype(np.int64),
                        raw.vertex.colors.numpy().astype(np.float64))  # fmt: skip
    mesh = _legacy_mesh(*arrays).simplify_vertex_clustering(
        PRE_CLUSTER * config.tsdf_voxel_m, o3d.geometry.SimplificationContraction.Average
    )
    mesh.remove_triangles_by_mask(_small_pieces(mesh))
    mesh.remove_unreferenced_vertices()
    if len(mesh.triangles) == 0:
        return empty
    target = int(2 * mesh.get_surface_area() / config.tsdf_mesh_spacing_m**2)
    if target < len(mesh.triangles):
        mesh = mesh.simplify_quadric_decimation(max(target, 4))
    mesh.remove_degenerate_triangles()
    mesh.remove_unreferenced_vertices()
    vertices, triangles, colors = _canonical(np.asarray(mesh.vertices),
                                             np.asarray(mesh.triangles).astype(np.int64),
                                             np.asarray(mesh.vertex_colors))  # fmt: skip
    return vertices, triangles, np.clip(colors, 0.0, 1.0)


def _legacy_mesh(
    vertices: np.ndarray, triangles: np.ndarray, colors: np.ndarray
) -> o3d.geometry.TriangleMesh:
    mesh = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(vertices),
        o3d.utility.Vector3iVector(triangles.astype(np.int32)),
    )
    mesh.vertex_colors = o3d.utility.Vector3dVector(colors)
    return mesh


def _small_pieces(mesh: o3d.geometry.TriangleMesh) -> np.ndarray:
    """(T,) bool: triangles of edge-connected pieces with less than MIN_FRAGMENT_M2 of area."""
    vertices, tris = np.asarray(mesh.vertices), np.asarray(mesh.triangles).astype(np.int64)
    if tris.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    n = vertices.shape[0]
    edges = coo_matrix(
        (
            np.ones(2 * tris.shape[0]),
            (np.r_[tris[:, 0], tris[:, 1]], np.r_[tris[:, 1], tris[:, 2]]),
        ),
        (n, n),
    )
    _, piece = connected_components(edges, directed=False)
    a, b, c = (vertices[tris[:, k]] for k in range(3))
    area = np.linalg.norm(np.cross(b - a, c - a), axis=1) / 2
    piece_area = np.bincount(piece[tris[:, 0]], weights=area)
    return piece_area[piece[tris[:, 0]]] < MIN_FRAGMENT_M2


def _canonical(
    vertices: np.ndarray, triangles: np.ndarray, colors: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same mesh with vertices sorted by position (x, then y, then z, in 20 um steps over
    [-1, 40] m: rooms are at most 20 m) and triangles sorted by vertex ids. Vertices in one step
    (duplicates of one marching-cubes vertex) keep their order."""
    cell = np.clip(np.round((vertices + 1.0) / 2e-5), 0, 2**21 - 1).astype(np.int64)
    order = np.argsort((cell[:, 0] << 42) | (cell[:, 1] << 21) | cell[:, 2], kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    triangles = rank[triangles]
    triangles = triangles[np.lexsort(triangles.T[::-1])]
    return vertices[order], triangles, colors[order]
