"""Storage furniture built from parts: cabinets, bookshelves with books, counters, fridges.

Same frame as `furniture`: origin at the footprint centre on the floor, front towards +y, back
(against a wall) towards -y, metres. Cabinet fronts are thin panels standing 1-2 cm proud of the
body with few-millimetre gaps, so drawers and doors show up as geometry, not only as colour.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from occuseg_core.data.synthetic.geometry import Part, box
from occuseg_core.data.synthetic.objects import (
    BOOKS,
    BOOKSHELF,
    CABINET,
    COUNTER,
    REFRIGERATOR,
    UNANNOTATED,
    Rgb,
    SceneObject,
)
from occuseg_core.data.synthetic.palette import pick_color, pick_colors

FLOOR_SKIP = ("-z",)
FRONT_T = 0.018
GAP = 0.004


def cabinet_materials(rng: np.random.Generator) -> tuple[Rgb, ...]:
    """Body, front and handle colours of a cabinet (fronts contrast in 30% of cabinets)."""
    family = ("wood", "laminate", "white")[rng.integers(3)]
    body = pick_color(rng, family)
    front = pick_color(rng, ("wood", "laminate", "white")[rng.integers(3)])
    return body, front if rng.random() < 0.3 else body, pick_color(rng, "metal")


def build_cabinet(
    rng: np.random.Generator, width: float, depth: float, height: float, *,
    base: str | None = None, fronts: str | None = None, top_slab: bool | None = None,
    materials: tuple[Rgb, ...] | None = None, kind: str = "cabinet", semantic: int = CABINET,
) -> SceneObject:  # fmt: skip
    """A cabinet: body on a plinth, feet or the floor, with door or drawer fronts and handles.

    Args:
        rng: random generator.
        width: x extent in metres (fronts included in the depth).
        depth: y extent in metres.
        height: overall height in metres.
        base: "plinth" (recessed toe kick), "legs" (floor beneath hidden) or "none";
            None draws one.
        fronts: "doors" or "drawers"; None draws one (tall cabinets get doors).
        top_slab: add an overhanging top board; None draws one.
        materials: (body, front, handle) colours; None draws them. Copies that share the
            materials look identical (a run of kitchen cabinets).
        kind: builder name stored on the object ("cabinet", "wardrobe", "nightstand", ...).
        semantic: NYU40 id (cabinet 3; nightstand 32, wardrobe / tv stand 39 in ScanNet).

    Returns:
        The cabinet, front towards +y.
    """
    base = base or ("plinth", "legs", "none")[rng.integers(3)]
    fronts = fronts or ("doors" if height > 1.1 or rng.random() < 0.5 else "drawers")
    top_slab = bool(rng.random() < 0.4) if top_slab is None else top_slab
    materials = materials or cabinet_materials(rng)
    base_h = {"plinth": 0.09, "legs": 0.12, "none": 0.0}[base]
    top_t = 0.025 if top_slab else 0.0
    body_d = depth - FRONT_T - (0.015 if top_slab else 0.0)
    body_y = -depth / 2 + body_d / 2
    body_top = height - top_t
    parts = [box(0, body_y, base_h, width, body_d, body_top - base_h, 0)]
    if base == "plinth":
        parts.append(box(0, body_y - 0.03, 0, width - 0.02, body_d - 0.06, base_h, 0, FLOOR_SKIP))
    elif base == "legs":
        for sx in (-1, 1):
            for sy in (-1, 1):
                x, y = sx * (width / 2 - 0.04), body_y + sy * (body_d / 2 - 0.04)
                parts.append(box(x, y, 0, 0.035, 0.035, base_h, 2, FLOOR_SKIP))
    if top_slab:
        parts.append(box(0, 0, body_top, width + 0.02, depth, top_t, 0))
    front_y = body_y + body_d / 2 + FRONT_T / 2
    parts += _fronts(rng, fronts, width, front_y, base_h, body_top)
    carves = (box(0, body_y, -0.02, width, body_d, base_h + 0.02),) if base == "legs" else ()
    surfaces = (box(0, 0, height, width - 0.04, depth - 0.04, 0.4),) if height < 1.3 else ()
    return SceneObject(kind, semantic, tuple(parts), materials, carves, surfaces=surfaces)


def _fronts(
    rng: np.random.Generator, fronts: str, width: float, y: float, z_min: float, z_max: float
) -> list[Part]:
    """Door or drawer panels covering the front, each with a handle."""
    columns = 1 if width < 0.55 else 2
    rows = 1 if fronts == "doors" else int(rng.integers(2, 5))
    if fronts == "drawers":
        columns = 1 if width < 0.9 else 2
    cell_w, cell_h = width / columns, (z_max - z_min) / rows
    parts: list[Part] = []
    for c in range(columns):
        x = -width / 2 + (c + 0.5) * cell_w
        for r in range(rows):
            z = z_min + r * cell_h
            parts.append(box(x, y, z + GAP / 2, cell_w - GAP, FRONT_T, cell_h - GAP, 1))
            if fronts == "doors":
                side = 1 if (columns == 1 or c == 0) else -1
                hx = x + side * (cell_w / 2 - 0.05)
                hz = z + min(cell_h * 0.5, 1.0)
                parts.append(box(hx, y + FRONT_T, hz - 0.06, 0.015, 0.02, 0.12, 2))
            else:
                parts.append(box(x, y + FRONT_T, z + cell_h * 0.6, 0.12, 0.02, 0.015, 2))
    return parts


def build_bookshelf(rng: np.random.Generator, height: float | None = None) -> SceneObject:
    """A bookshelf (NYU40 10): open front, sides, plinth, top, back board and shelves.

    Each shelf and, on low shelves, the top are support surfaces for `build_book_row`.
    """
    u = rng.uniform
    width, depth = u(0.6, 1.2), u(0.25, 0.40)
    height = u(0.8, 2.0) if height is None else height
    side_t, plinth, back_t, pitch = u(0.018, 0.025), u(0.05, 0.08), 0.008, u(0.28, 0.38)
    materials = pick_colors(rng, ("wood", "laminate", "white")[rng.integers(3)])
    inner_w = width - 2 * side_t
    inner_d = depth - back_t
    inner_y = back_t / 2
    parts = [
        box(-(width - side_t) / 2, 0, 0, side_t, depth, height, 0, FLOOR_SKIP),
        box((width - side_t) / 2, 0, 0, side_t, depth, height, 0, FLOOR_SKIP),
        box(0, inner_y, 0, inner_w, inner_d, plinth, 0, FLOOR_SKIP),
        box(0, inner_y, height - side_t, inner_w, inner_d, side_t, 0),
        box(0, -depth / 2 + back_t / 2, plinth, inner_w, back_t, height - side_t - plinth, 0),
    ]
    levels, ceilings = [plinth], []
    z = plinth + pitch
    while z + side_t < height - side_t - 0.15:
        parts.append(box(0, inner_y, z, inner_w, inner_d, side_t, 0))
        ceilings.append(z)
        levels.append(z + side_t)
        z += pitch + side_t
    ceilings.append(height - side_t)
    surfaces = [
        box(0, inner_y, low, inner_w - 0.01, inner_d - 0.02, high - low - 0.01)
        for low, high in zip(levels, ceilings, strict=True)
    ]
    if height < 1.3:
        surfaces.append(box(0, 0, height, width - 0.04, depth - 0.04, 0.4))
    return SceneObject("bookshelf", BOOKSHELF, tuple(parts), materials, surfaces=tuple(surfaces))


def build_book_row(
    rng: np.random.Generator, length: float, depth: float, clearance: float, annotated: bool
) -> SceneObject | None:
    """A row of upright books along x (NYU40 23 "books", or unannotated), or None if too low.

    Args:
        rng: random generator.
        length: available length along x in metres; the row fills 30-90% of it.
        depth: shelf depth in metres (books are 60-90% as deep, pushed to the back).
        clearance: free height above the shelf in metres.
        annotated: label the row as books (else 0/0, like unannotated clutter in real scans).
    """
    if clearance < 0.14:
        return None
    fill = length * rng.uniform(0.3, 0.9)
    x = -length / 2 + rng.uniform(0, length - fill)
    parts, materials = [], []
    while x < -length / 2 + fill:
        thick = rng.uniform(0.015, 0.05)
        tall = rng.uniform(0.12, min(clearance - 0.01, 0.30))
        book_d = depth * rng.uniform(0.6, 0.9)
        materials.append(pick_color(rng, "paper", variation=0.15))
        y = -depth / 2 + book_d / 2
        parts.append(box(x + thick / 2, y, 0, thick, book_d, tall, len(materials) - 1))
        x += thick
    semantic = BOOKS if annotated else UNANNOTATED
    return SceneObject("books", semantic, tuple(parts), tuple(materials)) if parts else None


def build_counter_top(rng: np.random.Generator, length: float, depth: float) -> SceneObject:
    """A kitchen or bathroom counter top (NYU40 12) lying on cabinets 0.86 m high.

    Args:
        rng: random generator.
        length: x extent in metres.
        depth: y extent in metres, back edge at -depth/2 (against the wall).

    Returns:
        A slab 3-4 cm thick whose underside is at 0.86 m; its top is a support surface.
    """
    thickness = rng.uniform(0.03, 0.04)
    materials = pick_colors(rng, ("laminate", "white", "wood")[rng.integers(3)])
    slab = box(0, 0, 0.86, length, depth, thickness, 0)
    surface = box(0, -0.05, 0.86 + thickness, length - 0.06, depth - 0.16, 0.4)
    return SceneObject("counter", COUNTER, (slab,), materials, surfaces=(surface,))


def build_refrigerator(rng: np.random.Generator, mini: bool = False) -> SceneObject:
    """A refrigerator (NYU40 24): body with one or two doors and vertical handles.

    Args:
        rng: random generator.
        mini: an under-desk mini fridge (0.5-0.85 m tall) instead of a full one (1.5-1.9 m).
    """
    u = rng.uniform
    if mini:
        width, depth, height = u(0.45, 0.55), u(0.45, 0.55), u(0.5, 0.85)
    else:
        width, depth, height = u(0.6, 0.9), u(0.62, 0.75), u(1.5, 1.9)
    materials = pick_colors(rng, ("steel", "white")[rng.integers(2)], "metal")
    door_t = 0.04
    body_d = depth - door_t
    parts = [box(0, -door_t / 2, 0, width, body_d, height, 0, FLOOR_SKIP)]
    split = height * u(0.28, 0.35) if not mini and rng.random() < 0.7 else 0.0
    y = depth / 2 - door_t / 2
    doors = [(0.02, height - split - 0.01), (height - split + 0.005, height - 0.01)]
    for z0, z1 in doors if split else doors[:1]:
        parts.append(box(0, y, z0, width - 0.01, door_t, z1 - z0, 0))
        handle_x = width / 2 - 0.06
        parts.append(box(handle_x, y + door_t / 2 + 0.015, z0 + 0.1, 0.025, 0.03, 0.25, 1))
    return SceneObject("refrigerator", REFRIGERATOR, tuple(parts), materials)


def with_kind(obj: SceneObject, kind: str, semantic: int) -> SceneObject:
    """The same object under another builder name and NYU40 id."""
    return replace(obj, kind=kind, semantic=semantic)
