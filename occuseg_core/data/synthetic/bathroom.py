"""Bathroom and kitchen fixtures from parts: toilet, sinks, bathtub, shower curtain.

Same frame as `furniture` (footprint centre on the floor, front +y, back against a wall at -y).
Basins and tubs are hollow: thin walls around an open interior, so their inner faces are what
the scanner sees. A sink set into a counter samples only its inner faces and rim, carves the
counter's top out of its opening and is not hidden by its host counter and cabinet.
"""

from __future__ import annotations

import numpy as np

from occuseg_core.data.synthetic.geometry import Part, box, cylinder
from occuseg_core.data.synthetic.objects import (
    BATHTUB,
    SHOWER_CURTAIN,
    SINK,
    TOILET,
    SceneObject,
)
from occuseg_core.data.synthetic.palette import pick_colors
from occuseg_core.data.synthetic.structure import fold_parts

FLOOR_SKIP = ("-z",)
ALL_BOX_FACES = frozenset(("+x", "-x", "+y", "-y", "+z", "-z"))


def build_toilet(rng: np.random.Generator) -> SceneObject:
    """A toilet (NYU40 33): tank against the wall, pedestal, elongated bowl, seat and lid."""
    u = rng.uniform
    tank_w, tank_d, tank_h = u(0.36, 0.45), u(0.16, 0.22), u(0.32, 0.40)
    radius, bowl_top, reach = u(0.17, 0.20), u(0.36, 0.40), u(0.62, 0.72)
    materials = pick_colors(rng, "porcelain", ("porcelain", "wood")[rng.integers(2)])
    back = -reach / 2
    front_c = reach / 2 - radius
    tank_y = back + tank_d / 2
    bowl_back = back + tank_d
    parts = [
        box(0, tank_y, bowl_top + 0.02, tank_w, tank_d, tank_h, 0),
        box(0, tank_y, bowl_top + 0.02 + tank_h, tank_w + 0.02, tank_d + 0.02, 0.02, 0),
        box(0, (bowl_back + front_c) / 2, 0, 0.22, front_c - bowl_back, bowl_top, 0, FLOOR_SKIP),
        box(0, (bowl_back + front_c) / 2, bowl_top - 0.16, 2 * radius, front_c - bowl_back,
            0.16, 0),
        cylinder(0, front_c, bowl_top - 0.16, radius, 0.16, 0),
        cylinder(0, front_c - 0.06, 0, 0.12, bowl_top - 0.16, 0, FLOOR_SKIP),
        box(0, tank_y, bowl_top - 0.02, tank_w * 0.6, tank_d, 0.04, 0),
    ]  # fmt: skip
    seat_z = bowl_top
    parts.append(cylinder(0, front_c - 0.02, seat_z, radius + 0.01, 0.025, 1))
    if rng.random() < 0.7:
        parts.append(cylinder(0, front_c - 0.02, seat_z + 0.025, radius, 0.02, 1))
    else:  # lid raised against the tank
        parts.append(box(0, bowl_back + 0.03, seat_z + 0.025, 2 * radius, 0.02, 0.38, 1))
    return SceneObject("toilet", TOILET, tuple(parts), materials)


def _basin_walls(
    width: float, depth: float, bottom: float, height: float, wall_t: float, inner_only: bool,
    material: int,
) -> list[Part]:  # fmt: skip
    """Four walls and a floor around an open w x d interior from z=bottom to bottom+height.

    With `inner_only`, only the faces looking into the interior are sampled (a basin set into
    a counter); otherwise every face may be seen (a free-standing basin).
    """

    def skip(keep: str) -> tuple[str, ...]:
        return tuple(ALL_BOX_FACES - {keep}) if inner_only else ()

    half_w, half_d = width / 2 + wall_t / 2, depth / 2 + wall_t / 2
    outer_w = width + 2 * wall_t
    return [
        box(0, 0, bottom - wall_t, outer_w, depth + 2 * wall_t, wall_t, material, skip("+z")),
        box(-half_w, 0, bottom, wall_t, depth, height, material, skip("+x")),
        box(half_w, 0, bottom, wall_t, depth, height, material, skip("-x")),
        box(0, -half_d, bottom, outer_w, wall_t, height, material, skip("+y")),
        box(0, half_d, bottom, outer_w, wall_t, height, material, skip("-y")),
    ]


def build_pedestal_sink(rng: np.random.Generator) -> SceneObject:
    """A free-standing bathroom sink (NYU40 34): basin on a pedestal (or wall-hung), faucet."""
    u = rng.uniform
    width, depth, height, wall_t = u(0.40, 0.52), u(0.30, 0.40), u(0.14, 0.18), u(0.02, 0.03)
    top = u(0.82, 0.88)
    materials = pick_colors(rng, "porcelain", "steel")
    outer_d = depth + 2 * wall_t
    bottom = top - height
    parts = _basin_walls(width, depth, bottom, height, wall_t, False, 0)
    if rng.random() < 0.7:
        parts.append(cylinder(0, -0.04, 0, u(0.08, 0.11), bottom - wall_t, 0, FLOOR_SKIP))
    faucet_y = -outer_d / 2 + 0.02
    parts.append(cylinder(0, faucet_y, top, 0.015, 0.12, 1))
    parts.append(box(0, faucet_y + 0.06, top + 0.1, 0.025, 0.12, 0.02, 1))
    return SceneObject("sink", SINK, tuple(parts), materials)


def build_inset_sink(
    rng: np.random.Generator, top_z: float, hosts: tuple[int, ...], kitchen: bool,
    max_width: float = 1.0,
) -> SceneObject:  # fmt: skip
    """A sink (NYU40 34) set into a counter whose top is at `top_z`.

    Args:
        rng: random generator.
        top_z: height of the counter's top surface in metres.
        hosts: layout indices of the counter and cabinet it sits in (they do not hide it).
        kitchen: steel kitchen basin (wider, deeper) instead of a porcelain vanity basin.
        max_width: the basin and its rim stay within this width in metres.

    Returns:
        The sink, centred on its basin; the basin interior is carved out of the counter.
    """
    u = rng.uniform
    if kitchen:
        width, depth, height = u(0.40, 0.75), u(0.34, 0.42), u(0.16, 0.20)
    else:
        width, depth, height = u(0.35, 0.48), u(0.28, 0.36), u(0.12, 0.16)
    width = max(min(width, max_width - 0.06), 0.2)
    materials = pick_colors(rng, "steel" if kitchen else "porcelain", "steel")
    bottom = top_z - height
    parts = _basin_walls(width, depth, bottom, height, 0.01, True, 0)
    rim = 0.03
    ring = [
        (0, depth / 2 + rim / 2, width + 2 * rim, rim),
        (0, -depth / 2 - rim / 2, width + 2 * rim, rim),
        (width / 2 + rim / 2, 0, rim, depth),
        (-width / 2 - rim / 2, 0, rim, depth),
    ]
    parts += [box(x, y, top_z, sx, sy, 0.006, 0, FLOOR_SKIP) for x, y, sx, sy in ring]
    faucet_y = -depth / 2 - rim - 0.03
    parts.append(cylinder(0, faucet_y, top_z, 0.016, u(0.18, 0.30), 1, FLOOR_SKIP))
    opening = box(0, 0, bottom, width, depth, height + 0.004)
    return SceneObject("sink", SINK, tuple(parts), materials, (opening,), hosts)


def build_bathtub(rng: np.random.Generator) -> SceneObject:
    """A bathtub (NYU40 36): a hollow tub 1.5-1.8 m long along x, rim walls and inner floor."""
    u = rng.uniform
    length, width, height, rim = u(1.5, 1.8), u(0.70, 0.80), u(0.50, 0.60), u(0.06, 0.10)
    floor_z = u(0.12, 0.18)
    materials = pick_colors(rng, "porcelain")
    inner_l, inner_w = length - 2 * rim, width - 2 * rim
    parts = [box(0, 0, 0, length, width, floor_z, 0, FLOOR_SKIP)]
    for s in (-1, 1):
        parts.append(box(0, s * (width - rim) / 2, 0, length, rim, height, 0, FLOOR_SKIP))
        parts.append(box(s * (length - rim) / 2, 0, 0, rim, inner_w, height, 0, FLOOR_SKIP))
    inner = box(0, 0, floor_z, inner_l, inner_w, height - floor_z)
    return SceneObject("bathtub", BATHTUB, tuple(parts), materials, surfaces=(inner,))


def build_shower_curtain(rng: np.random.Generator, span_m: float) -> SceneObject:
    """A shower curtain (NYU40 28) hanging in folds along x over [-span/2, span/2].

    Args:
        rng: random generator.
        span_m: length of the rail in metres; the curtain is drawn over 35-100% of it.
    """
    drawn = span_m * rng.uniform(0.35, 1.0)
    x0 = -span_m / 2 if rng.random() < 0.5 else span_m / 2 - drawn
    z0, z1 = rng.uniform(0.25, 0.6), rng.uniform(1.85, 2.0)
    materials = pick_colors(rng, "curtain", "white")
    parts = fold_parts(rng, x0, x0 + drawn, 0.0, z0, z1, int(rng.integers(2)))
    return SceneObject("shower_curtain", SHOWER_CURTAIN, tuple(parts), materials)
