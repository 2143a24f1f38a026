"""Arrangements that make instance segmentation hard, built as groups in one shared frame.

Each function returns objects that touch on purpose: identical chairs side by side, chairs
tucked under a table top until their backs meet its edge, cabinets in a run under one counter
with a sink set into it, nightstands against a bed, a small table against a sofa's arm. Group
frame: back edge (to be put against a wall) at min y, front towards +y, metres.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from occuseg_core.data.synthetic.bathroom import (
    build_bathtub,
    build_inset_sink,
    build_pedestal_sink,
    build_shower_curtain,
)
from occuseg_core.data.synthetic.furniture import (
    KneeSpace,
    build_bed,
    build_chair,
    build_desk,
    build_sofa,
    build_table,
)
from occuseg_core.data.synthetic.geometry import Pose, SolidTable
from occuseg_core.data.synthetic.objects import CABINET, NIGHT_STAND, SceneObject
from occuseg_core.data.synthetic.placement import group_bounds
from occuseg_core.data.synthetic.small import build_bin, build_pillow
from occuseg_core.data.synthetic.storage import (
    build_cabinet,
    build_counter_top,
    build_refrigerator,
    cabinet_materials,
)


def _at(obj: SceneObject, x: float = 0.0, y: float = 0.0, yaw: float = 0.0) -> SceneObject:
    return obj.moved(Pose(x, y, yaw))


def _back_to(obj: SceneObject, x: float, back_y: float) -> SceneObject:
    """The object moved so its footprint's back edge lies at `back_y` and centre at x."""
    x0, y0, x1, _ = obj.footprint()
    return _at(obj, x - (x0 + x1) / 2, back_y - y0)


def max_tuck(chair: SceneObject, underside_z: float) -> float:
    """How far a chair's front may slide under a table top whose underside is at `underside_z`:
    the distance from the chair's front to the front of its first part that reaches the top."""
    front = chair.footprint()[3]
    tall = [p for p in chair.parts if p.z_max > underside_z - 0.005]
    if not tall:
        return front - chair.footprint()[1]
    tall_front = float(SolidTable.from_parts(tall).aabb_max[:, 1].max())
    return max(front - tall_front, 0.0)


def chairs_at_edge(
    rng: np.random.Generator, chair: SceneObject, knee: KneeSpace, count: int, side: int,
    touching: bool, tuck_prob: float,
) -> list[SceneObject]:  # fmt: skip
    """Copies of `chair` along a table's +y (side=1) or -y (side=-1) edge, facing the table.

    Args:
        rng: random generator.
        chair: the chair (front +y) to copy; copies share geometry and colour.
        knee: the table's free span under its top, table frame.
        count: wanted number of chairs (fewer if they do not fit).
        side: +1 or -1.
        touching: neighbours' seats touch (spacing = chair width) instead of evenly spread.
        tuck_prob: probability that a chair is pushed in until its back meets the table edge.

    Returns:
        The chairs in the table's frame.
    """
    cx0, cy0, cx1, cy1 = chair.footprint()
    width = cx1 - cx0
    span = knee.x_max - knee.x_min
    count = min(count, int(span // (width + (0.0 if touching else 0.04))))
    if count <= 0:
        return []
    pitch = width if touching else span / count
    first = (knee.x_min + knee.x_max) / 2 - pitch * (count - 1) / 2
    reach = min(max_tuck(chair, knee.underside_z), knee.half_depth - knee.centre_clearance)
    chairs = []
    for k in range(count):
        tucked = rng.random() < tuck_prob
        tuck = reach if tucked else -rng.uniform(0.05, 0.3)
        jitter = 0.0 if tucked or touching else rng.uniform(-0.3, 0.3)
        edge = side * (knee.half_depth - tuck)
        yaw = math.pi if side > 0 else 0.0
        center = chair.moved(Pose(0, 0, yaw + jitter)).footprint()
        offset_y = edge - (center[1] if side > 0 else center[3])
        x = first + k * pitch - (cx0 + cx1) / 2 * (-1 if side > 0 else 1)
        chairs.append(_at(chair, x, offset_y, yaw + jitter))
    return chairs


def chair_row(rng: np.random.Generator, count: int, style: str | None = None) -> list[SceneObject]:
    """`count` identical chairs side by side, seats touching, backs at min y (a wall row)."""
    chair = build_chair(rng, style or ("legs", "armchair")[int(rng.random() < 0.25)])
    x0, y0, x1, _ = chair.footprint()
    width = x1 - x0
    return [_back_to(chair, (k - (count - 1) / 2) * width, 0.0) for k in range(count)]


def dining_set(
    rng: np.random.Generator, kind: str, hard: bool
) -> tuple[list[SceneObject], SceneObject]:
    """A table with chairs on both long sides; with `hard`, chairs touch and are tucked in.

    Returns:
        (table + chairs in the table frame, the table itself).
    """
    table, knee = build_table(rng, kind, round_top=kind == "dining" and rng.random() < 0.2)
    if hard:
        style = "legs"  # seats that touch their neighbours' seats
    elif kind == "conference":
        style = "office"
    else:
        style = "office" if rng.random() < 0.2 else "legs"
    chair = build_chair(rng, style)
    per_side = max(1, int((knee.x_max - knee.x_min) // 0.55))
    objects = [table]
    for side in (1, -1):
        n = per_side if hard else int(rng.integers(1, per_side + 1))
        objects += chairs_at_edge(rng, chair, knee, n, side, hard, 0.8 if hard else 0.4)
    return objects, table


def desk_set(rng: np.random.Generator, hard: bool) -> list[SceneObject]:
    """A desk (back at y=0) with a chair at its front and maybe a bin or cabinet beside it."""
    desk, knee = build_desk(rng)
    objects = [_back_to(desk, 0.0, 0.0)]
    shift = objects[0].footprint()[1] - desk.footprint()[1]
    chair = build_chair(rng, ("office", "legs")[int(rng.random() < 0.3)])
    chairs = chairs_at_edge(rng, chair, knee, 1, 1, False, 0.9 if hard else 0.5)
    objects += [c.moved(Pose(0.0, shift)) for c in chairs]
    x0, y0, x1, _ = objects[0].footprint()
    side = 1 if rng.random() < 0.5 else -1
    if hard and rng.random() < 0.5:
        cab = build_cabinet(rng, rng.uniform(0.4, 0.5), rng.uniform(0.45, 0.6),
                            rng.uniform(0.55, 0.72), base="none")  # fmt: skip
        half = (cab.footprint()[2] - cab.footprint()[0]) / 2
        objects.append(_back_to(cab, (x1 + half) if side > 0 else (x0 - half), 0.0))
    elif rng.random() < 0.6:
        bin_ = build_bin(rng)
        half = (bin_.footprint()[2] - bin_.footprint()[0]) / 2
        objects.append(_back_to(bin_, (x1 + half) if side > 0 else (x0 - half), 0.02))
    return objects


def sofa_set(rng: np.random.Generator, hard: bool) -> list[SceneObject]:
    """A sofa (back at y=0), a small side table against its arm, a coffee table in front."""
    sofa = _back_to(build_sofa(rng), 0.0, 0.0)
    objects = [sofa]
    x0, _, x1, y1 = sofa.footprint()
    if hard or rng.random() < 0.5:
        side_table, _ = build_table(rng, "side", round_top=rng.random() < 0.3)
        half = (side_table.footprint()[2] - side_table.footprint()[0]) / 2
        x = x1 + half if rng.random() < 0.5 else x0 - half
        objects.append(_back_to(side_table, x, 0.0))
    if rng.random() < 0.7:
        coffee, _ = build_table(rng, "coffee", round_top=rng.random() < 0.2)
        objects.append(_back_to(coffee, (x0 + x1) / 2, y1 + rng.uniform(0.3, 0.45)))
    return objects


def bed_set(rng: np.random.Generator, hard: bool, stands: bool = True) -> list[SceneObject]:
    """A bed (headboard at y=0) with pillows and, with `stands`, a nightstand or cabinet
    against each side (both with `hard`, else each with probability 0.6)."""
    bed = _back_to(build_bed(rng), 0.0, 0.0)
    objects = [bed]
    zone = bed.surfaces[0]
    count = 1 if zone.size[0] < 1.1 else 2
    pillow = build_pillow(rng, zone.size[0] / count)
    pitch = (pillow.footprint()[2] - pillow.footprint()[0]) + (0.0 if hard else 0.05)
    for k in range(count):
        x = zone.center[0] + (k - (count - 1) / 2) * pitch
        objects.append(pillow.moved(Pose(x, zone.center[1], 0.0, zone.z_min)))
    x0, _, x1, _ = bed.footprint()
    stand_w, stand_d, stand_h = rng.uniform(0.4, 0.55), rng.uniform(0.35, 0.45), rng.uniform(
        0.45, 0.65)  # fmt: skip
    materials = cabinet_materials(rng)
    semantic = CABINET if rng.random() < 0.7 else NIGHT_STAND
    for side in (-1, 1) if stands else ():
        if not hard and rng.random() < 0.4:
            continue
        stand = build_cabinet(
            rng,
            stand_w,
            stand_d,
            stand_h,
            fronts="drawers",
            materials=materials,
            kind="nightstand",
            semantic=semantic,
        )
        x = x1 + stand_w / 2 if side > 0 else x0 - stand_w / 2
        objects.append(_back_to(stand, x, 0.0))
    return objects


def joined(run: list[SceneObject], first: int) -> list[SceneObject]:
    """The run with every object after the first labelled as the first, which sits at group
    index `first` (so the run is annotated as one instance)."""
    return run[:1] + [replace(obj, labelled_as=first) for obj in run[1:]]


def cabinet_run(
    rng: np.random.Generator, count: int, height: float | None = None, depth: float | None = None
) -> list[SceneObject]:
    """`count` cabinets side by side (touching), one height and depth, shared colours."""
    height = rng.uniform(0.7, 1.3) if height is None else height
    depth = rng.uniform(0.4, 0.6) if depth is None else depth
    materials = cabinet_materials(rng)
    widths = rng.uniform(0.4, 0.9, size=count)
    base = ("plinth", "none")[rng.integers(2)]
    objects, x = [], -widths.sum() / 2
    for width in widths:
        cab = build_cabinet(rng, width, depth, height, base=base, materials=materials)
        objects.append(_back_to(cab, x + width / 2, 0.0))
        x += width
    return objects


def kitchen_run(
    rng: np.random.Generator,
    length: float,
    fridge: bool,
    uppers: bool = False,
    one_instance: bool = False,
) -> list[SceneObject]:
    """Base cabinets under one counter top with a sink set into it, maybe a fridge at one end
    and wall cabinets hanging above the counter (all but the sink's).

    The sink's `hosts` are the group indices of the counter and the cabinet under it. With
    `one_instance` the base cabinets are labelled as one cabinet, the wall cabinets as another.
    """
    count = max(2, round(length / rng.uniform(0.5, 0.8)))
    depth = rng.uniform(0.56, 0.60)
    cabinets = cabinet_run(rng, count, height=0.86, depth=depth)
    if one_instance:
        cabinets = joined(cabinets, 0)
    x0, _, x1, _ = group_bounds(cabinets)
    top = build_counter_top(rng, x1 - x0 + 0.04, depth + rng.uniform(0.02, 0.05))
    counter = _back_to(top, (x0 + x1) / 2, 0.0)
    objects = [*cabinets, counter]
    below = int(rng.integers(len(cabinets)))
    cab_x0, _, cab_x1, _ = cabinets[below].footprint()
    sink = build_inset_sink(
        rng, counter.z_max, (len(cabinets), below), kitchen=True, max_width=cab_x1 - cab_x0 - 0.1
    )
    sink_y = counter.footprint()[1] + 0.35
    objects.append(_at(sink, (cab_x0 + cab_x1) / 2, sink_y))
    if uppers:
        hung = wall_cabinets(rng, [c for k, c in enumerate(cabinets) if k != below])
        objects += joined(hung, len(objects)) if one_instance else hung
    if fridge:
        box_ = build_refrigerator(rng)
        half = (box_.footprint()[2] - box_.footprint()[0]) / 2
        objects.append(_back_to(box_, x1 + rng.uniform(0.0, 0.02) + half, 0.0))
    return objects


def wall_cabinets(rng: np.random.Generator, below: list[SceneObject]) -> list[SceneObject]:
    """Identical-looking wall cabinets hanging 1.42-1.5 m up, one above each given cabinet."""
    bottom, height, depth = rng.uniform(1.42, 1.5), rng.uniform(0.6, 0.75), rng.uniform(0.3, 0.35)
    materials = cabinet_materials(rng)
    hung = []
    for base in below:
        x0, _, x1, _ = base.footprint()
        cab = build_cabinet(rng, x1 - x0, depth, height, base="none", fronts="doors",
                            top_slab=False, materials=materials)  # fmt: skip
        placed = _back_to(cab, (x0 + x1) / 2, 0.0)
        hung.append(placed.moved(Pose(0.0, 0.0, 0.0, bottom)))
    return hung


def washstand(rng: np.random.Generator, vanity: bool, medicine_cabinet: bool) -> list[SceneObject]:
    """A bathroom sink: set into the counter of a vanity cabinet, or on a pedestal; maybe a
    medicine cabinet (NYU40 3) hanging above it."""
    if vanity:
        width = rng.uniform(0.6, 1.2)
        cab = _back_to(build_cabinet(rng, width, 0.5, 0.86, top_slab=False), 0.0, 0.0)
        counter = _back_to(build_counter_top(rng, width + 0.04, 0.54), 0.0, 0.0)
        sink = build_inset_sink(rng, counter.z_max, (1, 0), kitchen=False)
        objects = [cab, counter, _at(sink, 0.0, counter.footprint()[1] + 0.3)]
    else:
        objects = [_back_to(build_pedestal_sink(rng), 0.0, 0.0)]
    if medicine_cabinet:
        u = rng.uniform
        cab = build_cabinet(rng, u(0.4, 0.6), u(0.14, 0.2), u(0.5, 0.7), base="none",
                            fronts="doors", top_slab=False)  # fmt: skip
        objects.append(_back_to(cab, 0.0, 0.0).moved(Pose(0.0, 0.0, 0.0, u(1.3, 1.45))))
    return objects


def bathtub_set(rng: np.random.Generator) -> list[SceneObject]:
    """A bathtub (long side at y=0) with a shower curtain hanging just inside its front rim."""
    tub = _back_to(build_bathtub(rng), 0.0, 0.0)
    x0, _, x1, y1 = tub.footprint()
    curtain = build_shower_curtain(rng, x1 - x0 - 0.04)
    return [tub, curtain.moved(Pose((x0 + x1) / 2, y1 - 0.16))]
