"""A persistent sparse voxel map with bounded memory, for segmenting what a robot has seen.

Clouds (or the voxel centres a reconstruction system publishes) are integrated into cells of
`voxel_size_m`; each cell keeps its mean colour, hit count and the update in which it was last
seen. Memory is bounded twice: cells farther (in x, y) than `extent_m` from the newest cloud's
centre are forgotten, then the longest-unseen cells go until at most `max_voxels` remain.
Cells are identified by one int64 key (21 bits per axis), which `tracking` also uses.
"""

from __future__ import annotations

import numpy as np

AXIS_BITS = 21
AXIS_OFFSET = 1 << (AXIS_BITS - 1)  # cell indices in [-2^20, 2^20): +-21 km at 2 cm


def cell_keys(cells: np.ndarray) -> np.ndarray:
    """(N, 3) int cell indices -> (N,) int64 keys (the order sorts by x, then y, then z)."""
    shifted = cells.astype(np.int64) + AXIS_OFFSET
    return (shifted[:, 0] << (2 * AXIS_BITS)) | (shifted[:, 1] << AXIS_BITS) | shifted[:, 2]


def key_cells(keys: np.ndarray) -> np.ndarray:
    """Inverse of `cell_keys`: (N,) int64 -> (N, 3) int64 cell indices."""
    mask = (1 << AXIS_BITS) - 1
    cells = np.stack([keys >> (2 * AXIS_BITS), (keys >> AXIS_BITS) & mask, keys & mask], axis=1)
    return cells - AXIS_OFFSET


class VoxelMap:
    """Sparse voxel map.

    Args:
        voxel_size_m: cell edge in metres (> 0).
        max_voxels: most cells kept (>= 1).
        extent_m: cells farther than this in x, y from the newest cloud's centre are dropped.
    """

    def __init__(self, voxel_size_m: float, max_voxels: int, extent_m: float) -> None:
        if not voxel_size_m > 0 or max_voxels < 1 or not extent_m > 0:
            raise ValueError(
                f"need voxel_size_m > 0, max_voxels >= 1, extent_m > 0; got {voxel_size_m},"
                f" {max_voxels}, {extent_m}"
            )
        self.voxel_size_m = float(voxel_size_m)
        self.max_voxels = int(max_voxels)
        self.extent_m = float(extent_m)
        self.updates = 0
        self.reset()

    def reset(self) -> None:
        """Forgets every cell."""
        self.keys = np.empty(0, dtype=np.int64)  # sorted
        self._color_sum = np.empty((0, 3), dtype=np.float64)
        self.hits = np.empty(0, dtype=np.int64)
        self.last_seen = np.empty(0, dtype=np.int64)

    @property
    def num_voxels(self) -> int:
        return int(self.keys.size)

    def centers_m(self) -> np.ndarray:
        """(V, 3) float32 cell centres, in key order."""
        return ((key_cells(self.keys) + 0.5) * self.voxel_size_m).astype(np.float32)

    def colors(self) -> np.ndarray:
        """(V, 3) float32 mean colour 0..1 of each cell."""
        return (self._color_sum / self.hits[:, None]).astype(np.float32)

    def integrate(self, xyz_m: np.ndarray, colors: np.ndarray) -> int:
        """Adds points (finite, map frame) and applies the memory bounds.

        Args:
            xyz_m: (N, 3) positions in metres.
            colors: (N, 3) float colours 0..1.

        Returns:
            Number of cells forgotten by the bounds in this update.
        """
        self.updates += 1
        xyz_m = np.asarray(xyz_m, dtype=np.float64)
        if xyz_m.shape[0] == 0:
            return 0
        cells = np.floor(xyz_m / self.voxel_size_m)
        inside = (np.abs(cells) < AXIS_OFFSET - 1).all(axis=1)  # also drops NaN
        if not inside.any():
            return 0
        new_keys, inverse = np.unique(cell_keys(cells[inside]), return_inverse=True)
        sums = np.stack([np.bincount(inverse, np.asarray(colors)[inside][:, c], new_keys.size)
                         for c in range(3)], axis=1)  # fmt: skip
        counts = np.bincount(inverse, minlength=new_keys.size)
        self._merge(new_keys, sums, counts)
        return self._bound(center_xy=xyz_m[inside, :2].mean(axis=0))

    def _merge(self, new_keys: np.ndarray, sums: np.ndarray, counts: np.ndarray) -> None:
        pos = np.searchsorted(self.keys, new_keys)
        found = pos < self.keys.size
        found[found] = self.keys[pos[found]] == new_keys[found]
        hit = pos[found]
        self._color_sum[hit] += sums[found]
        self.hits[hit] += counts[found]
        self.last_seen[hit] = self.updates
        fresh = ~found
        if fresh.any():
            keys = np.concatenate([self.keys, new_keys[fresh]])
            order = np.argsort(keys, kind="stable")
            self.keys = keys[order]
            self._color_sum = np.concatenate([self._color_sum, sums[fresh]])[order]
            self.hits = np.concatenate([self.hits, counts[fresh]])[order]
            self.last_seen = np.concatenate(
                [self.last_seen, np.full(int(fresh.sum()), self.updates)]
            )[order]

    def _bound(self, center_xy: np.ndarray) -> int:
        before = self.num_voxels
        offset_xy = self.centers_m()[:, :2] - center_xy
        keep = (offset_xy**2).sum(axis=1) <= self.extent_m**2
        if keep.sum() > self.max_voxels:
            # among the kept cells, the most recently seen win (ties: more hits)
            candidates = np.flatnonzero(keep)
            rank = np.lexsort((-self.hits[candidates], -self.last_seen[candidates]))
            keep[:] = False
            keep[candidates[rank[: self.max_voxels]]] = True
        self.keys, self._color_sum = self.keys[keep], self._color_sum[keep]
        self.hits, self.last_seen = self.hits[keep], self.last_seen[keep]
        return before - self.num_voxels
