"""A floor of synthetic rooms side by side (issue 16): the input of the tiling benchmark.

Rooms from `generate_scene` are laid out row by row on a grid; each column is as wide as its
widest room and each row as deep as its deepest, plus `gap_m` (a wall's thickness), so no two
rooms overlap. Instance ids are renumbered to stay unique over the floor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from occuseg_core.data.synthetic import DEFAULT_CONFIG, SynthConfig, generate_scene
from occuseg_core.types import Scene


def generate_floor(
    seeds: Sequence[int],
    *,
    columns: int | None = None,
    gap_m: float = 0.3,
    config: SynthConfig = DEFAULT_CONFIG,
    name: str | None = None,
) -> Scene:
    """Rooms of `seeds` on a grid of `columns` (default: a square as near as can be).

    Args:
        seeds: one generator seed per room (at least one).
        columns: rooms per row.
        gap_m: space between neighbouring rooms' bounding boxes, >= 0.
        config: generator settings of every room.
        name: scene name; default "floor_<number of rooms>".

    Returns:
        One labelled Scene (faces kept and renumbered where the rooms have them).
    """
    if not seeds:
        raise ValueError("generate_floor needs at least one room seed")
    if not gap_m >= 0:
        raise ValueError(f"gap_m must be >= 0; got {gap_m}")
    columns = int(columns or math.ceil(math.sqrt(len(seeds))))
    if columns < 1:
        raise ValueError(f"columns must be >= 1; got {columns}")
    rooms = [generate_scene(int(seed), config) for seed in seeds]
    lo = [room.xyz.min(axis=0) for room in rooms]
    size = [room.xyz.max(axis=0) - low for room, low in zip(rooms, lo, strict=True)]
    rows = math.ceil(len(rooms) / columns)
    width = [max(size[k][0] for k in range(c, len(rooms), columns)) for c in range(columns)]
    depth = [max(size[k][1] for k in range(r * columns, min((r + 1) * columns, len(rooms))))
             for r in range(rows)]  # fmt: skip
    x0 = np.concatenate([[0.0], np.cumsum(np.add(width, gap_m))])
    y0 = np.concatenate([[0.0], np.cumsum(np.add(depth, gap_m))])
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("xyz", "colors", "normals", "semantic",
                                                          "instance", "faces")}  # fmt: skip
    next_instance, next_vertex = 0, 0
    for k, room in enumerate(rooms):
        row, column = divmod(k, columns)
        shift = np.array([x0[column], y0[row], 0.0]) - np.array([lo[k][0], lo[k][1], 0.0])
        parts["xyz"].append((room.xyz + shift).astype(np.float32))
        parts["colors"].append(room.colors)
        parts["normals"].append(room.normals)
        parts["semantic"].append(room.semantic)
        instance = np.where(room.instance > 0, room.instance + next_instance, 0)
        parts["instance"].append(instance)
        next_instance = max(next_instance, int(instance.max(initial=0)))
        if room.faces is not None:
            parts["faces"].append(room.faces + next_vertex)
        next_vertex += room.num_points
    joined = {k: (np.concatenate(v) if v and all(a is not None for a in v) else None)
              for k, v in parts.items()}  # fmt: skip
    if len(parts["faces"]) != len(rooms):
        joined["faces"] = None
    return Scene(name=name or f"floor_{len(rooms)}", **joined)
