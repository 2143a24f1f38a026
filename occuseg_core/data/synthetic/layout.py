"""A furnished room from a seed: shell (floor, walls, doors, windows, curtains), the room type's
furniture (`rooms`), pictures on free wall areas, books on shelves and clutter on surfaces.

Rooms are rectangles [0, width] x [0, length] in metres, z up from the floor. Everything random
comes from the one generator passed in, so a seed fixes the layout.
"""

from __future__ import annotations

import numpy as np

from occuseg_core.data.synthetic.config import SynthConfig
from occuseg_core.data.synthetic.geometry import Pose
from occuseg_core.data.synthetic.objects import RoomLayout, rectangle_walls
from occuseg_core.data.synthetic.palette import pick_color
from occuseg_core.data.synthetic.placement import FloorPlan, place_on_surface, transform_rect
from occuseg_core.data.synthetic.rooms import FURNISH
from occuseg_core.data.synthetic.small import build_bin, build_clutter, build_storage_box
from occuseg_core.data.synthetic.storage import build_book_row
from occuseg_core.data.synthetic.structure import (
    Opening,
    build_curtain,
    build_door,
    build_floor,
    build_picture,
    build_wall,
    build_window,
    on_wall,
    swing_open,
)

CURTAIN_PROB = {
    "living_room": 0.8, "bedroom": 0.8, "office": 0.3, "conference_room": 0.4, "kitchen": 0.2,
    "bathroom": 0.15,
}  # fmt: skip
PICTURES = {
    "living_room": 3, "bedroom": 3, "office": 2, "conference_room": 2, "kitchen": 1,
    "bathroom": 1,
}  # fmt: skip
SILL_M = {"bathroom": (1.2, 1.5), "kitchen": (1.0, 1.2)}
"""Window sill height ranges in metres where they differ from (0.75, 1.0)."""
SURFACE_OWNERS = ("table", "desk", "counter", "cabinet", "nightstand", "bookshelf")


def build_layout(rng: np.random.Generator, config: SynthConfig) -> RoomLayout:
    """Draws a room type and size, builds its shell and furnishes it.

    Args:
        rng: the scene's random generator.
        config: generator configuration.

    Returns:
        The finished layout: floor first, then the four walls, then everything else.
    """
    room_type = config.room_types[int(rng.integers(len(config.room_types)))]
    sizes = {"bathroom": config.bathroom_size_m, "conference_room": config.conference_size_m}
    low, high = sizes.get(room_type, config.room_size_m)
    width, length = (float(v) for v in rng.uniform(low, high, size=2))
    ceiling = float(rng.uniform(*config.ceiling_height_m))
    walls = rectangle_walls(width, length)
    plan = FloorPlan(width, length, ceiling, walls)
    plan.add([build_floor(rng, width, length)], block=False)
    openings = plan_openings(rng, plan, room_type)
    wall_color = pick_color(rng, "wall", variation=0.04)
    for index, wall in enumerate(walls):
        plan.add([build_wall(wall, index, ceiling, openings[index], wall_color)], block=False)
    # Open doors draw from a generator of their own: the room is the same with or without them.
    door_rng = rng.spawn(1)[0] if config.open_door_prob > 0 else None
    add_openings(rng, plan, openings, CURTAIN_PROB[room_type], config.open_door_prob, door_rng)
    FURNISH[room_type](rng, plan, config)
    add_books(rng, plan, config)
    for _ in range(int(rng.integers(0, PICTURES[room_type] + 1))):
        add_picture(rng, plan)
    add_clutter(rng, plan, config)
    return RoomLayout(room_type, width, length, ceiling, walls, tuple(plan.objects))


def _free_interval(
    rng: np.random.Generator, length: float, width: float, taken: list[Opening]
) -> float | None:
    """Left edge of a `width` gap on a wall of `length`, 20 cm from corners and openings."""
    for _ in range(10):
        start = rng.uniform(0.2, length - width - 0.2) if length - width > 0.4 else None
        if start is None:
            return None
        if all(start + width + 0.2 < o.start_m or start > o.end_m + 0.2 for o in taken):
            return float(start)
    return None


def plan_openings(
    rng: np.random.Generator, plan: FloorPlan, room_type: str
) -> list[list[Opening]]:
    """Doors (one, sometimes two) and windows (none to three) per wall."""
    openings: list[list[Opening]] = [[] for _ in plan.walls]
    top_limit = plan.ceiling_m - 0.15
    for _ in range(1 if rng.random() < 0.75 else 2):
        wall = int(rng.integers(4))
        double = room_type == "conference_room" and rng.random() < 0.3
        width = rng.uniform(1.4, 1.6) if double else rng.uniform(0.8, 0.95)
        start = _free_interval(rng, plan.walls[wall].length_m, width, openings[wall])
        if start is not None:
            height = min(rng.uniform(2.0, 2.1), top_limit)
            openings[wall].append(Opening("door", start, width, 0.0, height))
    bathroom = room_type == "bathroom"
    for _ in range(int(rng.integers(0, 2)) if bathroom else int(rng.integers(1, 4))):
        wall = int(rng.integers(4))
        width = rng.uniform(0.5, 0.8) if bathroom else rng.uniform(0.7, 2.0)
        start = _free_interval(rng, plan.walls[wall].length_m, width, openings[wall])
        if start is None:
            continue
        sill = rng.uniform(*SILL_M.get(room_type, (0.75, 1.0)))
        height = min(rng.uniform(0.8, 1.5), top_limit - 0.1 - sill)
        if height > 0.4:
            openings[wall].append(Opening("window", start, width, sill, height))
    return openings


def add_openings(
    rng: np.random.Generator, plan: FloorPlan, openings: list[list[Opening]], curtain_prob: float,
    open_door_prob: float = 0.0, door_rng: np.random.Generator | None = None,
) -> None:  # fmt: skip
    """Adds doors and windows (and curtains beside windows); keeps the floor in front of doors
    (and an open door's swing) clear and furniture in front of windows lower than the sill.
    A door stands open with probability `open_door_prob`, drawn from `door_rng`."""
    for index, wall in enumerate(plan.walls):
        for hole in openings[index]:
            a, b = hole.start_m, hole.end_m
            if hole.kind == "door":
                door, clear = build_door(rng, hole), (a - 0.15, 0.0, b + 0.15, 0.9)
                if door_rng is not None and door_rng.random() < open_door_prob:
                    door = swing_open(door, hole, door_rng)
                    clear = (a - 0.3, 0.0, b + 0.3, max(0.9, hole.width_m + 0.1))
                plan.add([on_wall(door, wall, index)], block=False)
                plan.rects.append(transform_rect(clear, wall.pose_at(0)))
                plan.wall_areas[index].append((a - 0.1, 0.0, b + 0.1, hole.top_m + 0.1))
                continue
            plan.add([on_wall(build_window(rng, hole), wall, index)], block=False)
            plan.height_limits[index].append((a - 0.05, b + 0.05, hole.bottom_m - 0.03))
            plan.wall_areas[index].append((a - 0.05, hole.bottom_m - 0.06, b + 0.05,
                                           hole.top_m + 0.05))  # fmt: skip
            if rng.random() < curtain_prob:
                add_curtains(rng, plan, index, hole)


def add_curtains(rng: np.random.Generator, plan: FloorPlan, index: int, hole: Opening) -> None:
    """One or two curtain panels beside a window, to the floor or to just below the sill."""
    wall = plan.walls[index]
    top = min(hole.top_m + rng.uniform(0.1, 0.3), plan.ceiling_m - 0.03)
    to_floor = rng.random() < 0.6
    bottom = 0.02 if to_floor else hole.bottom_m - 0.1
    for side in (-1, 1) if rng.random() < 0.7 else (int(rng.choice([-1, 1])),):
        cover = hole.width_m * rng.uniform(0.1, 0.45)
        outside = rng.uniform(0.05, 0.25)
        if side < 0:
            x0, x1 = max(hole.start_m - outside, 0.03), hole.start_m + cover
        else:
            x0, x1 = hole.end_m - cover, min(hole.end_m + outside, wall.length_m - 0.03)
        rect = transform_rect((x0, 0.0, x1, 0.2), wall.pose_at(0))
        if to_floor and not plan.is_free(rect):
            continue
        plan.add([on_wall(build_curtain(rng, x0, x1, bottom, top), wall, index)], block=False)
        if to_floor:
            plan.rects.append(rect)
        plan.wall_areas[index].append((x0, bottom, x1, top))


def add_picture(rng: np.random.Generator, plan: FloorPlan, tries: int = 10) -> None:
    """A picture on a free area of a random wall, above any furniture standing there."""
    for _ in range(tries):
        index = int(rng.integers(4))
        width, height = rng.uniform(0.3, 1.2), rng.uniform(0.25, 0.9)
        x = rng.uniform(width / 2, plan.walls[index].length_m - width / 2)
        z = rng.uniform(1.1, 1.8)
        area = (x - width / 2 - 0.05, z - height / 2 - 0.05, x + width / 2 + 0.05,
                z + height / 2 + 0.05)  # fmt: skip
        if plan.wall_area_free(index, area):
            picture = build_picture(rng, x, z, width, height)
            plan.add([on_wall(picture, plan.walls[index], index)], block=False)
            plan.wall_areas[index].append(area)
            return


def add_books(rng: np.random.Generator, plan: FloorPlan, config: SynthConfig) -> None:
    """Rows of books on most bookshelf shelves (some unannotated, as in real scans)."""
    for slot in list(plan.surfaces):
        if plan.objects[slot.owner].kind != "bookshelf" or rng.random() > 0.7:
            continue
        annotated = rng.random() >= config.unannotated_clutter_prob
        row = build_book_row(rng, slot.part.size[0], slot.part.size[1], slot.part.size[2],
                             annotated)  # fmt: skip
        if row is None:
            continue
        pose = Pose(slot.part.center[0], slot.part.center[1], slot.part.yaw, slot.part.z_min)
        plan.add([row], pose, block=False)
        slot.used.append((-slot.part.size[0], -slot.part.size[1], slot.part.size[0],
                          slot.part.size[1]))  # fmt: skip


def add_clutter(rng: np.random.Generator, plan: FloorPlan, config: SynthConfig) -> None:
    """Small items on tables, desks, counters and cabinets: a desk bin or small box (the
    otherfurniture/box-on-a-table hard case) and props, some unannotated."""
    if rng.random() < config.hard_case_prob:
        small = build_bin(rng, small=True) if rng.random() < 0.6 else build_storage_box(rng, True)
        place_on_surface(plan, rng, small, SURFACE_OWNERS)
    for _ in range(int(rng.poisson(config.clutter_per_room))):
        pick = rng.random()
        if pick < 0.2:
            item = build_bin(rng, small=True)
        elif pick < 0.4:
            item = build_storage_box(rng, small=True)
        else:
            item = build_clutter(rng, annotated=rng.random() >= config.unannotated_clutter_prob)
        place_on_surface(plan, rng, item, SURFACE_OWNERS)
