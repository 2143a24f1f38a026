"""Seating, tables, desks and beds built from parts, in the object's own frame.

Frame of every builder: origin at the centre of the footprint on the floor, width along x,
front (where a person sits or stands) towards +y, back towards -y, z up, metres. Sizes are
drawn from ranges typical of real furniture; tables and desks also report the free space under
their top (`KneeSpace`) so the layout can tuck chairs under them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from occuseg_core.data.synthetic.geometry import Part, box, cylinder
from occuseg_core.data.synthetic.objects import BED, CHAIR, DESK, SOFA, TABLE, SceneObject
from occuseg_core.data.synthetic.palette import pick_colors

FLOOR_SKIP = ("-z",)
CHAIR_STYLES = ("legs", "office", "armchair")
TABLE_SIZES_M: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "side": ((0.40, 0.60), (0.40, 0.55), (0.45, 0.62)),
    "coffee": ((0.70, 1.20), (0.45, 0.70), (0.38, 0.48)),
    "dining": ((1.00, 1.80), (0.75, 1.00), (0.72, 0.77)),
    "conference": ((2.20, 3.40), (0.95, 1.25), (0.72, 0.76)),
}
"""Width, depth and height ranges in metres per table kind."""


@dataclass(frozen=True)
class KneeSpace:
    """Free space under a table top along its +y (and, if `both_sides`, -y) edge.

    Args:
        x_min: left end of the free span, object frame, metres.
        x_max: right end of the free span, metres.
        underside_z: height of the top's underside in metres.
        half_depth: distance from the centre to the edge (depth / 2) in metres.
        both_sides: chairs may also go under the -y edge.
        centre_clearance: a tucked chair's front stays this far from the centre line (y = 0),
            metres (clear of the other side's chairs or a pedestal foot).
    """

    x_min: float
    x_max: float
    underside_z: float
    half_depth: float
    both_sides: bool
    centre_clearance: float = 0.05


def _legs(
    width: float, depth: float, height: float, leg: float, inset: float, round_legs: bool,
    material: int,
) -> list[Part]:  # fmt: skip
    """Four legs of a `leg`-thick section at the corners, inset from the edges."""
    dx, dy = width / 2 - inset - leg / 2, depth / 2 - inset - leg / 2
    corners = [(sx * dx, sy * dy) for sx in (-1, 1) for sy in (-1, 1)]
    if round_legs:
        return [cylinder(x, y, 0.0, leg / 2, height, material, FLOOR_SKIP) for x, y in corners]
    return [box(x, y, 0.0, leg, leg, height, material, FLOOR_SKIP) for x, y in corners]


def build_chair(rng: np.random.Generator, style: str | None = None) -> SceneObject:
    """A chair (NYU40 5): four-legged, office (star base) or upholstered armchair.

    Args:
        rng: random generator.
        style: one of `CHAIR_STYLES`; None draws one (legs 50%, office 35%, armchair 15%).

    Returns:
        The chair, front towards +y.
    """
    if style is None:
        style = str(rng.choice(CHAIR_STYLES, p=(0.5, 0.35, 0.15)))
    builders = {"legs": _leg_chair, "office": _office_chair, "armchair": _armchair}
    if style not in builders:
        raise ValueError(f"unknown chair style {style!r}; known: {CHAIR_STYLES}")
    return builders[style](rng)


def _leg_chair(rng: np.random.Generator) -> SceneObject:
    u = rng.uniform
    width, depth = u(0.42, 0.52), u(0.42, 0.50)
    seat_top, seat_t, leg = u(0.43, 0.48), u(0.03, 0.07), u(0.025, 0.04)
    back_h, back_t = u(0.35, 0.50), u(0.025, 0.05)
    main = ("wood", "fabric", "plastic")[rng.integers(3)]
    materials = pick_colors(rng, main, "wood" if main == "wood" else "metal")
    parts = [box(0, 0, seat_top - seat_t, width, depth, seat_t, 0)]
    parts += _legs(width, depth, seat_top - seat_t, leg, 0.01, bool(rng.random() < 0.4), 1)
    back_y = -depth / 2 + back_t / 2
    if rng.random() < 0.5:  # rear posts carry a back panel
        post_x = width / 2 - 0.01 - leg / 2
        post_y = -depth / 2 + 0.01 + leg / 2
        for sx in (-1, 1):
            parts.append(box(sx * post_x, post_y, seat_top, leg, leg, back_h, 1))
        panel_w = 2 * post_x - leg
        parts.append(box(0, post_y, seat_top + 0.12, panel_w, back_t, back_h - 0.14, 0))
    else:
        parts.append(box(0, back_y, seat_top, width, back_t, back_h, 0))
    return SceneObject("chair", CHAIR, tuple(parts), materials)


def _office_chair(rng: np.random.Generator) -> SceneObject:
    u = rng.uniform
    reach, seat_top = u(0.27, 0.33), u(0.45, 0.50)
    width, depth, seat_t = u(0.46, 0.52), u(0.44, 0.50), u(0.06, 0.09)
    materials = pick_colors(rng, "fabric", "plastic")
    parts: list[Part] = []
    for k in range(5):
        angle = 2 * math.pi * k / 5 + math.pi / 2
        cx, cy = math.cos(angle), math.sin(angle)
        parts.append(box(cx * reach / 2, cy * reach / 2, 0.05, reach, 0.045, 0.035, 1, yaw=angle))
        parts.append(cylinder(cx * reach, cy * reach, 0.0, 0.025, 0.05, 1, FLOOR_SKIP))
    parts.append(cylinder(0, 0, 0.085, 0.028, seat_top - seat_t - 0.085, 1))
    parts.append(box(0, 0, seat_top - seat_t, width, depth, seat_t, 0))
    back_t, back_h = u(0.05, 0.07), u(0.45, 0.60)
    parts.append(box(0, -depth / 2 + back_t / 2, seat_top, 0.06, back_t, 0.08, 1))
    parts.append(box(0, -depth / 2 + back_t / 2, seat_top + 0.08, width * 0.92, back_t, back_h, 0))
    if rng.random() < 0.6:  # armrests: post + pad
        pad_y = -depth / 2 + 0.2
        for sx in (-1, 1):
            x = sx * (width / 2 + 0.02)
            parts.append(box(x, pad_y - 0.04, seat_top - seat_t, 0.03, 0.04, 0.23, 1))
            parts.append(box(x, pad_y, seat_top + 0.2, 0.05, 0.24, 0.03, 1))
    return SceneObject("chair", CHAIR, tuple(parts), materials)


def _armchair(rng: np.random.Generator) -> SceneObject:
    u = rng.uniform
    width, depth, seat_top = u(0.70, 0.90), u(0.70, 0.85), u(0.40, 0.45)
    arm_w, arm_h, back_t, back_h = u(0.10, 0.18), u(0.55, 0.65), u(0.15, 0.22), u(0.75, 0.95)
    lift = u(0.06, 0.12) if rng.random() < 0.5 else 0.0
    materials = pick_colors(rng, "fabric", "wood")
    inner = width - 2 * arm_w
    parts = [
        box(0, back_t / 2, lift, inner, depth - back_t, seat_top - lift, 0, FLOOR_SKIP),
        box(0, -depth / 2 + back_t / 2, lift, width, back_t, back_h - lift, 0, FLOOR_SKIP),
    ]
    for sx in (-1, 1):
        parts.append(box(sx * (width - arm_w) / 2, 0, lift, arm_w, depth, arm_h - lift, 0))
    return _lifted(SceneObject("armchair", CHAIR, tuple(parts), materials), width, depth, lift)


def _lifted(
    obj: SceneObject, width: float, depth: float, lift: float, feet_material: int = 1
) -> SceneObject:
    """Adds short corner feet under a body raised by `lift` and hides the floor beneath it."""
    if lift <= 0:
        return obj
    feet = _legs(width, depth, lift, 0.04, 0.02, False, feet_material)
    under = box(0, 0, -0.02, width, depth, lift + 0.02)
    return replace(obj, parts=obj.parts + tuple(feet), carves=obj.carves + (under,))


def build_table(
    rng: np.random.Generator, kind: str = "dining", round_top: bool = False
) -> tuple[SceneObject, KneeSpace]:
    """A table (NYU40 7): top on four legs (optionally with an apron) or a round pedestal table.

    Args:
        rng: random generator.
        kind: key of `TABLE_SIZES_M` (side, coffee, dining, conference).
        round_top: a round top on a pedestal (diameter = the drawn width).

    Returns:
        The table and the free span under its top (both long edges).
    """
    if kind not in TABLE_SIZES_M:
        raise ValueError(f"unknown table kind {kind!r}; known: {sorted(TABLE_SIZES_M)}")
    (w0, w1), (d0, d1), (h0, h1) = TABLE_SIZES_M[kind]
    width, depth, height = rng.uniform(w0, w1), rng.uniform(d0, d1), rng.uniform(h0, h1)
    top_t = rng.uniform(0.025, 0.05)
    materials = pick_colors(rng, ("wood", "laminate")[rng.integers(2)], "metal")
    under = height - top_t
    if round_top:
        radius, foot = min(width, 1.1) / 2, rng.uniform(0.18, 0.26)
        parts = [
            cylinder(0, 0, under, radius, top_t, 0),
            cylinder(0, 0, 0.03, rng.uniform(0.035, 0.06), under - 0.03, 1),
            cylinder(0, 0, 0.0, foot, 0.03, 1, FLOOR_SKIP),
        ]
        surface = box(0, 0, height, radius * 1.3, radius * 1.3, 0.4)
        knee = KneeSpace(-radius * 0.75, radius * 0.75, under, radius, True, foot + 0.03)
        return SceneObject("table", TABLE, tuple(parts), materials, surfaces=(surface,)), knee
    leg, inset = rng.uniform(0.04, 0.07), rng.uniform(0.02, 0.08)
    parts = [box(0, 0, under, width, depth, top_t, 0)]
    parts += _legs(width, depth, under, leg, inset, bool(rng.random() < 0.3), 1)
    apron_h = rng.uniform(0.06, 0.10) if kind != "side" and rng.random() < 0.5 else 0.0
    if apron_h:
        span_x, span_y = width - 2 * (inset + leg), depth - 2 * (inset + leg)
        for s in (-1, 1):
            y = s * (depth / 2 - inset - leg / 2)
            parts.append(box(0, y, under - apron_h, span_x, 0.02, apron_h, 0))
            x = s * (width / 2 - inset - leg / 2)
            parts.append(box(x, 0, under - apron_h, 0.02, span_y, apron_h, 0))
    free = width / 2 - inset - leg
    knee = KneeSpace(-free, free, under - apron_h, depth / 2, True)
    surface = box(0, 0, height, width - 0.08, depth - 0.08, 0.4)
    return SceneObject("table", TABLE, tuple(parts), materials, surfaces=(surface,)), knee


def build_desk(rng: np.random.Generator) -> tuple[SceneObject, KneeSpace]:
    """A desk (NYU40 14): top on legs or side panels, maybe a modesty panel and a drawer unit.

    Returns:
        The desk (front +y, back against a wall at -y) and the knee space along its front.
    """
    u = rng.uniform
    width, depth, height, top_t = u(1.0, 1.6), u(0.55, 0.80), u(0.72, 0.76), u(0.025, 0.035)
    materials = pick_colors(rng, ("wood", "laminate")[rng.integers(2)], "metal", "metal")
    under = height - top_t
    parts = [box(0, 0, under, width, depth, top_t, 0)]
    side = u(0.02, 0.03)
    if rng.random() < 0.5:
        parts += _legs(width, depth, under, u(0.04, 0.06), 0.02, False, 1)
        x_min, x_max = -width / 2 + 0.08, width / 2 - 0.08
    else:
        for sx in (-1, 1):
            parts.append(box(sx * (width - side) / 2, 0, 0, side, depth, under, 0, FLOOR_SKIP))
        x_min, x_max = -width / 2 + side, width / 2 - side
    if rng.random() < 0.5:
        parts.append(box(0, -depth / 2 + 0.05, under - 0.4, width - 2 * side, 0.02, 0.4, 0))
    if rng.random() < 0.5:
        unit_w = u(0.38, 0.45)
        sx = 1 if rng.random() < 0.5 else -1
        x = sx * (width / 2 - side - unit_w / 2)
        parts += _drawer_unit(x, depth, under, unit_w)
        x_min, x_max = (x_min, x - unit_w / 2) if sx > 0 else (x + unit_w / 2, x_max)
    surface = box(0, 0, height, width - 0.08, depth - 0.08, 0.45)
    desk = SceneObject("desk", DESK, tuple(parts), materials, surfaces=(surface,))
    return desk, KneeSpace(x_min, x_max, under, depth / 2, False)


def _drawer_unit(x: float, depth: float, under: float, width: float) -> list[Part]:
    """A drawer block under a desk top: body, three drawer fronts and their handles."""
    body_d = depth - 0.04
    parts = [box(x, -0.02, 0.0, width, body_d, under, 0, FLOOR_SKIP)]
    front_y = -0.02 + body_d / 2 + 0.008
    drawer_h = (under - 0.04) / 3
    for k in range(3):
        z = 0.03 + k * drawer_h
        parts.append(box(x, front_y, z, width - 0.02, 0.016, drawer_h - 0.006, 0))
        parts.append(box(x, front_y + 0.016, z + drawer_h * 0.6, 0.12, 0.02, 0.015, 2))
    return parts


def build_sofa(rng: np.random.Generator, width: float | None = None) -> SceneObject:
    """A sofa (NYU40 6): base, seat cushions, back, two arms, maybe on feet.

    Args:
        rng: random generator.
        width: overall width in metres; None draws 1.5..2.4 m (two or three seats).
    """
    u = rng.uniform
    width = u(1.5, 2.4) if width is None else width
    depth, seat_top, base_top = u(0.80, 0.95), u(0.40, 0.46), u(0.25, 0.32)
    arm_w, arm_h, back_t, back_h = u(0.12, 0.22), u(0.55, 0.66), u(0.16, 0.25), u(0.75, 0.90)
    lift = u(0.06, 0.12) if rng.random() < 0.4 else 0.0
    materials = pick_colors(rng, "fabric", "wood")
    inner, seat_d = width - 2 * arm_w, depth - back_t
    parts = [
        box(0, back_t / 2, lift, inner, seat_d, base_top - lift, 0, FLOOR_SKIP),
        box(0, -depth / 2 + back_t / 2, lift, width, back_t, back_h - lift, 0, FLOOR_SKIP),
    ]
    for sx in (-1, 1):
        parts.append(box(sx * (width - arm_w) / 2, 0, lift, arm_w, depth, arm_h - lift, 0))
    seats = 2 if width < 1.9 else 3
    for k in range(seats):
        x = -inner / 2 + inner * (k + 0.5) / seats
        parts.append(box(x, back_t / 2, base_top, inner / seats, seat_d, seat_top - base_top, 0))
    return _lifted(SceneObject("sofa", SOFA, tuple(parts), materials), width, depth, lift)


def build_bed(rng: np.random.Generator) -> SceneObject:
    """A bed (NYU40 4): frame, mattress under a duvet, headboard at -y, maybe a footboard.

    The floor under the bed is hidden (a box frame stands on it; a frame on legs carves it).
    """
    u = rng.uniform
    width, length = float(rng.choice([0.9, 1.2, 1.4, 1.6, 1.8])) + u(0, 0.1), u(1.95, 2.15)
    frame_top, mattress_h = u(0.20, 0.35), u(0.18, 0.25)
    head_t, head_h = u(0.04, 0.08), u(0.85, 1.20)
    lift = u(0.10, 0.18) if rng.random() < 0.4 else 0.0
    materials = pick_colors(rng, "wood", "bedding", "white")
    body_y = head_t / 2
    body_l = length - head_t
    parts = [
        box(0, body_y, lift, width, body_l, frame_top - lift, 0, FLOOR_SKIP),
        box(0, body_y, frame_top, width - 0.03, body_l - 0.03, mattress_h, 2),
        box(0, -length / 2 + head_t / 2, lift, width + 0.02, head_t, head_h - lift, 0, FLOOR_SKIP),
    ]
    top = frame_top + mattress_h
    duvet_l = body_l * u(0.65, 0.8)
    duvet_y = length / 2 - duvet_l / 2
    parts.append(box(0, duvet_y, top - 0.12, width + 0.04, duvet_l + 0.02, 0.16, 1))
    if rng.random() < 0.3:
        parts.append(box(0, length / 2 - 0.02, lift, width + 0.02, 0.04, top + 0.05 - lift, 0))
    pillow_zone = box(0, -length / 2 + head_t + 0.25, top, width - 0.1, 0.4, 0.3)
    bed = SceneObject("bed", BED, tuple(parts), materials, surfaces=(pillow_zone,))
    return _lifted(bed, width + 0.02, length, lift, feet_material=0)
