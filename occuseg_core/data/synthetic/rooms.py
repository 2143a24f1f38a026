"""Furniture recipes per room type: which groups a living room, office, bedroom, bathroom,
kitchen or conference room gets, and where (against a wall or free-standing).

Each recipe draws its hard arrangements with `config.hard_case_prob`, so most rooms hold some
of the contacts OccuSeg must separate, and together the six types cover every ScanNet benchmark
class. A group that finds no free spot is skipped.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from occuseg_core.data.synthetic.bathroom import build_toilet
from occuseg_core.data.synthetic.config import SynthConfig
from occuseg_core.data.synthetic.furniture import build_chair, build_sofa
from occuseg_core.data.synthetic.geometry import Pose
from occuseg_core.data.synthetic.groups import (
    bathtub_set,
    bed_set,
    cabinet_run,
    chair_row,
    desk_set,
    dining_set,
    joined,
    kitchen_run,
    sofa_set,
    washstand,
)
from occuseg_core.data.synthetic.objects import OTHERFURNITURE, SceneObject
from occuseg_core.data.synthetic.placement import (
    FloorPlan,
    group_bounds,
    place_against_wall,
    place_free,
)
from occuseg_core.data.synthetic.small import build_bench, build_bin, build_ottoman
from occuseg_core.data.synthetic.storage import (
    build_bookshelf,
    build_cabinet,
    build_refrigerator,
)


def at_wall(
    rng: np.random.Generator, plan: FloorPlan, group: list[SceneObject],
    walls: tuple[int, ...] = (0, 1, 2, 3),
) -> list[int]:  # fmt: skip
    """Places a group with its back against a wall; returns its layout indices ([] if no room)."""
    pose = place_against_wall(plan, rng, group, walls)
    return plan.add(group, pose) if pose is not None else []


def free(
    rng: np.random.Generator, plan: FloorPlan, group: list[SceneObject], margin: float = 0.3,
    yaw_jitter: float = 0.0,
) -> list[int]:  # fmt: skip
    """Places a group on the open floor; returns its layout indices ([] if no room)."""
    pose = place_free(plan, rng, group, margin=margin, yaw_jitter=yaw_jitter)
    return plan.add(group, pose) if pose is not None else []


def longest_walls(plan: FloorPlan) -> tuple[int, ...]:
    longest = max(w.length_m for w in plan.walls)
    return tuple(i for i, w in enumerate(plan.walls) if w.length_m > longest - 1e-6)


def _maybe(rng: np.random.Generator, prob: float) -> bool:
    return bool(rng.random() < prob)


def _wardrobe(rng: np.random.Generator) -> SceneObject:
    """A wardrobe: a tall door cabinet, NYU40 39 (otherfurniture) as in ScanNet."""
    u = rng.uniform
    return build_cabinet(rng, u(0.8, 1.6), u(0.55, 0.65), u(1.8, 2.1), fronts="doors",
                         kind="wardrobe", semantic=OTHERFURNITURE)  # fmt: skip


def _tv_stand(rng: np.random.Generator) -> SceneObject:
    """A low wide TV stand, NYU40 39 (otherfurniture) as in ScanNet."""
    u = rng.uniform
    return build_cabinet(rng, u(1.0, 1.8), u(0.38, 0.5), u(0.4, 0.6), kind="tv_stand",
                         semantic=OTHERFURNITURE)  # fmt: skip


def _bookshelves(rng: np.random.Generator, hard: bool) -> list[SceneObject]:
    """One bookshelf, or two of one height side by side (touching) for the hard case."""
    first = build_bookshelf(rng)
    if not hard:
        return [first]
    second = build_bookshelf(rng, height=first.z_max)
    w0 = first.footprint()[2] - first.footprint()[0]
    w1 = second.footprint()[2] - second.footprint()[0]
    back0, back1 = first.footprint()[1], second.footprint()[1]
    return [first.moved(Pose(-w0 / 2, -back0)), second.moved(Pose(w1 / 2, -back1))]


def furnish_living_room(rng: np.random.Generator, plan: FloorPlan, config: SynthConfig) -> None:
    hard = config.hard_case_prob
    at_wall(rng, plan, sofa_set(rng, _maybe(rng, hard)))
    if _maybe(rng, 0.3):
        at_wall(rng, plan, [build_sofa(rng)])
    for _ in range(int(rng.integers(0, 3))):
        free(rng, plan, [build_chair(rng, "armchair")], margin=0.2, yaw_jitter=0.4)
    if _maybe(rng, 0.7):
        at_wall(rng, plan, [_tv_stand(rng)] if _maybe(rng, 0.5) else cabinet_run(rng, 2))
    if _maybe(rng, 0.6):
        at_wall(rng, plan, _bookshelves(rng, _maybe(rng, hard * 0.5)))
    if _maybe(rng, 0.35):
        free(rng, plan, [build_ottoman(rng)], margin=0.15)
    if _maybe(rng, 0.3):
        at_wall(rng, plan, [build_bin(rng)])


def furnish_office(rng: np.random.Generator, plan: FloorPlan, config: SynthConfig) -> None:
    hard = config.hard_case_prob
    for _ in range(int(rng.integers(1, 4))):
        group = desk_set(rng, _maybe(rng, hard))
        if _maybe(rng, hard * 0.4):  # two desks side by side
            other = desk_set(rng, True)
            width = group_bounds(group)[2] - group_bounds(other)[0]
            group = group + [o.moved(Pose(width, 0.0)) for o in other]
        at_wall(rng, plan, group)
    if _maybe(rng, 0.7):
        count = int(rng.integers(2, 4)) if _maybe(rng, hard) else 1
        at_wall(rng, plan, cabinet_run(rng, count))
    if _maybe(rng, 0.6):
        at_wall(rng, plan, _bookshelves(rng, _maybe(rng, hard * 0.5)))
    if _maybe(rng, 0.25):
        at_wall(rng, plan, [build_refrigerator(rng, mini=True)])
    if _maybe(rng, 0.3):
        free(rng, plan, dining_set(rng, "dining", _maybe(rng, hard))[0], margin=0.25)
    for _ in range(int(rng.integers(0, 3))):
        at_wall(rng, plan, [build_bin(rng)])


def furnish_bedroom(rng: np.random.Generator, plan: FloorPlan, config: SynthConfig) -> None:
    hard = config.hard_case_prob
    if not at_wall(rng, plan, bed_set(rng, _maybe(rng, hard))):
        at_wall(rng, plan, bed_set(rng, False, stands=False))
    if _maybe(rng, 0.6):
        at_wall(rng, plan, [_wardrobe(rng)])
    if _maybe(rng, 0.5):
        at_wall(rng, plan, desk_set(rng, _maybe(rng, hard)))
    if _maybe(rng, 0.5):
        u = rng.uniform
        at_wall(rng, plan, [build_cabinet(rng, u(0.6, 1.2), u(0.4, 0.55), u(0.7, 1.2),
                                          fronts="drawers")])  # fmt: skip
    if _maybe(rng, 0.3):
        at_wall(rng, plan, [build_bookshelf(rng)])
    if _maybe(rng, 0.25):
        free(rng, plan, [build_chair(rng, "armchair")], margin=0.2, yaw_jitter=0.4)
    if _maybe(rng, 0.3):
        at_wall(rng, plan, [build_bin(rng)])


def furnish_kitchen(rng: np.random.Generator, plan: FloorPlan, config: SynthConfig) -> None:
    hard = config.hard_case_prob
    walls = longest_walls(plan)
    run_length = min(plan.walls[walls[0]].length_m - 0.4, rng.uniform(1.8, 3.4))
    fridge_in_run, uppers = _maybe(rng, 0.75), _maybe(rng, 0.5)
    one = config.joined_kitchen_cabinets
    if not at_wall(rng, plan, kitchen_run(rng, run_length, fridge_in_run, uppers, one), walls):
        at_wall(rng, plan, kitchen_run(rng, run_length * 0.7, fridge_in_run, one_instance=one))
    if not fridge_in_run and _maybe(rng, 0.7):
        at_wall(rng, plan, [build_refrigerator(rng)])
    if _maybe(rng, 0.5):
        run = cabinet_run(rng, int(rng.integers(1, 3)), height=0.86)
        at_wall(rng, plan, joined(run, 0) if one else run)
    if _maybe(rng, 0.7):
        free(rng, plan, dining_set(rng, "dining", _maybe(rng, hard))[0], margin=0.25)
    for _ in range(int(rng.integers(0, 3))):
        at_wall(rng, plan, [build_bin(rng)])


def furnish_bathroom(rng: np.random.Generator, plan: FloorPlan, config: SynthConfig) -> None:
    u = rng.uniform
    if _maybe(rng, 0.8):
        at_wall(rng, plan, bathtub_set(rng))
    at_wall(rng, plan, [build_toilet(rng)])
    at_wall(rng, plan, washstand(rng, _maybe(rng, 0.6), _maybe(rng, 0.5)))
    if _maybe(rng, 0.5):
        at_wall(rng, plan, [build_cabinet(rng, u(0.4, 0.7), u(0.3, 0.45), u(0.8, 1.8))])
    if _maybe(rng, 0.3):
        at_wall(rng, plan, cabinet_run(rng, 2, height=u(0.5, 0.9), depth=u(0.3, 0.4)))
    for _ in range(int(rng.integers(1, 3))):
        at_wall(rng, plan, [build_bin(rng, small=_maybe(rng, 0.5))])


def furnish_conference_room(
    rng: np.random.Generator, plan: FloorPlan, config: SynthConfig
) -> None:
    hard = config.hard_case_prob
    free(rng, plan, dining_set(rng, "conference", _maybe(rng, hard))[0], margin=0.2)
    if _maybe(rng, hard):
        count = int(rng.integers(3, 7))
        if not at_wall(rng, plan, chair_row(rng, count)):
            at_wall(rng, plan, chair_row(rng, 2))
    if _maybe(rng, 0.6):
        count = int(rng.integers(2, 4)) if _maybe(rng, hard) else 1
        at_wall(rng, plan, cabinet_run(rng, count))
    if _maybe(rng, 0.3):
        at_wall(rng, plan, [build_bench(rng)])
    for _ in range(int(rng.integers(0, 3))):
        at_wall(rng, plan, [build_bin(rng)])


FURNISH: dict[str, Callable[[np.random.Generator, FloorPlan, SynthConfig], None]] = {
    "living_room": furnish_living_room,
    "office": furnish_office,
    "bedroom": furnish_bedroom,
    "bathroom": furnish_bathroom,
    "kitchen": furnish_kitchen,
    "conference_room": furnish_conference_room,
}
"""Recipe per room type (keys are `ROOM_TYPES`)."""
