"""Surface normals of occupied voxels by local PCA, for clouds that come without normals.

The neighbourhood of a voxel is gathered by `radius_vox` rounds of summing position moments
over the 26-neighbour edges: after r rounds each voxel holds the moments of the voxels within
Chebyshev distance r that are reachable through occupied voxels, weighted by the number of such
paths (a smooth, surface-following kernel instead of a hard cube, at the cost of one pass over
the edges per round). The normal is the eigenvector of the smallest eigenvalue of the weighted
covariance, solved in closed form, then flipped to face a viewpoint (`orient_normals`).
"""

from __future__ import annotations

import numba
import numpy as np

from occuseg_core.supervoxel.neighbors import validate_coords, voxel_neighbor_edges


def estimate_voxel_normals(
    coords: np.ndarray,
    *,
    radius_vox: int = 2,
    viewpoint_vox: tuple[float, float, float] | None = None,
    edges: np.ndarray | None = None,
) -> np.ndarray:
    """Unit normals of occupied voxels from PCA over their neighbourhoods.

    Args:
        coords: (V, 3) integer voxel indices.
        radius_vox: neighbourhood radius in voxels (>= 1); 2 at 2 cm voxels spans 10 cm.
        viewpoint_vox: point, in voxel index units (cell centre of (i, j, k) is at i + 0.5, ...),
            that every normal is flipped to face, e.g. the sensor origin; None uses the centre
            of the voxels' bounding box (inside a scanned room: walls face in, floor faces up).
        edges: optional precomputed `voxel_neighbor_edges(coords)`; with a neighbour radius
            of 2 each round reaches 2 cells, so the PCA radius doubles.

    Returns:
        (V, 3) float32 unit normals; (0, 0, +-1) for an isolated voxel (no neighbours).

    Raises:
        ValueError: bad coords, radius < 1, edges of the wrong shape or out of range.
    """
    coords = validate_coords(coords)
    if int(radius_vox) != radius_vox or radius_vox < 1:
        raise ValueError(f"radius_vox must be an integer >= 1; got {radius_vox}")
    num_voxels = coords.shape[0]
    if num_voxels == 0:
        return np.empty((0, 3), dtype=np.float32)
    edges = voxel_neighbor_edges(coords) if edges is None else np.asarray(edges, np.int64)
    if edges.ndim != 2 or edges.shape[1] != 2:
        raise ValueError(f"edges must be (E, 2); got {edges.shape}")
    if edges.size and (edges.min() < 0 or edges.max() >= num_voxels):
        raise ValueError(f"edge voxel indices must be in [0, {num_voxels})")
    local = coords - coords.min(axis=0)
    moments = _position_moments(local.astype(np.float64))
    for _ in range(int(radius_vox)):
        moments = _sum_over_neighbors(moments, np.ascontiguousarray(edges))
    normals = _smallest_eigenvectors(moments)
    if viewpoint_vox is None:
        view = (local.min(axis=0) + local.max(axis=0) + 1) / 2.0
    else:
        view = np.asarray(viewpoint_vox, dtype=np.float64).reshape(3) - coords.min(axis=0)
    return orient_normals(normals, view[None, :] - (local + 0.5)).astype(np.float32)


def orient_normals(normals: np.ndarray, towards: np.ndarray) -> np.ndarray:
    """Flips normals to point along `towards`; where they are perpendicular to it (a plane seen
    edge-on, e.g. a flat scan whose bounding-box centre lies in the plane) to +z, then +y, +x.

    Args:
        normals: (V, 3) float unit normals.
        towards: (V, 3) float direction each normal should face (viewpoint - position).

    Returns:
        (V, 3) normals, each equal to its input or its negation.
    """
    side = np.einsum("ij,ij->i", normals, towards)
    edge_on = np.abs(side) <= 1e-6 * np.linalg.norm(towards, axis=1)
    for axis in (2, 1, 0):
        side = np.where(edge_on, normals[:, axis], side)
        edge_on &= np.abs(normals[:, axis]) <= 1e-6
    return np.where(side[:, None] < 0, -normals, normals)


@numba.njit(cache=True)
def _position_moments(xyz):
    """(V, 10) moments [1, x, y, z, xx, xy, xz, yy, yz, zz] of each voxel alone."""
    out = np.empty((xyz.shape[0], 10), dtype=np.float64)
    for i in range(xyz.shape[0]):
        x, y, z = xyz[i, 0], xyz[i, 1], xyz[i, 2]
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = 1.0, x, y, z
        out[i, 4], out[i, 5], out[i, 6] = x * x, x * y, x * z
        out[i, 7], out[i, 8], out[i, 9] = y * y, y * z, z * z
    return out


@numba.njit(cache=True)
def _sum_over_neighbors(moments, edges):
    """Each voxel's moments plus those of its 26-neighbours (one round of the kernel)."""
    out = moments.copy()
    for e in range(edges.shape[0]):
        a, b = edges[e, 0], edges[e, 1]
        for c in range(moments.shape[1]):
            out[a, c] += moments[b, c]
            out[b, c] += moments[a, c]
    return out


@numba.njit(cache=True, error_model="numpy")
def _smallest_eigenvectors(moments):
    """Unit eigenvector of the smallest eigenvalue of each weighted covariance (closed form)."""
    out = np.empty((moments.shape[0], 3), dtype=np.float64)
    cov = np.empty((3, 3), dtype=np.float64)
    for i in range(moments.shape[0]):
        m = moments[i]
        mean = m[1:4] / m[0]
        cov[0, 0] = m[4] / m[0] - mean[0] * mean[0]
        cov[0, 1] = cov[1, 0] = m[5] / m[0] - mean[0] * mean[1]
        cov[0, 2] = cov[2, 0] = m[6] / m[0] - mean[0] * mean[2]
        cov[1, 1] = m[7] / m[0] - mean[1] * mean[1]
        cov[1, 2] = cov[2, 1] = m[8] / m[0] - mean[1] * mean[2]
        cov[2, 2] = m[9] / m[0] - mean[2] * mean[2]
        out[i] = _smallest_eigenvector(cov)
    return out


@numba.njit(cache=True, error_model="numpy")
def _smallest_eigenvector(cov):
    """Eigenvector of the smallest eigenvalue of a symmetric 3x3 matrix.

    The eigenvalue comes from the trigonometric solution of the characteristic cubic; the
    vector is the longest cross product of two rows of (cov - lambda I), which all lie in the
    plane orthogonal to it. A repeated smallest eigenvalue (a line of voxels) falls back to a
    vector orthogonal to the line; an isotropic or zero matrix gives (0, 0, 1).
    """
    result = np.array([0.0, 0.0, 1.0])
    q = (cov[0, 0] + cov[1, 1] + cov[2, 2]) / 3.0
    a, b, c = cov[0, 0] - q, cov[1, 1] - q, cov[2, 2] - q
    d, e, f = cov[0, 1], cov[0, 2], cov[1, 2]
    p = np.sqrt((a * a + b * b + c * c + 2.0 * (d * d + e * e + f * f)) / 6.0)
    if not p > 1e-12 * max(abs(q), 1e-300):
        return result
    # det((cov - qI) / p) / 2 = cos(3 phi) for the eigenvalues q + 2p cos(phi + 2 pi j / 3).
    det = a * (b * c - f * f) - d * (d * c - f * e) + e * (d * f - b * e)
    half_det = det / (2.0 * p * p * p)
    phi = np.arccos(min(1.0, max(-1.0, half_det))) / 3.0
    smallest = q + 2.0 * p * np.cos(phi + 2.0 * np.pi / 3.0)
    rows = cov.copy()
    for k in range(3):
        rows[k, k] -= smallest
    best = 0.0
    for r, s in ((0, 1), (0, 2), (1, 2)):
        x = rows[r, 1] * rows[s, 2] - rows[r, 2] * rows[s, 1]
        y = rows[r, 2] * rows[s, 0] - rows[r, 0] * rows[s, 2]
        z = rows[r, 0] * rows[s, 1] - rows[r, 1] * rows[s, 0]
        length = np.sqrt(x * x + y * y + z * z)
        if length > best:
            best = length
            result[0], result[1], result[2] = x / length, y / length, z / length
    if best > 1e-9 * p * p:
        return result
    # Repeated smallest eigenvalue: the largest row points along the line; take a perpendicular.
    line = rows[np.argmax(np.sum(rows * rows, axis=1))]
    helper = np.zeros(3)
    helper[np.argmin(np.abs(line))] = 1.0
    perpendicular = np.cross(line, helper)
    return perpendicular / np.sqrt(np.sum(perpendicular * perpendicular))
