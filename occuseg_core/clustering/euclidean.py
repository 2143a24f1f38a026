"""A geometric baseline without learning: plane removal + Euclidean clustering.

The recipe a ROS user reaches for before any learnt model: PCL's "plane model segmentation"
(`SACSegmentation`, RANSAC) followed by its "Euclidean cluster extraction"
(`EuclideanClusterExtraction`), as the ROS tabletop-perception pipelines used with MoveIt do:

1. RANSAC removes the biggest planes one after the other (floor, walls, ceiling, big table
   tops), here with open3d's `PointCloud.segment_plane`, until `max_planes` are gone or the
   next plane holds fewer than `min_plane_fraction` of the scan's points;
2. the remaining points are grouped by Euclidean distance, here with open3d's
   `PointCloud.cluster_dbscan` (with `dbscan_min_points` = 1 that is PCL's Euclidean cluster
   extraction, the connected components of the `dbscan_eps_m` neighbourhood graph; a larger
   value leaves sparse points out as noise);
3. every cluster of at least `min_cluster_points` points becomes one instance.

What it cannot do: it has no classes (every cluster is NYU40 class 39 "otherfurniture", so it
can only be scored class-agnostically: `occuseg eval --method euclidean`); it has no
confidence (every score is 1, see `SCORE`); it cannot separate objects that touch (a chair
pushed under a table, a row of cabinets) nor find objects that lie in a removed plane (doors,
windows, pictures, curtains); a removed floor also takes the bottom centimetres of everything
standing on it; and it depends on point density (`dbscan_eps_m` must exceed the point spacing,
yet stay below the gaps between objects). The occupancy fields of its `InstanceRecord`s have no
meaning: voxel_count and predicted_occupancy are the point count, occupancy_ratio is 1.

The defaults were tuned for class-agnostic AP@0.5 on the eleven training scans of
`shared/data/scannet_rooms` (votenet layout, 50,000 points per scan, about 0.6x the density of
the full ScanNet mesh), the scans a learnt model is fitted on, so that both are compared on the
validation scans neither was fitted to: AP / AP@0.5 / AP@0.25 3.7 / 9.0 / 28.8 on the training
scans, 18.3 / 28.2 / 43.1 on the validation scans (RANSAC's random planes make it
seed-dependent: AP@0.5 27.2 and 22.2 there with seeds 1 and 2). Tuned on the validation scans
themselves (eps 5 cm, 6 planes) it reaches 45.1 there but 3.1 on the training scans:
docs/RESULTS.md, "The geometric baseline".
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from occuseg_core.classes import NYU40_NAMES
from occuseg_core.errors import OccusegError
from occuseg_core.types import InstanceRecord, Scene, SegmentationResult, instance_extents

OBJECT_CLASS_ID = 39
"""NYU40 "otherfurniture": the benchmark's generic object class, given to every cluster."""

SCORE = 1.0
"""The score of every instance: the method has no confidence, so AP sees one precision/recall
point. Ranking by cluster size was measured worse on the validation rooms (with eps 5 cm and 6
planes: class-agnostic AP@0.5 36.4 biggest first, 38.2 smallest first, 45.1 constant): big
clusters are often several objects merged, small ones fragments."""


@dataclass(frozen=True)
class EuclideanConfig:
    """Settings of the plane removal + Euclidean clustering baseline.

    Args:
        plane_distance_m: RANSAC inlier distance to a plane, metres.
        ransac_n: points sampled per RANSAC hypothesis (>= 3).
        ransac_iterations: RANSAC hypotheses per plane.
        max_planes: at most this many planes are removed (0: none).
        min_plane_fraction: plane removal stops at the first plane with fewer inliers than this
            fraction of the scan's points, in [0, 1].
        dbscan_eps_m: DBSCAN neighbourhood radius, metres (the clustering distance).
        dbscan_min_points: DBSCAN core-point neighbour count (1 = plain Euclidean clustering).
        min_cluster_points: clusters with fewer points are dropped (their points get -1).
        seed: seed of open3d's global RNG (`open3d.utility.random.seed`), set again before
            every plane search so a scene's result does not depend on what ran before.

    Raises:
        ValueError: a setting out of range.
    """

    plane_distance_m: float = 0.02
    ransac_n: int = 3
    ransac_iterations: int = 1000
    max_planes: int = 4
    min_plane_fraction: float = 0.04
    dbscan_eps_m: float = 0.07
    dbscan_min_points: int = 5
    min_cluster_points: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        checks = {
            "plane_distance_m must be > 0": self.plane_distance_m > 0,
            "ransac_n must be >= 3": self.ransac_n >= 3,
            "ransac_iterations must be >= 1": self.ransac_iterations >= 1,
            "max_planes must be >= 0": self.max_planes >= 0,
            "min_plane_fraction must lie in [0, 1]": 0.0 <= self.min_plane_fraction <= 1.0,
            "dbscan_eps_m must be > 0": self.dbscan_eps_m > 0,
            "dbscan_min_points must be >= 1": self.dbscan_min_points >= 1,
            "min_cluster_points must be >= 1": self.min_cluster_points >= 1,
        }
        failed = [message for message, ok in checks.items() if not ok]
        if failed:
            raise ValueError(f"EuclideanConfig: {'; '.join(failed)}")


def require_open3d():
    """The open3d module, an optional dependency (this baseline and the TSDF scanner use it).

    Raises:
        OccusegError: open3d is not installed.
    """
    try:
        import open3d
    except ImportError as error:
        raise OccusegError(
            f"the euclidean baseline needs open3d ({error}); install it: pip install open3d-cpu"
        ) from None
    return open3d


def _point_cloud(xyz: np.ndarray):
    o3d = require_open3d()
    cloud = o3d.geometry.PointCloud()
    cloud.points = o3d.utility.Vector3dVector(np.asarray(xyz, dtype=np.float64))
    return cloud


def remove_planes(xyz: np.ndarray, config: EuclideanConfig) -> np.ndarray:
    """Finds the big planes with RANSAC, biggest first (open3d `segment_plane`).

    Args:
        xyz: (N, 3) positions, metres.
        config: plane settings (`plane_distance_m`, `ransac_n`, `ransac_iterations`,
            `max_planes`, `min_plane_fraction`).

    Returns:
        (N,) int64 index of the plane that removed each point (0 = the first, biggest plane),
        -1 for points on no removed plane.
    """
    o3d = require_open3d()
    plane = np.full(len(xyz), -1, dtype=np.int64)
    min_inliers = max(config.ransac_n, int(np.ceil(config.min_plane_fraction * len(xyz))))
    for index in range(config.max_planes):
        left = np.flatnonzero(plane < 0)
        if left.size < max(config.ransac_n, min_inliers):
            break
        o3d.utility.random.seed(config.seed + index)
        # probability 1: no early stop, all `ransac_iterations` hypotheses are tried
        _, inliers = _point_cloud(xyz[left]).segment_plane(
            config.plane_distance_m, config.ransac_n, config.ransac_iterations, probability=1.0
        )
        if len(inliers) < min_inliers:
            break
        plane[left[np.asarray(inliers, dtype=np.int64)]] = index
    return plane


def euclidean_clusters(xyz: np.ndarray, config: EuclideanConfig) -> np.ndarray:
    """Groups points by Euclidean distance (open3d DBSCAN), biggest cluster first.

    Args:
        xyz: (M, 3) positions, metres.
        config: clustering settings (`dbscan_eps_m`, `dbscan_min_points`,
            `min_cluster_points`).

    Returns:
        (M,) int64 cluster id of each point, 0..K-1 by decreasing size (ties: by first point),
        -1 for DBSCAN noise and clusters smaller than `min_cluster_points`.
    """
    if len(xyz) == 0:
        return np.empty(0, dtype=np.int64)
    labels = np.asarray(
        _point_cloud(xyz).cluster_dbscan(
            config.dbscan_eps_m, config.dbscan_min_points, print_progress=False
        ),
        dtype=np.int64,
    )
    clustered = labels >= 0
    if not clustered.any():
        return np.full(len(xyz), -1, dtype=np.int64)
    ids, first, sizes = np.unique(labels[clustered], return_index=True, return_counts=True)
    keep = sizes >= config.min_cluster_points
    order = np.lexsort((first[keep], -sizes[keep]))  # biggest first, then first point
    new_id = np.full(int(labels.max()) + 2, -1, dtype=np.int64)  # last entry: noise
    new_id[ids[keep][order]] = np.arange(order.size)
    return new_id[labels]


def instance_records(
    xyz: np.ndarray, instance_ids: np.ndarray, scores: np.ndarray
) -> tuple[InstanceRecord, ...]:
    """One `InstanceRecord` per cluster, all of class 39 "otherfurniture".

    The occupancy fields have no meaning here: voxel_count and predicted_occupancy are the
    point count, occupancy_ratio is 1.

    Args:
        xyz: (N, 3) positions, metres.
        instance_ids: (N,) int64 instance id of each point, 0..K-1, -1 = none; every id used.
        scores: (K,) score of each instance.

    Returns:
        The K records, `records[k].id == k`.
    """
    num = len(scores)
    if num == 0:
        return ()
    counts, sums, lo, hi = instance_extents(xyz, instance_ids, num)
    name = NYU40_NAMES[OBJECT_CLASS_ID]
    as_tuple = lambda row: tuple(float(v) for v in row)  # noqa: E731
    return tuple(
        InstanceRecord(
            id=k,
            class_id=OBJECT_CLASS_ID,
            class_name=name,
            score=float(scores[k]),
            point_count=int(counts[k]),
            voxel_count=int(counts[k]),
            predicted_occupancy=float(counts[k]),
            occupancy_ratio=1.0,
            centroid_m=as_tuple(sums[k] / counts[k]),
            box_min_m=as_tuple(lo[k]),
            box_max_m=as_tuple(hi[k]),
        )
        for k in range(num)
    )


class EuclideanSegmenter:
    """Plane removal + Euclidean clustering (see the module docstring), with the interface of
    `occuseg_core.inference.Segmenter.segment`.

    Every cluster becomes an instance of NYU40 class 39 "otherfurniture", the benchmark's
    generic object class (the method has no classes; score it class-agnostically), with the
    constant score `SCORE` = 1.

    Args:
        config: the baseline's settings (default: tuned on the ScanNet training rooms).

    Raises:
        OccusegError: open3d is not installed.
    """

    def __init__(self, config: EuclideanConfig | None = None) -> None:
        require_open3d()  # fail here, not on the first scene (and import outside the timings)
        self.config = config or EuclideanConfig()

    @property
    def class_names(self) -> dict[int, str]:
        """The one class id every instance gets -> its name."""
        return {OBJECT_CLASS_ID: NYU40_NAMES[OBJECT_CLASS_ID]}

    def segment(self, scene: Scene) -> SegmentationResult:
        """Segments one scene.

        Args:
            scene: any scene (N >= 1 points; colours, normals, faces and labels are unused).

        Returns:
            SegmentationResult: instance_ids (N,) int64 (-1 on removed planes, DBSCAN noise and
            dropped small clusters), semantic_ids (N,) int64 (39 on clustered points, 0
            elsewhere), one record per cluster, timings_s "planes", "clusters", "total".
        """
        start = time.perf_counter()
        plane = remove_planes(scene.xyz, self.config)
        planes_done = time.perf_counter()
        rest = np.flatnonzero(plane < 0)
        instance_ids = np.full(scene.num_points, -1, dtype=np.int64)
        instance_ids[rest] = euclidean_clusters(scene.xyz[rest], self.config)
        clusters_done = time.perf_counter()
        num = int(instance_ids.max()) + 1
        records = instance_records(scene.xyz, instance_ids, np.full(num, SCORE))
        semantic_ids = np.where(instance_ids >= 0, OBJECT_CLASS_ID, 0).astype(np.int64)
        timings = {"planes": planes_done - start, "clusters": clusters_done - planes_done}
        timings["total"] = time.perf_counter() - start
        return SegmentationResult(
            instance_ids=instance_ids, semantic_ids=semantic_ids, instances=records,
            timings_s=timings, class_names=self.class_names,
        )  # fmt: skip
