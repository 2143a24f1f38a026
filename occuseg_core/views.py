"""Test-time views: the network run on the scan turned by 90 degrees about z (and mirrored),
its outputs turned back and averaged (not in the paper; measured in docs/RESULTS.md).

The views turn the voxel grid, not the points: cell (i, j) becomes (-j - 1, i) for a quarter
turn and (-i - 1, j) for a mirror of x, which is where the turned voxel centre falls (and where
every turned point falls, except points exactly on a cell boundary), so every view holds the
same voxels in the same order and the outputs average row by row. Class
probabilities, feature embeddings, sigma and occupancy do not depend on direction; the spatial
embedding is an offset vector and is turned back before averaging. The network's inputs
(colour, height above the floor) do not change under these views.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

VIEW_COUNTS = (1, 2, 4, 8)


def view_coords(coords: np.ndarray, view: int) -> np.ndarray:
    """(V, 3) int32 cells of view `view` (0..7): `view % 4` quarter turns about z, after a
    mirror of x for views 4..7. View 0 is the scan itself."""
    c = np.asarray(coords, dtype=np.int64).copy()
    if view >= 4:
        c[:, 0] = -c[:, 0] - 1
    for _ in range(view % 4):
        c = np.stack([-c[:, 1] - 1, c[:, 0], c[:, 2]], axis=1)
    return c.astype(np.int32)


def unview_vectors(vectors: np.ndarray, view: int) -> np.ndarray:
    """(V, 3) vectors predicted in view `view`, turned back into the scan's frame."""
    v = np.asarray(vectors, dtype=np.float32).copy()
    for _ in range(view % 4):
        v = np.stack([v[:, 1], -v[:, 0], v[:, 2]], axis=1)
    if view >= 4:
        v[:, 0] = -v[:, 0]
    return v


def views_in_order(count: int) -> Sequence[int]:
    """The views `count` test-time views use: 1 the scan; 2 a half turn too; 4 the quarter
    turns; 8 the quarter turns and their mirrors."""
    if count not in VIEW_COUNTS:
        raise ValueError(f"test-time views must be one of {VIEW_COUNTS}; got {count}")
    return {1: (0,), 2: (0, 2), 4: (0, 1, 2, 3), 8: tuple(range(8))}[count]
