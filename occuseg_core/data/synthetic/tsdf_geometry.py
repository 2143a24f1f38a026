"""Ground truth for the TSDF scanner (`tsdf_scan`): the layout's parts as one labelled triangle
mesh, its carved volumes, and ray casting against it.

Frames: room frame, metres, z up. Triangles are wound counter-clockwise seen from outside the
solid, so a ray that meets a triangle's back face is inside a part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import open3d as o3d

from occuseg_core.data.synthetic.geometry import Part, SolidTable
from occuseg_core.data.synthetic.objects import RoomLayout

CARVE_PASSES = 4
"""A ray is continued through at most this many carved hits (sink opening, cabinet top)."""


@dataclass(frozen=True, eq=False)
class LabelledMesh:
    """Every part of a layout as one triangle mesh, room frame.

    Args:
        vertices: (V, 3) float64 metres.
        triangles: (T, 3) int32 vertex indices, counter-clockwise seen from outside.
        obj: (T,) int64 layout index of the owning object.
        color: (T, 3) float64 base colour of the part's material, 0..1.
        density: (T,) float64 material density (below 1: glass, returns depth sparsely).
        normal: (T, 3) float64 unit outward normals.
    """

    vertices: np.ndarray
    triangles: np.ndarray
    obj: np.ndarray
    color: np.ndarray
    density: np.ndarray
    normal: np.ndarray


BOX_TRIANGLES = np.array([
    [0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
    [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3],
])  # fmt: skip
"""The 12 triangles of a box whose corner k has signs (x, y, z) = bits (4, 2, 1) of k."""
PRISM_SIDE_M = 0.03
"""Side length of the polygon that stands in for a cylinder's circle (8 to 48 sides)."""


def part_mesh(part: Part) -> tuple[np.ndarray, np.ndarray]:
    """A part's closed surface: a box (8 vertices, 12 triangles) or a vertical cylinder as a
    polygon prism (one side per PRISM_SIDE_M of circumference).

    Returns:
        vertices (V, 3) float64 metres (room frame) and triangles (T, 3) int32, wound so that
        normals point out of the solid.
    """
    half = np.asarray(part.size, dtype=np.float64) / 2
    if part.shape == "box":
        corners = [[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]
        local, tris = np.array(corners, dtype=np.float64) * half, BOX_TRIANGLES
    else:
        local, tris = _prism(half[0], half[2])
    c, s = math.cos(part.yaw), math.sin(part.yaw)
    rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    vertices = local @ rotation.T + np.asarray(part.center)
    return vertices, _orient_outward(vertices, tris.astype(np.int32), np.asarray(part.center))


def _prism(radius: float, half_height: float) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (2n + 2, 3) and triangles (4n, 3) of an n-gon prism centred at the origin."""
    count = int(np.clip(math.ceil(2 * math.pi * radius / PRISM_SIDE_M), 8, 48))
    theta = 2 * math.pi * np.arange(count) / count
    ring = np.stack([np.cos(theta), np.sin(theta)], axis=1) * radius
    local = np.concatenate([np.c_[ring, np.full(count, -half_height)],
                            np.c_[ring, np.full(count, half_height)],
                            [[0, 0, -half_height], [0, 0, half_height]]])  # fmt: skip
    i, j = np.arange(count), (np.arange(count) + 1) % count
    bottom, top = np.full(count, 2 * count), np.full(count, 2 * count + 1)
    tris = np.concatenate([np.c_[i, j, j + count], np.c_[i, j + count, i + count],
                           np.c_[bottom, j, i], np.c_[top, i + count, j + count]])  # fmt: skip
    return local, tris


def _orient_outward(vertices: np.ndarray, tris: np.ndarray, center: np.ndarray) -> np.ndarray:
    """Flips triangles of a convex solid whose normal points towards its centre."""
    a, b, c = (vertices[tris[:, k]] for k in range(3))
    inward = np.einsum("ij,ij->i", np.cross(b - a, c - a), (a + b + c) / 3 - center) < 0
    tris = tris.copy()
    tris[inward] = tris[inward][:, [0, 2, 1]]
    return tris


def layout_mesh(layout: RoomLayout) -> LabelledMesh:
    """All parts of all objects (every face, skipped or not: parts are solids) as one mesh."""
    verts, tris, obj, color, density = [], [], [], [], []
    offset = 0
    for index, item in enumerate(layout.objects):
        for part in item.parts:
            v, t = part_mesh(part)
            verts.append(v)
            tris.append(t + offset)
            offset += v.shape[0]
            n = t.shape[0]
            obj.append(np.full(n, index, dtype=np.int64))
            color.append(np.tile(item.materials[part.material], (n, 1)))
            dens = item.material_density
            density.append(np.full(n, dens[part.material] if part.material < len(dens) else 1.0))
    vertices, triangles = np.concatenate(verts), np.concatenate(tris).astype(np.int32)
    a, b, c = (vertices[triangles[:, k]] for k in range(3))
    normal = np.cross(b - a, c - a)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    return LabelledMesh(vertices, triangles, np.concatenate(obj), np.concatenate(color),
                        np.concatenate(density), normal)  # fmt: skip


@dataclass(frozen=True, eq=False)
class Carves:
    """The layout's carved volumes: a hit on another object's surface inside one is not solid.

    Args:
        table: the carve solids.
        owner: (C,) int64 layout index of each carve's object.
    """

    table: SolidTable | None
    owner: np.ndarray

    @classmethod
    def from_layout(cls, layout: RoomLayout) -> Carves:
        parts = [p for o in layout.objects for p in o.carves]
        owner = [i for i, o in enumerate(layout.objects) for _ in o.carves]
        table = SolidTable.from_parts(parts) if parts else None
        return cls(table, np.asarray(owner, dtype=np.int64))

    def carved(self, points: np.ndarray, obj: np.ndarray) -> np.ndarray:
        """(N,) bool: points (N, 3) of objects `obj` (N,) lying in another object's carve."""
        out = np.zeros(points.shape[0], dtype=bool)
        if self.table is None:
            return out
        for k in range(len(self.table)):
            near = np.all((points >= self.table.aabb_min[k]) & (points <= self.table.aabb_max[k]),
                          axis=1) & (obj != self.owner[k])  # fmt: skip
            rows = np.flatnonzero(near)
            inside = self.table.contains(points[rows], np.full(rows.size, k), 0.0)
            out[rows[inside]] = True
        return out


def cast(
    scene: o3d.t.geometry.RaycastingScene, mesh: LabelledMesh, carves: Carves,
    origin: np.ndarray, dirs: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """First solid hit along each ray; hits inside another object's carve are passed through.

    Args:
        scene: ray-casting scene holding `mesh` (primitive ids = mesh triangle indices).
        mesh: the layout mesh.
        carves: the layout's carved volumes.
        origin: (3,) ray origin, metres.
        dirs: (N, 3) float64 directions (any length; t is measured in these units).

    Returns:
        t (N,) float64 (inf: no hit) and triangle index (N,) int64 (-1: no hit).
    """
    t = np.full(dirs.shape[0], np.inf)
    prim = np.full(dirs.shape[0], -1, dtype=np.int64)
    active, start = np.arange(dirs.shape[0]), np.zeros(dirs.shape[0])
    for _ in range(CARVE_PASSES):
        rays = np.concatenate([origin + dirs[active] * start[active, None], dirs[active]], axis=1)
        out = scene.cast_rays(o3d.core.Tensor(rays.astype(np.float32)))
        t_hit = out["t_hit"].numpy().astype(np.float64)
        hit = np.isfinite(t_hit)
        rows = active[hit]
        t[rows] = start[rows] + t_hit[hit]
        prim[rows] = out["primitive_ids"].numpy()[hit].astype(np.int64)
        carved = carves.carved(origin + dirs[rows] * t[rows, None], mesh.obj[prim[rows]])
        active = rows[carved]
        start[active] = t[active] + 1e-3
        t[active], prim[active] = np.inf, -1
        if active.size == 0:
            break
    return t, prim
