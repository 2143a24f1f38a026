"""Simulated scanning: from a `RoomLayout` to the coloured, labelled, noisy points a hand-held
RGB-D scan would leave.

Steps: (1) sample every part's faces at `point_spacing_m`; (2) drop what no scanner sees:
points inside or on another solid (faces resting on the floor or on other parts, backs against
walls, the floor under beds), points in carved volumes (sink openings, behind curtains);
(3) drop what this scan missed: most undersides, tops of tall furniture, walls above a ragged
per-wall scan height, blob-shaped holes; (4) shade colours with a light direction, smooth
illumination and noise; add Gaussian position and normal noise; label points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from occuseg_core.data.synthetic.config import SynthConfig
from occuseg_core.data.synthetic.geometry import SolidTable, sample_part
from occuseg_core.data.synthetic.objects import UNANNOTATED, RoomLayout
from occuseg_core.types import Scene

SURFACE_MARGIN_M = 0.002
"""A point this close to another solid counts as covered by it (touching faces)."""
PATCH_M = 0.5
TALL_M = 1.6
STRUCTURE_KINDS = ("floor", "wall")


@dataclass(frozen=True, eq=False)
class SurfaceSamples:
    """Sampled surface points before noise, one row per point.

    Args:
        xyz: (N, 3) float64 metres, room frame.
        normals: (N, 3) float64 unit normals of the sampled face.
        part: (N,) int64 global part index (objects' parts in layout order).
        obj: (N,) int64 layout index of the owning object.
        color: (N, 3) float64 base colour of the part's material, 0..1.
    """

    xyz: np.ndarray
    normals: np.ndarray
    part: np.ndarray
    obj: np.ndarray
    color: np.ndarray

    def take(self, keep: np.ndarray) -> SurfaceSamples:
        return SurfaceSamples(*(a[keep] for a in (self.xyz, self.normals, self.part, self.obj,
                                                   self.color)))  # fmt: skip


def sample_surfaces(
    layout: RoomLayout, spacing_m: float, structure_spacing_m: float, rng: np.random.Generator
) -> SurfaceSamples:
    """Samples every face of every part (hidden or not) at about one point per spacing^2
    (`structure_spacing_m` for floors and walls, `spacing_m` for everything else)."""
    chunks: list[tuple[np.ndarray, ...]] = []
    part_index = 0
    for obj_index, obj in enumerate(layout.objects):
        spacing = structure_spacing_m if obj.kind in STRUCTURE_KINDS else spacing_m
        for part in obj.parts:
            density = (obj.material_density[part.material]
                       if part.material < len(obj.material_density) else 1.0)  # fmt: skip
            xyz, normals, _ = sample_part(part, spacing / np.sqrt(density), rng)
            n = xyz.shape[0]
            color = np.broadcast_to(np.asarray(obj.materials[part.material]), (n, 3))
            chunks.append((xyz, normals, np.full(n, part_index), np.full(n, obj_index), color))
            part_index += 1
    columns = [np.concatenate([c[k] for c in chunks]) for k in range(5)]
    return SurfaceSamples(columns[0], columns[1], columns[2].astype(np.int64),
                          columns[3].astype(np.int64), columns[4])  # fmt: skip


def _solids(layout: RoomLayout) -> tuple[SolidTable, np.ndarray, np.ndarray]:
    """All parts then all carves as one table, with each one's owner and part index (-1: carve)."""
    parts, owner, part_id = [], [], []
    for obj_index, obj in enumerate(layout.objects):
        parts += obj.parts
        owner += [obj_index] * len(obj.parts)
    part_id = list(range(len(parts)))
    for obj_index, obj in enumerate(layout.objects):
        parts += obj.carves
        owner += [obj_index] * len(obj.carves)
        part_id += [-1] * len(obj.carves)
    return SolidTable.from_parts(parts), np.asarray(owner), np.asarray(part_id)


def _patches(samples: SurfaceSamples) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Groups points by (part, 0.5 m floor cell): sort order, patch starts and sizes."""
    cells = np.floor(samples.xyz[:, :2] / PATCH_M).astype(np.int64)
    cells -= cells.min(axis=0)
    key = (samples.part * (cells[:, 0].max() + 1) + cells[:, 0]) * (cells[:, 1].max() + 1)
    key += cells[:, 1]
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    sizes = np.diff(np.r_[starts, len(key)])
    return order, starts, sizes


def hidden_by_solids(samples: SurfaceSamples, layout: RoomLayout) -> np.ndarray:
    """(N,) bool: the point lies inside or on another part, or inside another object's carve.

    A part never hides itself, a carve never hides its own object, and the solids of an
    object's hosts never hide it. Pairs are pruned by the bounds of 0.5 m patches of points.
    """
    if samples.xyz.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    solids, owner, part_id = _solids(layout)
    order, starts, sizes = _patches(samples)
    xyz = samples.xyz[order]
    low = np.minimum.reduceat(xyz, starts, axis=0) - SURFACE_MARGIN_M
    high = np.maximum.reduceat(xyz, starts, axis=0) + SURFACE_MARGIN_M
    overlap = np.ones((len(starts), len(solids)), dtype=bool)
    for axis in range(3):
        overlap &= low[:, None, axis] <= solids.aabb_max[None, :, axis]
        overlap &= high[:, None, axis] >= solids.aabb_min[None, :, axis]
    patch_part = samples.part[order][starts]
    patch_owner = samples.obj[order][starts]
    overlap &= part_id[None, :] != patch_part[:, None]
    is_carve = part_id < 0
    overlap &= ~(is_carve[None, :] & (owner[None, :] == patch_owner[:, None]))
    hosted = np.zeros((len(layout.objects), len(layout.objects)), dtype=bool)
    for index, obj in enumerate(layout.objects):
        hosted[index, list(obj.hosts)] = True
    overlap &= ~(~is_carve[None, :] & hosted[patch_owner][:, owner])
    patch, solid = np.nonzero(overlap)
    counts = sizes[patch]
    first = np.repeat(starts[patch] - np.cumsum(counts) + counts, counts)
    rows = first + np.arange(counts.sum())
    inside = solids.contains(xyz[rows], np.repeat(solid, counts), SURFACE_MARGIN_M)
    hidden_sorted = np.zeros(len(order), dtype=bool)
    hidden_sorted[rows[inside]] = True
    hidden = np.empty_like(hidden_sorted)
    hidden[order] = hidden_sorted
    return hidden


def missed_by_scanner(
    samples: SurfaceSamples, layout: RoomLayout, rng: np.random.Generator, config: SynthConfig
) -> np.ndarray:
    """(N,) bool: visible surfaces this scan still missed (undersides, tall tops, high walls)."""
    num_parts = int(samples.part.max(initial=-1)) + 1
    underside_seen = rng.random(num_parts) < config.underside_visible_prob
    down = (samples.normals[:, 2] < -0.5) & (samples.xyz[:, 2] > 0.05)
    missed = down & ~underside_seen[samples.part]
    tops = np.array([o.z_max for o in layout.objects])
    furniture = np.array([o.wall is None and o.kind not in ("floor", "wall")
                          for o in layout.objects])  # fmt: skip
    top_missed = furniture & (tops > TALL_M)
    top_missed &= rng.random(len(layout.objects)) < config.tall_top_hidden_prob
    up = samples.normals[:, 2] > 0.5
    missed |= up & top_missed[samples.obj] & (samples.xyz[:, 2] > tops[samples.obj] - 0.06)
    return missed | above_scan_height(samples, layout, rng, config)


def above_scan_height(
    samples: SurfaceSamples, layout: RoomLayout, rng: np.random.Generator, config: SynthConfig
) -> np.ndarray:
    """(N,) bool: points of a wall or wall-hung object above that wall's ragged scan height."""
    wall_of = np.array([-1 if o.wall is None else o.wall for o in layout.objects])
    point_wall = wall_of[samples.obj]
    above = np.zeros(samples.xyz.shape[0], dtype=bool)
    low, high = config.wall_scan_height_m
    for index, wall in enumerate(layout.walls):
        mask = point_wall == index
        base = rng.uniform(low, high)
        amplitude, wavelength, phase = rng.uniform(0.03, 0.15), rng.uniform(0.8, 3.0), rng.uniform(
            0, 2 * np.pi)  # fmt: skip
        along = ((samples.xyz[mask, 0] - wall.start[0]) * wall.direction[0]
                 + (samples.xyz[mask, 1] - wall.start[1]) * wall.direction[1])  # fmt: skip
        limit = base + amplitude * np.sin(2 * np.pi * along / wavelength + phase)
        above[mask] = samples.xyz[mask, 2] > np.clip(limit, low, high)
    return above


def blob_mask(
    xyz: np.ndarray, tree: cKDTree, rng: np.random.Generator, per_m2: float, area_m2: float,
    radius_m: tuple[float, float],
) -> np.ndarray:  # fmt: skip
    """(N,) bool: points inside random blobs (unions of 1-3 balls) centred on the surface.

    The number of blobs is Poisson(per_m2 * area_m2); each gets a radius from `radius_m`.
    """
    mask = np.zeros(xyz.shape[0], dtype=bool)
    count = int(rng.poisson(per_m2 * area_m2))
    if count == 0 or xyz.shape[0] == 0:
        return mask
    centers = xyz[rng.integers(xyz.shape[0], size=count)]
    radii = rng.uniform(radius_m[0], radius_m[1], size=count)
    lobes = rng.integers(1, 4, size=count)
    centers, radii = np.repeat(centers, lobes, axis=0), np.repeat(radii, lobes)
    extra_lobe = np.ones(len(radii), dtype=bool)
    extra_lobe[np.cumsum(lobes) - lobes] = False  # the first lobe of each blob stays centred
    shift = rng.normal(0.0, 0.5, size=centers.shape) * radii[:, None]
    centers = centers + shift * extra_lobe[:, None]
    radii = radii * rng.uniform(0.6, 1.0, size=len(radii))
    for hit in tree.query_ball_point(centers, radii):
        mask[hit] = True
    return mask


def shade_colors(
    samples: SurfaceSamples, layout: RoomLayout, rng: np.random.Generator, color_noise: float
) -> np.ndarray:
    """(N, 3) float32 colours 0..1: base colour with texture, Lambert shading from one light
    direction plus ambient, a smooth room-scale illumination field and per-point noise."""
    color = samples.color.copy()
    textures = np.array([o.texture for o in layout.objects])
    for index in np.flatnonzero(textures > 0):
        mask = samples.obj == index
        freq = rng.uniform(3.0, 25.0, size=(3, 3)) * rng.choice([-1, 1], size=(3, 3))
        phase = rng.uniform(0, 2 * np.pi, size=3)
        field = np.sin(samples.xyz[mask] @ freq.T + phase).mean(axis=1)
        tint = rng.uniform(-1.0, 1.0, size=3)
        color[mask] += textures[index] * field[:, None] * tint
    light = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(1.0, 2.0)])
    light /= np.linalg.norm(light)
    ambient = rng.uniform(0.55, 0.75)
    lambert = np.clip(samples.normals @ light, 0.0, 1.0)
    shade = ambient + (1 - ambient) * lambert
    wave = rng.uniform(0.3, 1.2, size=2) * rng.choice([-1, 1], size=2)
    glow = 1.0 + rng.uniform(0.05, 0.15) * np.sin(samples.xyz[:, :2] @ wave + rng.uniform(0, 6.3))
    color = color * (shade * glow)[:, None] + rng.normal(0.0, color_noise, size=color.shape)
    return np.clip(color, 0.0, 1.0).astype(np.float32)


def object_labels(layout: RoomLayout) -> tuple[np.ndarray, np.ndarray]:
    """(semantic, instance) int64 per layout object: NYU40 id and 1-based instance id;
    unannotated objects give 0/0. Instance ids follow layout order over annotated objects; an
    object `labelled_as` an earlier one takes that one's instance id (and adds none)."""
    semantic_of = np.array([o.semantic for o in layout.objects], dtype=np.int64)
    instance_of = np.zeros(len(layout.objects), dtype=np.int64)
    count = 0
    for index, obj in enumerate(layout.objects):
        if obj.semantic == UNANNOTATED:
            continue
        joined = obj.labelled_as
        if joined is None:
            count += 1
            instance_of[index] = count
            continue
        if not 0 <= joined < index or semantic_of[joined] != obj.semantic:
            raise ValueError(
                f"object {index} ({obj.kind}) is labelled as object {joined}, which must be an "
                f"earlier object of the same class (NYU40 {obj.semantic})"
            )
        instance_of[index] = instance_of[joined]
    return semantic_of, instance_of


def point_labels(samples: SurfaceSamples, layout: RoomLayout) -> tuple[np.ndarray, np.ndarray]:
    """(semantic, instance) int64 per point: the labels of its object (`object_labels`)."""
    semantic_of, instance_of = object_labels(layout)
    return semantic_of[samples.obj], instance_of[samples.obj]


def scan_layout(
    layout: RoomLayout, rng: np.random.Generator, config: SynthConfig, name: str
) -> Scene:
    """Simulates one scan of the layout (see the module docstring for the steps).

    Args:
        layout: the furnished room.
        rng: the scene's random generator (continues after `build_layout`).
        config: sampling density, noise, holes and visibility settings.
        name: the scene's name.

    Returns:
        A labelled `Scene`: xyz float32 metres (room frame, z up, floor at 0), colours 0..1,
        unit normals, NYU40 semantic ids and instance ids (0 = unannotated).
    """
    samples = sample_surfaces(layout, config.point_spacing_m, config.structure_spacing_m, rng)
    samples = samples.take(~hidden_by_solids(samples, layout))
    samples = samples.take(~missed_by_scanner(samples, layout, rng, config))
    area = samples.xyz.shape[0] * config.point_spacing_m * config.structure_spacing_m
    tree = cKDTree(samples.xyz, balanced_tree=False, compact_nodes=False)
    holes = blob_mask(samples.xyz, tree, rng, config.holes_per_m2, area, config.hole_radius_m)
    gaps = blob_mask(samples.xyz, tree, rng, config.unlabelled_blobs_per_m2, area, (0.05, 0.15))
    samples, gaps = samples.take(~holes), gaps[~holes]
    semantic, instance = point_labels(samples, layout)
    semantic[gaps], instance[gaps] = 0, 0
    colors = shade_colors(samples, layout, rng, config.color_noise)
    sigma = rng.uniform(*config.position_noise_m)
    xyz = samples.xyz + rng.normal(0.0, sigma, size=samples.xyz.shape)
    normals = samples.normals + rng.normal(0.0, config.normal_noise, size=samples.xyz.shape)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-9)
    return Scene(
        xyz=xyz.astype(np.float32), colors=colors, normals=normals.astype(np.float32),
        semantic=semantic, instance=instance, name=name,
    )  # fmt: skip
