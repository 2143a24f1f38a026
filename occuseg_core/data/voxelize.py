"""Points <-> voxels: the 2 cm grid every later stage works on (paper sec. 3).

A voxel is the cell floor(xyz / voxel_size) of a point; its position mu_i (paper eq. 3) is the
cell centre. Colours are averaged, labels take the majority of the voxel's points, and
`VoxelGrid.to_points` carries any per-voxel prediction back to every input point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occuseg_core.types import Scene

DEFAULT_VOXEL_SIZE_M = 0.02
MAX_VOXEL_COORDINATE = (1 << 19) - 2
"""Largest voxel coordinate the network accepts (10 km at 2 cm; `occuseg_core.nn.density`)."""


@dataclass(frozen=True, eq=False)
class VoxelGrid:
    """A scene on a regular grid.

    Args:
        coords: (V, 3) int32 integer cell indices floor(xyz / voxel_size_m), scene frame.
        point_to_voxel: (N,) int64 voxel index of each input point.
        num_points: (V,) int64 number of input points in each voxel (>= 1).
        colors: (V, 3) float32 mean colour, 0..1.
        normals: optional (V, 3) float32 mean normal (renormalised; zero where they cancel).
        semantic: optional (V,) int64 majority dataset class id of the voxel's points.
        instance: optional (V,) int64 majority instance id of the voxel's points.
        voxel_size_m: edge length of a voxel in metres.
    """

    coords: np.ndarray
    point_to_voxel: np.ndarray
    num_points: np.ndarray
    colors: np.ndarray
    normals: np.ndarray | None
    semantic: np.ndarray | None
    instance: np.ndarray | None
    voxel_size_m: float

    @property
    def num_voxels(self) -> int:
        return int(self.coords.shape[0])

    @property
    def positions_m(self) -> np.ndarray:
        """(V, 3) float32 voxel centres mu_i in metres."""
        return ((self.coords.astype(np.float64) + 0.5) * self.voxel_size_m).astype(np.float32)

    def to_points(self, voxel_values: np.ndarray) -> np.ndarray:
        """Carries per-voxel values back to every input point.

        Args:
            voxel_values: (V, ...) array indexed by voxel.

        Returns:
            (N, ...) array: the value of each point's voxel.
        """
        voxel_values = np.asarray(voxel_values)
        if voxel_values.shape[0] != self.num_voxels:
            raise ValueError(
                f"expected {self.num_voxels} voxel values; got {voxel_values.shape[0]}"
            )
        return voxel_values[self.point_to_voxel]


def voxel_cells(xyz_m: np.ndarray, voxel_size_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Groups points into grid cells.

    Args:
        xyz_m: (N, 3) positions in metres.
        voxel_size_m: cell edge in metres, > 0.

    Returns:
        coords (V, 3) int32 occupied cells in lexicographic order, and (N,) int64 cell of
        each point.
    """
    if not voxel_size_m > 0:
        raise ValueError(f"voxel_size_m must be > 0; got {voxel_size_m}")
    cells = np.floor(np.asarray(xyz_m, dtype=np.float64) / voxel_size_m).astype(np.int64)
    lo = cells.min(axis=0)
    span = cells.max(axis=0) - lo + 1
    if np.prod(span.astype(np.float64)) >= 2.0**62:
        raise ValueError(f"scene extent too large for voxel size {voxel_size_m} m: {span} cells")
    shifted = cells - lo
    key = (shifted[:, 0] * span[1] + shifted[:, 1]) * span[2] + shifted[:, 2]
    unique_key, point_to_voxel = np.unique(key, return_inverse=True)
    coords = (
        np.stack(
            [
                unique_key // (span[1] * span[2]),
                (unique_key // span[2]) % span[1],
                unique_key % span[2],
            ],
            axis=1,
        )
        + lo
    )
    if np.abs(coords).max() >= 2**31:
        raise ValueError("voxel coordinates overflow int32; scene coordinates are absurdly large")
    return coords.astype(np.int32), point_to_voxel.reshape(-1).astype(np.int64)


def majority_label(point_to_voxel: np.ndarray, labels: np.ndarray, num_voxels: int) -> np.ndarray:
    """The most frequent label of each voxel's points; ties go to the smallest label.

    Args:
        point_to_voxel: (N,) int64 voxel of each point.
        labels: (N,) non-negative integer labels.
        num_voxels: V.

    Returns:
        (V,) int64 majority label per voxel.
    """
    labels = np.asarray(labels, dtype=np.int64)
    width = int(labels.max(initial=0)) + 1
    key = point_to_voxel * width + labels
    unique_key, counts = np.unique(key, return_counts=True)
    voxel, label = unique_key // width, unique_key % width
    # Sort by voxel, then count descending, then label ascending: the first row per voxel wins.
    order = np.lexsort((label, -counts, voxel))
    voxel, label = voxel[order], label[order]
    first = np.ones(len(voxel), dtype=bool)
    first[1:] = voxel[1:] != voxel[:-1]
    out = np.zeros(num_voxels, dtype=np.int64)
    out[voxel[first]] = label[first]
    return out


def voxelize(scene: Scene, voxel_size_m: float = DEFAULT_VOXEL_SIZE_M) -> VoxelGrid:
    """Voxelizes a scene: mean colour and normal, majority labels per voxel.

    Args:
        scene: the input scene.
        voxel_size_m: voxel edge in metres (paper: 0.02).

    Returns:
        The `VoxelGrid`; `grid.to_points` maps voxel values back to the scene's points.
    """
    coords, point_to_voxel = voxel_cells(scene.xyz, voxel_size_m)
    num_voxels = coords.shape[0]
    num_points = np.bincount(point_to_voxel, minlength=num_voxels)

    def mean(values: np.ndarray) -> np.ndarray:
        sums = np.zeros((num_voxels, values.shape[1]), dtype=np.float64)
        _scatter_add(sums, point_to_voxel, values)
        return (sums / num_points[:, None]).astype(np.float32)

    normals = None
    if scene.normals is not None:
        normals = mean(scene.normals)
        length = np.linalg.norm(normals, axis=1, keepdims=True)
        normals = np.where(length > 1e-6, normals / np.maximum(length, 1e-12), 0.0)
        normals = normals.astype(np.float32)
    semantic = instance = None
    if scene.semantic is not None:
        semantic = majority_label(point_to_voxel, scene.semantic, num_voxels)
    if scene.instance is not None:
        instance = majority_label(point_to_voxel, scene.instance, num_voxels)
    return VoxelGrid(
        coords=coords, point_to_voxel=point_to_voxel, num_points=num_points,
        colors=mean(scene.colors), normals=normals, semantic=semantic, instance=instance,
        voxel_size_m=float(voxel_size_m),
    )  # fmt: skip


def _scatter_add(out: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
    """out[index[i]] += values[i] column by column with bincount (much faster than np.add.at)."""
    for column in range(values.shape[1]):
        out[:, column] += np.bincount(index, weights=values[:, column], minlength=out.shape[0])
