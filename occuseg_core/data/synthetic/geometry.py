"""Solid parts (boxes and vertical cylinders), their surface sampling and point containment.

Every synthetic object is a union of `Part`s. A part is both a surface that the scanner may see
(sampled at scan-like density) and a solid that hides other surfaces inside or on it. Frames:
metres, z up; a part's yaw turns it about its own vertical axis (counter-clockwise seen from
above), and `Pose` moves a part from an object's local frame into the room frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

BOX_FACES = ("+x", "-x", "+y", "-y", "+z", "-z")
CYLINDER_FACES = ("side", "+z", "-z")


@dataclass(frozen=True)
class Part:
    """A box or a vertical cylinder.

    Args:
        shape: "box" or "cylinder".
        center: (x, y, z) centre in metres.
        size: box: full extents (sx, sy, sz) in its own frame; cylinder: (2r, 2r, height).
        yaw: rotation about z in radians (boxes; cylinders are symmetric).
        skip: faces never sampled (still solid), from `BOX_FACES` or `CYLINDER_FACES`.
        material: index into the owning object's material colours.
    """

    shape: str
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float = 0.0
    skip: frozenset[str] = frozenset()
    material: int = 0

    def __post_init__(self) -> None:
        if self.shape not in ("box", "cylinder"):
            raise ValueError(f"part shape must be 'box' or 'cylinder'; got {self.shape!r}")
        if min(self.size) <= 0:
            raise ValueError(f"part size must be > 0; got {self.size}")

    @property
    def z_min(self) -> float:
        return self.center[2] - self.size[2] / 2

    @property
    def z_max(self) -> float:
        return self.center[2] + self.size[2] / 2


def box(
    x: float, y: float, z_min: float, sx: float, sy: float, sz: float, material: int = 0,
    skip: tuple[str, ...] = (), yaw: float = 0.0,
) -> Part:  # fmt: skip
    """A box part from its footprint centre (x, y), bottom height and full extents in metres."""
    return Part("box", (x, y, z_min + sz / 2), (sx, sy, sz), yaw, frozenset(skip), material)


def cylinder(
    x: float, y: float, z_min: float, radius: float, height: float, material: int = 0,
    skip: tuple[str, ...] = (),
) -> Part:  # fmt: skip
    """A vertical cylinder part from its axis (x, y), bottom height, radius and height, metres."""
    size = (2 * radius, 2 * radius, height)
    return Part("cylinder", (x, y, z_min + height / 2), size, 0.0, frozenset(skip), material)


@dataclass(frozen=True)
class Pose:
    """A rigid motion in the floor plane: rotate by `yaw` about z, then translate.

    Args:
        x: translation along x in metres.
        y: translation along y in metres.
        yaw: rotation in radians, counter-clockwise seen from above.
        z: translation along z in metres (objects standing on other objects).
    """

    x: float = 0.0
    y: float = 0.0
    yaw: float = 0.0
    z: float = 0.0

    def apply_xy(self, x: float, y: float) -> tuple[float, float]:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return self.x + c * x - s * y, self.y + s * x + c * y

    def then(self, outer: Pose) -> Pose:
        """The pose that applies `self` first and `outer` second."""
        x, y = outer.apply_xy(self.x, self.y)
        return Pose(x, y, self.yaw + outer.yaw, self.z + outer.z)

    def move_part(self, part: Part) -> Part:
        x, y = self.apply_xy(part.center[0], part.center[1])
        return replace(part, center=(x, y, part.center[2] + self.z), yaw=part.yaw + self.yaw)


def _face_grid(
    extent_a: float, extent_b: float, spacing_m: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified samples on an a x b rectangle: one jittered point per cell of about spacing^2.

    Cells whose count is rounded up are thinned at random so the expected density is exactly
    1 / spacing^2 even on faces thinner than one spacing (a 1 cm panel edge).

    Returns:
        (u, v) float64 coordinates in [-a/2, a/2] x [-b/2, b/2], same length.
    """
    count_a = max(1, round(extent_a / spacing_m))
    count_b = max(1, round(extent_b / spacing_m))
    cells = count_a * count_b
    ia, ib = np.divmod(np.arange(cells), count_b)
    u = (ia + rng.random(cells)) / count_a * extent_a - extent_a / 2
    v = (ib + rng.random(cells)) / count_b * extent_b - extent_b / 2
    keep_prob = extent_a * extent_b / spacing_m**2 / cells
    if keep_prob < 1.0:
        keep = rng.random(cells) < keep_prob
        u, v = u[keep], v[keep]
    return u, v


def _sample_box_local(
    size: tuple[float, float, float], skip: frozenset[str], spacing_m: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Samples the faces of an axis-aligned box centred at the origin."""
    half = np.asarray(size) / 2
    points, normals = [], []
    for face in BOX_FACES:
        if face in skip:
            continue
        axis = "xyz".index(face[1])
        others = [a for a in range(3) if a != axis]
        u, v = _face_grid(size[others[0]], size[others[1]], spacing_m, rng)
        local = np.empty((u.size, 3))
        local[:, others[0]], local[:, others[1]] = u, v
        sign = 1.0 if face[0] == "+" else -1.0
        local[:, axis] = sign * half[axis]
        normal = np.zeros((u.size, 3))
        normal[:, axis] = sign
        points.append(local)
        normals.append(normal)
    if not points:
        return np.empty((0, 3)), np.empty((0, 3))
    return np.concatenate(points), np.concatenate(normals)


def _sample_cylinder_local(
    radius: float, height: float, skip: frozenset[str], spacing_m: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Samples the side and caps of a vertical cylinder centred at the origin."""
    points, normals = [], []
    if "side" not in skip:
        arc, z = _face_grid(2 * math.pi * radius, height, spacing_m, rng)
        theta = arc / radius
        ring = np.stack([np.cos(theta), np.sin(theta), np.zeros_like(theta)], axis=1)
        points.append(ring * [radius, radius, 0.0] + np.outer(z, [0.0, 0.0, 1.0]))
        normals.append(ring)
    for face, sign in (("+z", 1.0), ("-z", -1.0)):
        if face in skip:
            continue
        u, v = _face_grid(2 * radius, 2 * radius, spacing_m, rng)
        inside = u**2 + v**2 <= radius**2
        cap = np.stack([u[inside], v[inside], np.full(inside.sum(), sign * height / 2)], axis=1)
        points.append(cap)
        normals.append(np.tile([0.0, 0.0, sign], (cap.shape[0], 1)))
    if not points:
        return np.empty((0, 3)), np.empty((0, 3))
    return np.concatenate(points), np.concatenate(normals)


def sample_part(
    part: Part, spacing_m: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points on the sampled faces of a part, about one per spacing x spacing of area.

    Args:
        part: the part, room frame.
        spacing_m: mean point spacing in metres (> 0).
        rng: random generator (jitter and thinning).

    Returns:
        points (n, 3) float64 metres, unit normals (n, 3) float64 pointing out of the solid,
        and face index (n,) int8: 0..5 for `BOX_FACES`, 0..2 for `CYLINDER_FACES`.
    """
    if part.shape == "box":
        local, normals = _sample_box_local(part.size, part.skip, spacing_m, rng)
        faces = BOX_FACES
    else:
        local, normals = _sample_cylinder_local(
            part.size[0] / 2, part.size[2], part.skip, spacing_m, rng
        )
        faces = CYLINDER_FACES
    face_index = _face_index_from_normals(normals, faces)
    c, s = math.cos(part.yaw), math.sin(part.yaw)
    rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return local @ rotation.T + np.asarray(part.center), normals @ rotation.T, face_index


def _face_index_from_normals(normals: np.ndarray, faces: tuple[str, ...]) -> np.ndarray:
    """Face index of each local normal: +z/-z by sign of z, else the box axis or cylinder side."""
    out = np.zeros(normals.shape[0], dtype=np.int8)
    up, down = normals[:, 2] > 0.5, normals[:, 2] < -0.5
    if faces is CYLINDER_FACES:
        out[up], out[down] = 1, 2
        return out
    axis = np.abs(normals).argmax(axis=1)
    negative = normals[np.arange(normals.shape[0]), axis] < 0
    out[:] = axis * 2 + negative
    return out


@dataclass(frozen=True, eq=False)
class SolidTable:
    """Parts as arrays for vectorized containment tests.

    Args:
        center: (S, 3) float64 centres in metres.
        half: (S, 3) float64 half extents (cylinders: (r, r, h/2)).
        cos_yaw: (S,) float64 cos of yaw.
        sin_yaw: (S,) float64 sin of yaw.
        is_cylinder: (S,) bool.
        aabb_min: (S, 3) float64 lower corner of the axis-aligned bounds.
        aabb_max: (S, 3) float64 upper corner of the axis-aligned bounds.
    """

    center: np.ndarray
    half: np.ndarray
    cos_yaw: np.ndarray
    sin_yaw: np.ndarray
    is_cylinder: np.ndarray
    aabb_min: np.ndarray
    aabb_max: np.ndarray

    @classmethod
    def from_parts(cls, parts: list[Part] | tuple[Part, ...]) -> SolidTable:
        center = np.array([p.center for p in parts], dtype=np.float64).reshape(-1, 3)
        half = np.array([p.size for p in parts], dtype=np.float64).reshape(-1, 3) / 2
        yaw = np.array([p.yaw for p in parts], dtype=np.float64)
        is_cylinder = np.array([p.shape == "cylinder" for p in parts], dtype=bool)
        cos_yaw, sin_yaw = np.cos(yaw), np.sin(yaw)
        reach_x = np.abs(cos_yaw) * half[:, 0] + np.abs(sin_yaw) * half[:, 1]
        reach_y = np.abs(sin_yaw) * half[:, 0] + np.abs(cos_yaw) * half[:, 1]
        reach = np.stack([reach_x, reach_y, half[:, 2]], axis=1)
        reach[is_cylinder, :2] = half[is_cylinder, :2]
        return cls(center, half, cos_yaw, sin_yaw, is_cylinder, center - reach, center + reach)

    def __len__(self) -> int:
        return int(self.center.shape[0])

    def contains(self, points: np.ndarray, solid_index: np.ndarray, margin_m: float) -> np.ndarray:
        """Row-wise test: is points[k] inside solid solid_index[k] grown by margin_m?

        Args:
            points: (K, 3) float64 metres.
            solid_index: (K,) int64 index of the solid to test each point against.
            margin_m: growth of every solid in metres (> 0 counts points on the surface).

        Returns:
            (K,) bool.
        """
        offset = points - self.center[solid_index]
        c, s = self.cos_yaw[solid_index], self.sin_yaw[solid_index]
        local_x = c * offset[:, 0] + s * offset[:, 1]
        local_y = -s * offset[:, 0] + c * offset[:, 1]
        half = self.half[solid_index] + margin_m
        inside_z = np.abs(offset[:, 2]) <= half[:, 2]
        inside_box = (np.abs(local_x) <= half[:, 0]) & (np.abs(local_y) <= half[:, 1])
        inside_cylinder = local_x**2 + local_y**2 <= half[:, 0] ** 2
        return inside_z & np.where(self.is_cylinder[solid_index], inside_cylinder, inside_box)
