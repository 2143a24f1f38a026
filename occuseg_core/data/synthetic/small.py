"""Small objects: bins, boxes, ottomans, benches, pillows and clutter.

Same frame as `furniture` (footprint centre at the origin, bottom at z = 0, front +y). These are
the small instances that stand on floors, tables, counters and beds; their voxel counts are what
makes the instance size range of a scene span two orders of magnitude.
"""

from __future__ import annotations

import numpy as np

from occuseg_core.data.synthetic.geometry import box, cylinder
from occuseg_core.data.synthetic.objects import (
    BOX,
    OTHERFURNITURE,
    OTHERPROP,
    PILLOW,
    UNANNOTATED,
    SceneObject,
)
from occuseg_core.data.synthetic.palette import pick_colors

FLOOR_SKIP = ("-z",)
CLUTTER_KINDS = ("cup", "book_stack", "laptop", "monitor", "plant")


def build_bin(rng: np.random.Generator, small: bool = False) -> SceneObject:
    """A trash or recycling bin (NYU40 39 otherfurniture), round or square.

    Args:
        rng: random generator.
        small: a desk-top bin (radius 6-10 cm) instead of a floor bin (12-20 cm).
    """
    u = rng.uniform
    radius, height = (u(0.06, 0.10), u(0.12, 0.22)) if small else (u(0.12, 0.20), u(0.30, 0.60))
    materials = pick_colors(rng, ("plastic", "metal")[rng.integers(2)])
    if rng.random() < 0.5:
        part = cylinder(0, 0, 0, radius, height, 0, FLOOR_SKIP)
    else:
        part = box(0, 0, 0, 2 * radius, 1.6 * radius, height, 0, FLOOR_SKIP)
    return SceneObject("bin", OTHERFURNITURE, (part,), materials)


def build_storage_box(rng: np.random.Generator, small: bool = False) -> SceneObject:
    """A cardboard or plastic box (NYU40 29) with a lid 1 cm proud of its body."""
    u = rng.uniform
    if small:
        w, d, h = u(0.10, 0.30), u(0.10, 0.25), u(0.06, 0.20)
    else:
        w, d, h = u(0.30, 0.60), u(0.25, 0.45), u(0.20, 0.45)
    materials = pick_colors(rng, ("cardboard", "plastic")[rng.integers(2)])
    lid = min(0.03, h / 4)
    parts = (
        box(0, 0, 0, w, d, h - lid, 0, FLOOR_SKIP),
        box(0, 0, h - lid, w + 0.01, d + 0.01, lid, 0),
    )
    return SceneObject("box", BOX, parts, materials)


def build_ottoman(rng: np.random.Generator) -> SceneObject:
    """An ottoman or pouf (NYU40 39): an upholstered block or drum 38-46 cm high."""
    u = rng.uniform
    height, materials = u(0.38, 0.46), pick_colors(rng, "fabric")
    if rng.random() < 0.5:
        part = cylinder(0, 0, 0, u(0.2, 0.3), height, 0, FLOOR_SKIP)
    else:
        part = box(0, 0, 0, u(0.4, 0.7), u(0.4, 0.6), height, 0, FLOOR_SKIP)
    return SceneObject("ottoman", OTHERFURNITURE, (part,), materials)


def build_bench(rng: np.random.Generator) -> SceneObject:
    """A bench (NYU40 39): a long seat board on two panel legs."""
    u = rng.uniform
    width, depth, height, board = u(1.0, 1.6), u(0.32, 0.45), u(0.42, 0.48), u(0.03, 0.05)
    materials = pick_colors(rng, "wood")
    parts = [box(0, 0, height - board, width, depth, board, 0)]
    for sx in (-1, 1):
        x = sx * (width / 2 - 0.1)
        parts.append(box(x, 0, 0, 0.04, depth - 0.04, height - board, 0, FLOOR_SKIP))
    return SceneObject("bench", OTHERFURNITURE, tuple(parts), materials)


def build_pillow(rng: np.random.Generator, max_width: float) -> SceneObject:
    """A pillow (NYU40 18) lying flat, at most `max_width` metres wide."""
    u = rng.uniform
    width = min(u(0.45, 0.70), max_width)
    materials = pick_colors(rng, "bedding")
    parts = (
        box(0, 0, 0, width, u(0.30, 0.42), u(0.08, 0.14), 0, FLOOR_SKIP),
    )  # fmt: skip
    return SceneObject("pillow", PILLOW, parts, materials)


def build_clutter(
    rng: np.random.Generator, annotated: bool, kind: str | None = None
) -> SceneObject:
    """A small item on a table or counter: NYU40 40 (otherprop) or unannotated (0).

    Args:
        rng: random generator.
        annotated: label it otherprop; else its points are unannotated (0/0).
        kind: one of `CLUTTER_KINDS`; None draws one.
    """
    u = rng.uniform
    kind = kind or str(rng.choice(CLUTTER_KINDS))
    semantic = OTHERPROP if annotated else UNANNOTATED
    if kind == "cup":
        parts = (cylinder(0, 0, 0, u(0.035, 0.05), u(0.08, 0.13), 0, FLOOR_SKIP),)
    elif kind == "book_stack":
        parts = tuple(
            box(u(-0.01, 0.01), u(-0.01, 0.01), 0.03 * k, u(0.15, 0.25), u(0.2, 0.28), 0.03, 0)
            for k in range(int(rng.integers(1, 5)))
        )
    elif kind == "laptop":
        w, d = u(0.30, 0.38), u(0.21, 0.26)
        parts = (
            box(0, 0, 0, w, d, 0.02, 0, FLOOR_SKIP),
            box(0, -d / 2 + 0.005, 0.02, w, 0.01, d * 0.95, 0),
        )
    elif kind == "monitor":
        w, h = u(0.45, 0.65), u(0.30, 0.40)
        parts = (
            box(0, 0, 0, 0.22, 0.18, 0.015, 0, FLOOR_SKIP),
            box(0, -0.04, 0.015, 0.05, 0.03, 0.12, 0),
            box(0, -0.02, 0.1, w, 0.025, h, 0),
        )
    elif kind == "plant":
        radius = u(0.06, 0.12)
        parts = (
            cylinder(0, 0, 0, radius, u(0.1, 0.2), 1, FLOOR_SKIP),
            box(0, 0, 0.12, radius * 2.6, radius * 2.4, u(0.15, 0.35), 0),
        )
        return SceneObject(kind, semantic, parts, pick_colors(rng, "fabric", "plastic"))
    else:
        raise ValueError(f"unknown clutter kind {kind!r}; known: {CLUTTER_KINDS}")
    return SceneObject(kind, semantic, parts, pick_colors(rng, "plastic"))
