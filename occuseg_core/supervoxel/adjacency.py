"""Which supervoxels touch: the edges of the supervoxel graph that the clustering merges over.

Two supervoxels are adjacent when one of their voxels is a 26-neighbour of one of the other's
(point-cloud mode) or when a triangle edge joins their vertices (mesh mode).
"""

from __future__ import annotations

import numpy as np

from occuseg_core.supervoxel.neighbors import validate_coords, voxel_neighbor_edges


def supervoxel_adjacency(
    coords: np.ndarray, supervoxel: np.ndarray, radius_vox: int = 1
) -> np.ndarray:
    """Pairs of supervoxels with at least one pair of neighbouring voxels between them.

    Example: voxels (0,0,0), (1,0,0), (5,0,0) in supervoxels 0, 1, 2 give [[0, 1]]: voxel
    (5,0,0) touches nothing.

    Args:
        coords: (V, 3) integer voxel indices, each voxel once.
        supervoxel: (V,) integer supervoxel id of each voxel (any ids, e.g. 0..K-1).
        radius_vox: voxels within this Chebyshev distance are neighbours (1 = the
            26-neighbourhood); use the radius the supervoxels were built with.

    Returns:
        (E, 2) int64 unique pairs (i, j) of supervoxel ids with i < j, sorted
        lexicographically; (0, 2) when nothing touches.

    Raises:
        ValueError: bad shapes or dtypes, a voxel listed twice.
    """
    coords = validate_coords(coords)
    supervoxel = _validated_labels(supervoxel, coords.shape[0], "supervoxel")
    edges = voxel_neighbor_edges(coords, radius_vox)
    return _unique_label_pairs(supervoxel[edges[:, 0]], supervoxel[edges[:, 1]])


def mesh_supervoxel_adjacency(faces: np.ndarray, supervoxel: np.ndarray) -> np.ndarray:
    """Pairs of mesh segments joined by at least one triangle edge.

    Args:
        faces: (M, 3) integer triangles indexing `supervoxel`.
        supervoxel: (N,) integer segment id of each vertex (e.g. ScanNet `segIndices`).

    Returns:
        (E, 2) int64 unique pairs (i, j) of segment ids with i < j, sorted lexicographically;
        (0, 2) when no triangle spans two segments.

    Raises:
        ValueError: bad shapes or dtypes, face indices out of range.
    """
    faces = np.asarray(faces)
    if faces.size == 0:
        faces = faces.reshape(0, 3)
    if faces.ndim != 2 or faces.shape[1] != 3 or not np.issubdtype(faces.dtype, np.integer):
        raise ValueError(f"faces must be (M, 3) integers; got {faces.shape} {faces.dtype}")
    supervoxel = _validated_labels(supervoxel, None, "supervoxel")
    if faces.size and (faces.min() < 0 or faces.max() >= supervoxel.shape[0]):
        raise ValueError(f"face indices must be in [0, {supervoxel.shape[0]})")
    labels = supervoxel[faces]
    first = labels[:, [0, 1, 2]].reshape(-1)
    second = labels[:, [1, 2, 0]].reshape(-1)
    return _unique_label_pairs(first, second)


def _validated_labels(labels: np.ndarray, n: int | None, what: str) -> np.ndarray:
    """(N,) int64 labels; `n` None accepts any length."""
    labels = np.asarray(labels)
    wrong_shape = labels.ndim != 1 or (n is not None and labels.shape[0] != n)
    if wrong_shape or (labels.size and not np.issubdtype(labels.dtype, np.integer)):
        raise ValueError(f"{what} must be (N,) integers with N = {n}; got {labels.shape} "
                         f"{labels.dtype}")  # fmt: skip
    return labels.astype(np.int64, copy=False)


def _unique_label_pairs(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Unique (min, max) pairs of differing labels, sorted; ids are compacted for the key."""
    differ = first != second
    low = np.minimum(first[differ], second[differ])
    high = np.maximum(first[differ], second[differ])
    if low.size == 0:
        return np.empty((0, 2), dtype=np.int64)
    ids, compact = np.unique(np.concatenate([low, high]), return_inverse=True)
    compact = compact.reshape(-1)
    width = ids.shape[0]
    keys = np.unique(compact[: low.size] * width + compact[low.size :])
    return np.stack([ids[keys // width], ids[keys % width]], axis=1).astype(np.int64)
