"""Which occupied voxels touch: the 26-neighbourhood graph of a sparse voxel grid.

Both the point-cloud supervoxels (`pointcloud.py`) and the supervoxel adjacency
(`adjacency.py`) are built on this edge list. Voxels are found by a merge walk over sorted
linear keys (no hash table, no dense grid), so the cost is O(V log V) for the sort plus one
linear pass per direction (13 for the 26-neighbourhood). A larger radius links sparse clouds
whose occupied voxels do not touch, e.g. mesh vertices spaced wider than the voxel.
"""

from __future__ import annotations

import numba
import numpy as np


def half_offsets(radius_vox: int = 1) -> np.ndarray:
    """The grid steps to the neighbours with a larger linear key within Chebyshev radius r.

    Each unordered neighbour pair is found exactly once, from its voxel with the smaller key:
    the steps with dx > 0, or dx == 0 and dy > 0, or dx == dy == 0 and dz > 0.

    Args:
        radius_vox: r >= 1; 1 is the 26-neighbourhood (13 steps), 2 gives 62 steps.

    Returns:
        ((2r + 1)^3 - 1) / 2 steps as an int64 array of shape (S, 3).
    """
    if int(radius_vox) != radius_vox or radius_vox < 1:
        raise ValueError(f"radius_vox must be an integer >= 1; got {radius_vox}")
    r = range(-int(radius_vox), int(radius_vox) + 1)
    steps = [(dx, dy, dz) for dx in r for dy in r for dz in r if (dx, dy, dz) > (0, 0, 0)]
    return np.array(steps, dtype=np.int64)


def validate_coords(coords: np.ndarray) -> np.ndarray:
    """Checks the shape and dtype of voxel coordinates.

    Args:
        coords: (V, 3) integer voxel indices.

    Returns:
        The coordinates as a contiguous (V, 3) int64 array.

    Raises:
        ValueError: wrong shape or dtype.
    """
    coords = np.asarray(coords)
    if coords.size == 0:
        coords = coords.reshape(0, 3)
    if coords.ndim != 2 or coords.shape[1] != 3 or not np.issubdtype(coords.dtype, np.integer):
        raise ValueError(f"coords must be (V, 3) integers; got {coords.shape} {coords.dtype}")
    return np.ascontiguousarray(coords, dtype=np.int64)


def voxel_neighbor_edges(coords: np.ndarray, radius_vox: int = 1) -> np.ndarray:
    """All pairs of occupied voxels that share a face, an edge or a corner (radius 1).

    Example: voxels (0,0,0), (1,1,1), (3,0,0) give the single edge [0, 1] at radius 1: (3,0,0)
    is two cells from both; at radius 2 the edge (1, 2) joins it.

    Args:
        coords: (V, 3) integer voxel indices, each voxel once, any order.
        radius_vox: Chebyshev radius r >= 1 of the neighbourhood; 1 = 26-neighbourhood.

    Returns:
        (E, 2) int64 voxel index pairs, each unordered pair once (order within a pair and
        between pairs unspecified); (0, 2) for fewer than two voxels.

    Raises:
        ValueError: wrong shape or dtype, a voxel listed twice, an absurdly large extent.
    """
    coords = validate_coords(coords)
    if coords.shape[0] < 2:
        return np.empty((0, 2), dtype=np.int64)
    keys, offset_keys = _linear_keys(coords, half_offsets(radius_vox))
    if np.all(keys[1:] > keys[:-1]):  # already in lexicographic order, as `voxelize` makes them
        order, sorted_keys = np.arange(keys.shape[0]), keys
    else:
        order = np.argsort(keys)
        sorted_keys = keys[order]
        if np.any(sorted_keys[1:] == sorted_keys[:-1]):
            raise ValueError("coords contain the same voxel more than once")
    return _neighbor_pairs(sorted_keys, order, offset_keys)


def _linear_keys(coords: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(V,) int64 keys on a grid padded by r cells (so steps never wrap into the next row) and
    the (S,) key differences of the (S, 3) steps on that grid (all > 0)."""
    pad = int(np.abs(steps).max())
    lo = coords.min(axis=0) - pad
    span = coords.max(axis=0) - lo + 1 + pad
    if np.prod(span.astype(np.float64)) >= 2.0**62:
        raise ValueError(f"voxel grid extent too large: {span.tolist()} cells")
    shifted = coords - lo
    keys = (shifted[:, 0] * span[1] + shifted[:, 1]) * span[2] + shifted[:, 2]
    offset_keys = (steps[:, 0] * span[1] + steps[:, 1]) * span[2] + steps[:, 2]
    return keys, offset_keys


@numba.njit(cache=True)
def _neighbor_pairs(sorted_keys, order, offset_keys):
    """For each offset, walks the sorted keys and their shifted copy together (merge join)."""
    n = sorted_keys.shape[0]
    found = np.empty((offset_keys.shape[0] * n, 2), dtype=np.int64)
    count = 0
    for offset in offset_keys:
        j = 0
        for i in range(n):
            target = sorted_keys[i] + offset
            while j < n and sorted_keys[j] < target:
                j += 1
            if j == n:
                break
            if sorted_keys[j] == target:
                found[count, 0] = order[i]
                found[count, 1] = order[j]
                count += 1
    return found[:count].copy()
