"""Geometry shared by the renderer, the synthetic TSDF scanner, training augmentation and the
alignment of scans to their walls (numpy only)."""

from __future__ import annotations

import numpy as np


def rotate_z(xyz: np.ndarray, angle_rad: float) -> np.ndarray:
    """Rotates (N, 3) points about the z axis through the origin."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return xyz @ rotation.T


def vertex_normals(xyz_m: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(N, 3) float64 area-weighted vertex normals of a triangle mesh (unit or zero rows).

    Args:
        xyz_m: (N, 3) vertices.
        faces: (M, 3) int vertex indices, counter-clockwise seen from the front.
    """
    xyz_m = np.asarray(xyz_m, dtype=np.float64)
    corners = xyz_m[faces]
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    corner_ids = np.asarray(faces, dtype=np.int64).ravel()
    per_corner = np.repeat(face_normals, 3, axis=0)
    normals = np.stack(
        [np.bincount(corner_ids, per_corner[:, k], minlength=len(xyz_m)) for k in range(3)], 1
    )
    lengths = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.divide(normals, lengths, out=np.zeros_like(normals), where=lengths > 0)
