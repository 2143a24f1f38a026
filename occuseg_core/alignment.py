"""Turning a scan about z so that its walls run along x and y before the network sees it.

The bundled models were trained on rooms whose walls run along the axes (ScanNet's aligned
scans, the synthetic rooms), turned by quarter turns with a jitter of up to 5 degrees. A robot's
scan arrives in its map or odometry frame, at any heading: on the real validation rooms turned
by 45 degrees the `real` model's AP50 falls from 21.4 to 3.3 and its mIoU from 31.5 to 12.9
(docs/RESULTS.md). Indoor rooms are mostly "Manhattan": their walls meet at right angles, so the
heading modulo 90 degrees is found by turning the points' xy positions until their histograms
along x and along y are most concentrated (a wall parallel to an axis piles its points into a
few bins of the other axis). Not in the paper.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from occuseg_core.geometry import rotate_z
from occuseg_core.types import Scene

#: Scans whose walls are within this many degrees of the axes are left as they are: the
#: models were trained with up to 5 degrees of jitter, and an untouched scan keeps its voxels.
ALIGNED_TOLERANCE_DEG = 2.0


def _concentration(xy: np.ndarray, angles: np.ndarray, bin_m: float) -> np.ndarray:
    """(A,) sum of squared bin counts of x and of y after turning `xy` by each angle."""
    scores = np.empty(angles.shape[0])
    for i, angle in enumerate(angles):
        c, s = math.cos(angle), math.sin(angle)
        total = 0.0
        for axis in (xy[:, 0] * c - xy[:, 1] * s, xy[:, 0] * s + xy[:, 1] * c):
            cells = np.floor(axis / bin_m).astype(np.int64)
            counts = np.bincount(cells - cells.min())
            total += float(np.dot(counts, counts))
        scores[i] = total
    return scores


def wall_yaw(xyz: np.ndarray, bin_m: float = 0.04, max_points: int = 20_000) -> float:
    """The turn about z, radians in [-pi/4, pi/4), that brings the scan's walls along x and y.

    Args:
        xyz: (N, 3) points, z up.
        bin_m: histogram bin width.
        max_points: at most this many points are used (an even stride through the scan).

    Returns:
        The angle a that, applied as a rotation of the xy positions by +a, makes the walls
        parallel to the axes (0 for an already aligned scan or one with too few points).
    """
    xyz = np.asarray(xyz)
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise ValueError(f"xyz must be (N, 3); got {xyz.shape}")
    if xyz.shape[0] < 3:
        return 0.0
    xy = xyz[:: max(1, xyz.shape[0] // max_points), :2].astype(np.float64)
    xy -= xy.mean(axis=0)
    coarse = np.radians(np.arange(-45.0, 45.0, 2.0))
    best = coarse[int(np.argmax(_concentration(xy, coarse, bin_m)))]
    fine = best + np.radians(np.arange(-2.0, 2.01, 0.25))
    angle = float(fine[int(np.argmax(_concentration(xy, fine, bin_m)))])
    return (angle + math.pi / 4) % (math.pi / 2) - math.pi / 4


def align_to_walls(scene: Scene, tolerance_deg: float = ALIGNED_TOLERANCE_DEG) -> Scene:
    """The scene turned about z (around its centroid) so that its walls run along x and y.

    Only positions and normals change; point order, colours, labels and faces stay, so per-point
    results computed on the turned scene belong to the input's points. A scene already within
    `tolerance_deg` of the axes is returned as it is (the same object).
    """
    angle = wall_yaw(scene.xyz)
    if abs(math.degrees(angle)) <= tolerance_deg:
        return scene
    centre = scene.xyz.astype(np.float64).mean(axis=0)
    xyz = (rotate_z(scene.xyz - centre, angle) + centre).astype(np.float32)
    normals = None if scene.normals is None else rotate_z(scene.normals, angle).astype(np.float32)
    return dataclasses.replace(scene, xyz=xyz, normals=normals)
