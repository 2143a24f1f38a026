"""Cameras for the rendered pictures: an orthographic top view and a pinhole corner view.

A `View` maps world points (metres, z up) to continuous pixel coordinates of one panel (u to
the right, v down; pixel (i, j) covers u in [i, i + 1), v in [j, j + 1)) and a depth that grows
away from the viewer. Both fits place the whole point set inside the panel, keeping aspect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occuseg_core.geometry import vertex_normals  # noqa: F401  (part of this module's API)

PERSPECTIVE_AZIMUTH_DEG = -125.0
"""Direction from the scene centre to the camera, measured in the xy plane from +x."""
PERSPECTIVE_ELEVATION_DEG = 42.0
"""Angle of the camera above the scene centre's horizontal plane."""
PERSPECTIVE_DISTANCE = 2.2
"""Camera distance from the scene centre, in half bbox diagonals (> 1: never inside)."""


@dataclass(frozen=True, eq=False)
class View:
    """A fitted camera for one panel.

    Args:
        rotation: (3, 3) world -> camera rotation; camera axes x right, y down, z forward.
        position_m: (3,) camera centre in world metres (unused by orthographic views).
        scale_px: pixels per metre (orthographic) or focal length in pixels (perspective).
        offset_px: (2,) pixel coordinates of the optical axis (perspective) or of the camera
            frame's origin (orthographic).
        perspective: pinhole projection when True, orthographic when False.
    """

    rotation: np.ndarray
    position_m: np.ndarray
    scale_px: float
    offset_px: np.ndarray
    perspective: bool

    def project(self, xyz_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Projects world points into the panel.

        Args:
            xyz_m: (N, 3) world points, metres.

        Returns:
            (uv (N, 2) float64 pixel coordinates, depth (N,) float64: larger is farther).
        """
        camera = (np.asarray(xyz_m, dtype=np.float64) - self.position_m) @ self.rotation.T
        depth = camera[:, 2]
        if self.perspective:
            plane = camera[:, :2] / np.maximum(depth, 1e-6)[:, None]
        else:
            plane = camera[:, :2]
        return plane * self.scale_px + self.offset_px, depth


def _fit(plane: np.ndarray, width_px: int, height_px: int, margin_px: int) -> tuple:
    """Scale and offset that centre the (N, 2) plane coordinates in the panel."""
    low, high = plane.min(axis=0), plane.max(axis=0)
    span = np.maximum(high - low, 1e-6)
    usable = np.array([width_px - 2 * margin_px, height_px - 2 * margin_px], dtype=np.float64)
    if np.any(usable < 1):
        raise ValueError(
            f"panel {width_px}x{height_px} px is too small for {margin_px} px margins"
        )
    scale = float(np.min(usable / span))
    offset = np.array([width_px, height_px]) / 2.0 - scale * (low + high) / 2.0
    return scale, offset


def fit_top_view(xyz_m: np.ndarray, width_px: int, height_px: int, margin_px: int = 8) -> View:
    """An orthographic view looking down -z, +x to the right and +y up in the picture.

    Args:
        xyz_m: (N, 3) world points (N >= 1), metres, z up.
        width_px, height_px: panel size in pixels.
        margin_px: free border around the points.

    Returns:
        The view; depth is -z, so higher points are nearer and drawn over lower ones.
    """
    rotation = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])
    plane = (np.asarray(xyz_m, dtype=np.float64) @ rotation.T)[:, :2]
    scale, offset = _fit(plane, width_px, height_px, margin_px)
    return View(rotation, np.zeros(3), scale, offset, perspective=False)


def look_at_rotation(position_m: np.ndarray, target_m: np.ndarray) -> np.ndarray:
    """(3, 3) world -> camera rotation of a camera at `position_m` looking at `target_m`, with
    world +z appearing up in the picture (camera x right, y down, z forward)."""
    forward = np.asarray(target_m, np.float64) - np.asarray(position_m, np.float64)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-9:  # looking straight down: keep +y up
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def fit_perspective_view(
    xyz_m: np.ndarray,
    width_px: int,
    height_px: int,
    margin_px: int = 8,
    *,
    azimuth_deg: float = PERSPECTIVE_AZIMUTH_DEG,
    elevation_deg: float = PERSPECTIVE_ELEVATION_DEG,
) -> View:
    """A pinhole camera above one corner of the scene's bounding box, looking at its centre.

    Args:
        xyz_m: (N, 3) world points (N >= 1), metres, z up.
        width_px, height_px: panel size in pixels.
        margin_px: free border around the points.
        azimuth_deg: direction from the centre to the camera in the xy plane, from +x.
        elevation_deg: camera height angle above the centre, in (0, 90].

    Returns:
        The view; the focal length is chosen so every point fits the panel.
    """
    xyz_m = np.asarray(xyz_m, dtype=np.float64)
    low, high = xyz_m.min(axis=0), xyz_m.max(axis=0)
    center = (low + high) / 2.0
    radius = max(float(np.linalg.norm(high - low)) / 2.0, 1e-3)
    azimuth, elevation = np.radians(azimuth_deg), np.radians(elevation_deg)
    direction = np.array([
        np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth),
        np.sin(elevation),
    ])  # fmt: skip
    position = center + PERSPECTIVE_DISTANCE * radius * direction
    rotation = look_at_rotation(position, center)
    camera = (xyz_m - position) @ rotation.T
    plane = camera[:, :2] / np.maximum(camera[:, 2], 1e-6)[:, None]
    scale, offset = _fit(plane, width_px, height_px, margin_px)
    return View(rotation, position, scale, offset, perspective=True)


def facing_mask(view: View, xyz_m: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """(N,) bool: points whose surface faces the camera (back-face culling).

    Scans see rooms from the inside, so the walls nearest an outside camera show their backs
    and would hide the room; dropping back faces opens them like a doll's house. Normals must
    point out of the scanned surface (towards where the scanner was).

    Args:
        view: a perspective view.
        xyz_m: (N, 3) world points.
        normals: (N, 3) normals (need not be unit length; zero rows count as facing).
    """
    to_camera = view.position_m - np.asarray(xyz_m, dtype=np.float64)
    return np.einsum("ij,ij->i", to_camera, np.asarray(normals, dtype=np.float64)) >= 0.0
