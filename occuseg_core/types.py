"""Core data types shared by every stage: `Scene` (a coloured point cloud or mesh with labels).

All validation of user data happens here, at the boundary, with `ValueError`s that name the
problem; the stages downstream trust a `Scene`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


def _as_colors(colors: np.ndarray, n: int) -> np.ndarray:
    colors = np.asarray(colors)
    if colors.shape != (n, 3):
        raise ValueError(f"colors must be (N, 3) = ({n}, 3); got {colors.shape}")
    if colors.dtype == np.uint8:
        return colors.astype(np.float32) / 255.0
    if not np.issubdtype(colors.dtype, np.floating):
        raise ValueError(f"colors must be uint8 0..255 or float 0..1; got dtype {colors.dtype}")
    colors = colors.astype(np.float32, copy=False)
    if n and not np.all(np.isfinite(colors)):
        raise ValueError("colors contain NaN or inf")
    if n and (colors.min() < 0.0 or colors.max() > 1.0):
        raise ValueError(
            f"float colors must lie in [0, 1]; got [{colors.min():.3g}, {colors.max():.3g}]"
            " (divide 0..255 colours by 255 or pass them as uint8)"
        )
    return colors


def _as_labels(labels: np.ndarray | None, n: int, what: str) -> np.ndarray | None:
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"{what} labels must be (N,) = ({n},); got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{what} labels must be integers; got dtype {labels.dtype}")
    if n and labels.min() < 0:
        raise ValueError(f"{what} labels must be >= 0 (0 = unannotated); got {labels.min()}")
    return labels.astype(np.int64, copy=False)


@dataclass(frozen=True, eq=False)
class Scene:
    """A coloured 3D scene: points (or mesh vertices) with optional normals, faces and labels.

    Args:
        xyz: (N, 3) positions in metres, any frame (z up for indoor scans); stored float32.
        colors: (N, 3) RGB, uint8 0..255 or float 0..1; stored float32 0..1.
        normals: optional (N, 3) unit normals.
        semantic: optional (N,) dataset class ids (NYU40 for ScanNet and synthetic scenes),
            0 = unannotated.
        instance: optional (N,) instance ids, 0 = no instance.
        faces: optional (M, 3) vertex indices when the scene is a mesh.
        name: scene name, used for output files.

    Raises:
        ValueError: empty scene, NaN/inf coordinates, mismatched lengths, colours out of range,
            negative labels, face indices out of range.
    """

    xyz: np.ndarray
    colors: np.ndarray
    normals: np.ndarray | None = None
    semantic: np.ndarray | None = None
    instance: np.ndarray | None = None
    faces: np.ndarray | None = None
    name: str = field(default="scene")

    def __post_init__(self) -> None:
        xyz = np.asarray(self.xyz)
        if xyz.ndim != 2 or xyz.shape[1] != 3:
            raise ValueError(f"xyz must be (N, 3); got shape {xyz.shape}")
        n = xyz.shape[0]
        if n == 0:
            raise ValueError("scene is empty: xyz has 0 points")
        if not np.issubdtype(xyz.dtype, np.number):
            raise ValueError(f"xyz must be numeric; got dtype {xyz.dtype}")
        xyz = xyz.astype(np.float32, copy=False)
        finite = np.isfinite(xyz).all(axis=1)
        if not finite.all():
            raise ValueError(
                f"xyz contains NaN or inf in {int((~finite).sum())} of {n} points"
                " (drop them first, e.g. with Scene.drop_invalid)"
            )
        object.__setattr__(self, "xyz", np.ascontiguousarray(xyz))
        object.__setattr__(self, "colors", np.ascontiguousarray(_as_colors(self.colors, n)))
        if self.normals is not None:
            normals = np.asarray(self.normals, dtype=np.float32)
            if normals.shape != (n, 3):
                raise ValueError(f"normals must be (N, 3) = ({n}, 3); got {normals.shape}")
            object.__setattr__(self, "normals", np.ascontiguousarray(normals))
        object.__setattr__(self, "semantic", _as_labels(self.semantic, n, "semantic"))
        object.__setattr__(self, "instance", _as_labels(self.instance, n, "instance"))
        if self.faces is not None:
            faces = np.asarray(self.faces)
            if (
                faces.ndim != 2
                or faces.shape[1] != 3
                or not np.issubdtype(faces.dtype, np.integer)
            ):
                raise ValueError(f"faces must be (M, 3) integers; got {faces.shape} {faces.dtype}")
            if faces.size and (faces.min() < 0 or faces.max() >= n):
                raise ValueError(
                    f"face indices must be in [0, {n}); got [{faces.min()}, {faces.max()}]"
                )
            object.__setattr__(self, "faces", np.ascontiguousarray(faces, dtype=np.int64))

    @property
    def num_points(self) -> int:
        return int(self.xyz.shape[0])

    @property
    def has_labels(self) -> bool:
        return self.semantic is not None and self.instance is not None

    def replace(self, **changes) -> Scene:
        """A copy with the given fields replaced (validated again)."""
        return replace(self, **changes)

    def subset(self, mask_or_index: np.ndarray) -> Scene:
        """The scene restricted to some points (faces are dropped).

        Args:
            mask_or_index: (N,) bool mask or integer indices of the points to keep.
        """
        take = np.asarray(mask_or_index)
        pick = lambda a: None if a is None else a[take]  # noqa: E731
        return Scene(
            xyz=self.xyz[take], colors=self.colors[take], normals=pick(self.normals),
            semantic=pick(self.semantic), instance=pick(self.instance), faces=None, name=self.name,
        )  # fmt: skip

    @staticmethod
    def drop_invalid(xyz: np.ndarray, colors: np.ndarray, **labels) -> tuple[np.ndarray, dict]:
        """Indices of the finite points and the arrays restricted to them (for raw sensor data).

        Args:
            xyz: (N, 3) positions, possibly with NaN/inf (holes of an organized cloud).
            colors: (N, 3) colours.
            **labels: other per-point arrays (normals, semantic, instance) to filter alike.

        Returns:
            (kept indices (K,) int64, dict of the filtered arrays incl. "xyz" and "colors").
        """
        xyz = np.asarray(xyz)
        keep = np.flatnonzero(np.isfinite(xyz).all(axis=1))
        out = {"xyz": xyz[keep], "colors": np.asarray(colors)[keep]}
        out.update({k: None if v is None else np.asarray(v)[keep] for k, v in labels.items()})
        return keep, out


def instance_extents(
    xyz: np.ndarray, point_instance: np.ndarray, num_instances: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Point count, point sum, box min and box max (float64) of each instance's points.

    Args:
        xyz: (N, 3) positions.
        point_instance: (N,) instance id of each point, 0..K-1, -1 = none; every id has points.
        num_instances: K.

    Returns:
        counts (K,), sums (K, 3), lo (K, 3), hi (K, 3).
    """
    order = np.argsort(point_instance, kind="stable")
    order = order[point_instance[order] >= 0]
    starts = np.searchsorted(point_instance[order], np.arange(num_instances))
    sorted_xyz = xyz[order].astype(np.float64)
    counts = np.diff(np.append(starts, order.size))
    return (counts, np.add.reduceat(sorted_xyz, starts), np.minimum.reduceat(sorted_xyz, starts),
            np.maximum.reduceat(sorted_xyz, starts))  # fmt: skip


@dataclass(frozen=True)
class InstanceRecord:
    """One segmented object.

    Args:
        id: instance id, the value of `SegmentationResult.instance_ids` on its points (>= 0).
        class_id: dataset class id (NYU40 for the ScanNet class table).
        class_name: human-readable class name.
        score: confidence in [0, 1], used to rank instances (AP).
        point_count: number of input points in the instance.
        voxel_count: number of voxels in the instance.
        predicted_occupancy: exp(mean o), the network's predicted voxel count of the instance.
        occupancy_ratio: voxel_count / predicted_occupancy (r of DESIGN.md; 1 = as predicted).
        centroid_m: (3,) mean of the instance's points.
        box_min_m: (3,) axis-aligned bounding box minimum corner.
        box_max_m: (3,) axis-aligned bounding box maximum corner.
    """

    id: int
    class_id: int
    class_name: str
    score: float
    point_count: int
    voxel_count: int
    predicted_occupancy: float
    occupancy_ratio: float
    centroid_m: tuple[float, float, float]
    box_min_m: tuple[float, float, float]
    box_max_m: tuple[float, float, float]

    @property
    def box_center_m(self) -> tuple[float, float, float]:
        return tuple((lo + hi) / 2 for lo, hi in zip(self.box_min_m, self.box_max_m, strict=True))

    @property
    def box_size_m(self) -> tuple[float, float, float]:
        return tuple(hi - lo for lo, hi in zip(self.box_min_m, self.box_max_m, strict=True))


@dataclass(frozen=True, eq=False)
class SegmentationResult:
    """What `Segmenter.segment(scene)` returns, per input point and per instance.

    Args:
        instance_ids: (N,) int64 instance id of each input point, -1 = no instance.
        semantic_ids: (N,) int64 dataset class id of each point (NYU40 for ScanNet), 0 = unknown.
        instances: the instances, `instances[k].id == k`.
        timings_s: seconds per stage: voxelize, network, supervoxels, clustering, total.
        class_names: name of every dataset class id that may appear (id -> name).
    """

    instance_ids: np.ndarray
    semantic_ids: np.ndarray
    instances: tuple[InstanceRecord, ...]
    timings_s: dict[str, float]
    class_names: dict[int, str]

    @property
    def num_points(self) -> int:
        return int(self.instance_ids.shape[0])

    def instance_class_ids(self) -> np.ndarray:
        """(K,) int64 dataset class id of each instance, in id order."""
        return np.array([inst.class_id for inst in self.instances], dtype=np.int64)

    def instance_scores(self) -> np.ndarray:
        """(K,) float64 score of each instance, in id order."""
        return np.array([inst.score for inst in self.instances], dtype=np.float64)

    def point_scores(self) -> np.ndarray:
        """(N,) float32 score of each point's instance, 0 where there is none."""
        scores = np.array([inst.score for inst in self.instances] + [0.0], dtype=np.float32)
        return scores[np.where(self.instance_ids >= 0, self.instance_ids, len(self.instances))]
