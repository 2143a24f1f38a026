"""The room shell and what hangs on it: floor, walls with openings, doors, windows, pictures,
curtains (and the fold geometry curtains share with shower curtains).

Wall-attached objects are built in the wall's frame: x along the wall from its start corner,
y = 0 on the wall's inner face and growing into the room, the wall solid at -WALL_T <= y <= 0,
z up from the floor; `WallFrame.pose_at(0)` moves them into the room. Doors and windows fill
an opening in the wall from behind a recessed front, so the scanner sees the reveal (jamb)
faces between the wall face and the panel, then the panel, the frame and the trim. An open
door (`swing_open`) leaves its opening empty and stands in the room on its hinge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from occuseg_core.data.synthetic.geometry import Part, box
from occuseg_core.data.synthetic.objects import (
    CURTAIN,
    DOOR,
    FLOOR,
    PICTURE,
    WALL,
    WINDOW,
    SceneObject,
    WallFrame,
)
from occuseg_core.data.synthetic.palette import pick_color, pick_colors

WALL_T = 0.12
"""Wall thickness in metres (only the inner face and the reveals are ever sampled)."""
ONLY_TOP = ("+x", "-x", "+y", "-y", "-z")


@dataclass(frozen=True)
class Opening:
    """A door or window hole in a wall, in the wall's frame.

    Args:
        kind: "door" or "window".
        start_m: position of the hole's left edge along the wall in metres.
        width_m: hole width in metres.
        bottom_m: height of the hole's bottom (0 for doors, the sill for windows) in metres.
        height_m: hole height in metres.
    """

    kind: str
    start_m: float
    width_m: float
    bottom_m: float
    height_m: float

    @property
    def end_m(self) -> float:
        return self.start_m + self.width_m

    @property
    def top_m(self) -> float:
        return self.bottom_m + self.height_m


def build_floor(rng: np.random.Generator, width_m: float, length_m: float) -> SceneObject:
    """The floor (NYU40 2): the top face of a slab under the whole room (and under the walls,
    where the walls hide it)."""
    size_x, size_y = width_m + 2 * WALL_T, length_m + 2 * WALL_T
    slab = box(width_m / 2, length_m / 2, -0.1, size_x, size_y, 0.1, 0, ONLY_TOP)
    texture = float(rng.uniform(0.02, 0.08))
    return SceneObject("floor", FLOOR, (slab,), (pick_color(rng, "floor"),), texture=texture)


def build_wall(
    wall: WallFrame, index: int, ceiling_m: float, openings: list[Opening], color
) -> SceneObject:
    """A wall (NYU40 1) as solid pieces around its openings, in the room frame.

    Args:
        wall: the wall's frame.
        index: the wall's index in the layout's walls (its scan height applies).
        ceiling_m: room height in metres.
        openings: door and window holes, not overlapping, inside [0, wall.length_m].
        color: RGB 0..1 paint colour.
    """
    pieces: list[Part] = []
    x = -WALL_T
    for hole in sorted(openings, key=lambda o: o.start_m):
        pieces.append(_wall_piece(x, hole.start_m, 0.0, ceiling_m))
        if hole.bottom_m > 0:
            pieces.append(_wall_piece(hole.start_m, hole.end_m, 0.0, hole.bottom_m))
        pieces.append(_wall_piece(hole.start_m, hole.end_m, hole.top_m, ceiling_m))
        x = hole.end_m
    pieces.append(_wall_piece(x, wall.length_m + WALL_T, 0.0, ceiling_m))
    obj = SceneObject("wall", WALL, tuple(p for p in pieces if p is not None), (color,))
    return on_wall(obj, wall, index)


def on_wall(obj: SceneObject, wall: WallFrame, index: int) -> SceneObject:
    """Moves an object built in a wall's frame into the room and ties it to that wall."""
    return replace(obj.moved(wall.pose_at(0.0)), wall=index)


def _wall_piece(x0: float, x1: float, z0: float, z1: float) -> Part | None:
    if x1 - x0 < 1e-3 or z1 - z0 < 1e-3:
        return None
    return box((x0 + x1) / 2, -WALL_T / 2, z0, x1 - x0, WALL_T, z1 - z0, 0, ("-y",))


def build_door(rng: np.random.Generator, hole: Opening) -> SceneObject:
    """A door (NYU40 8) in `hole`: recessed panel, trim around the opening, handle (wall frame)."""
    u = rng.uniform
    recess, trim_w, trim_t = u(0.02, 0.06), u(0.05, 0.09), u(0.01, 0.02)
    door_color = pick_color(rng, ("wood", "white", "laminate")[rng.integers(3)])
    trim_color = pick_color(rng, "white") if rng.random() < 0.6 else door_color
    materials = (door_color, trim_color, pick_color(rng, "metal"))
    a, w, h = hole.start_m, hole.width_m, hole.height_m
    panel_depth = WALL_T - recess
    parts = [
        box(a + w / 2, -recess - panel_depth / 2, 0, w, panel_depth, h, 0, ("-y", "-z")),
        box(a - trim_w / 2, trim_t / 2, 0, trim_w, trim_t, h + trim_w, 1, ("-z",)),
        box(a + w + trim_w / 2, trim_t / 2, 0, trim_w, trim_t, h + trim_w, 1, ("-z",)),
        box(a + w / 2, trim_t / 2, h, w, trim_t, trim_w, 1),
    ]
    side = 1 if rng.random() < 0.5 else -1
    handle_x = a + w / 2 + side * (w / 2 - 0.08)
    parts.append(box(handle_x, -recess + 0.03, u(0.95, 1.05), 0.13, 0.06, 0.025, 2))
    return SceneObject("door", DOOR, tuple(parts), materials)


def swing_open(door: SceneObject, hole: Opening, rng: np.random.Generator) -> SceneObject:
    """`door` (from `build_door`, wall frame) standing open: its leaf turned 10-100 degrees
    into the room (+y) about a hinge at one edge of the hole, handles on both faces; the trim
    stays and the hole is left empty."""
    angle = math.radians(rng.uniform(10.0, 100.0))
    thickness, handle_z = rng.uniform(0.035, 0.045), rng.uniform(0.95, 1.05)
    a, w, h = hole.start_m, hole.width_m, hole.height_m
    left = rng.random() < 0.5
    hinge = np.array([a if left else a + w, thickness / 2])
    along = np.array([math.cos(angle) if left else -math.cos(angle), math.sin(angle)])
    normal = np.array([-along[1], along[0]])
    yaw = math.atan2(along[1], along[0])
    centre = hinge + along * w / 2
    parts = [box(*centre, 0.0, w, thickness, h, 0, ("-z",), yaw=yaw), *door.parts[1:4]]
    for side in (1, -1):
        x, y = hinge + along * (w - 0.08) + side * normal * (thickness / 2 + 0.03)
        parts.append(box(x, y, handle_z, 0.13, 0.06, 0.025, 2, yaw=yaw))
    return replace(door, parts=tuple(parts))


def build_window(rng: np.random.Generator, hole: Opening) -> SceneObject:
    """A window (NYU40 9) in `hole`: sparse glass pane, frame members, mullion, sill board."""
    u = rng.uniform
    recess, frame_w, frame_t = u(0.05, 0.10), u(0.04, 0.07), 0.03
    materials = (pick_color(rng, "glass"), pick_color(rng, ("white", "wood")[rng.integers(2)]))
    a, w, z0, h = hole.start_m, hole.width_m, hole.bottom_m, hole.height_m
    pane_depth = WALL_T - recess
    y_frame = -recess + frame_t / 2
    parts = [
        box(a + w / 2, -recess - pane_depth / 2, z0, w, pane_depth, h, 0, ("-y",)),
        box(a + frame_w / 2, y_frame, z0, frame_w, frame_t, h, 1),
        box(a + w - frame_w / 2, y_frame, z0, frame_w, frame_t, h, 1),
        box(a + w / 2, y_frame, z0, w - 2 * frame_w, frame_t, frame_w, 1),
        box(a + w / 2, y_frame, z0 + h - frame_w, w - 2 * frame_w, frame_t, frame_w, 1),
    ]
    if w > 1.0:
        parts.append(box(a + w / 2, y_frame, z0 + frame_w, frame_w, frame_t, h - 2 * frame_w, 1))
    sill_out = u(0.02, 0.05)
    parts.append(box(a + w / 2, (sill_out - recess) / 2, z0 - 0.03, w + 0.08, sill_out + recess,
                     0.03, 1))  # fmt: skip
    return SceneObject("window", WINDOW, tuple(parts), materials, material_density=(0.35, 1.0))


def build_picture(
    rng: np.random.Generator, x_m: float, z_m: float, width_m: float, height_m: float
) -> SceneObject:
    """A picture (NYU40 11) centred at (x_m, z_m) on a wall: image board, maybe a frame.

    Args:
        rng: random generator.
        x_m: centre along the wall in metres.
        z_m: centre height in metres.
        width_m: picture width in metres.
        height_m: picture height in metres.
    """
    board_t = rng.uniform(0.01, 0.03)
    materials = (pick_color(rng, "wood"), pick_color(rng, "paper", variation=0.2))
    parts = [box(x_m, board_t / 2, z_m - height_m / 2, width_m, board_t, height_m, 1, ("-y",))]
    if rng.random() < 0.7:
        fw, ft = rng.uniform(0.02, 0.05), board_t + 0.01
        z_lo, z_hi = z_m - height_m / 2, z_m + height_m / 2
        x_lo, x_hi = x_m - width_m / 2, x_m + width_m / 2
        parts += [
            box(x_lo - fw / 2, ft / 2, z_lo - fw, fw, ft, height_m + 2 * fw, 0, ("-y",)),
            box(x_hi + fw / 2, ft / 2, z_lo - fw, fw, ft, height_m + 2 * fw, 0, ("-y",)),
            box(x_m, ft / 2, z_lo - fw, width_m, ft, fw, 0, ("-y",)),
            box(x_m, ft / 2, z_hi, width_m, ft, fw, 0, ("-y",)),
        ]
    texture = float(rng.uniform(0.15, 0.35))
    return SceneObject("picture", PICTURE, tuple(parts), materials, texture=texture)


def fold_parts(
    rng: np.random.Generator, x0: float, x1: float, y: float, z0: float, z1: float,
    material: int,
) -> list[Part]:  # fmt: skip
    """Curtain folds: narrow vertical strips along x, alternately in front of and behind y.

    Args:
        rng: random generator.
        x0: left end in metres.
        x1: right end in metres.
        y: mid-plane of the folds in metres.
        z0: bottom hem height in metres.
        z1: top height in metres.
        material: material index of the cloth.

    Returns:
        Strips 6-10 cm wide, 1.2 cm thick, overlapping 4 mm so no light shows between them.
    """
    strip_w, amplitude, thickness = rng.uniform(0.06, 0.10), rng.uniform(0.015, 0.035), 0.012
    count = max(1, round((x1 - x0) / strip_w))
    step = (x1 - x0) / count
    parts = []
    for k in range(count):
        offset = amplitude * (1 if k % 2 else -1)
        x = x0 + (k + 0.5) * step
        parts.append(box(x, y + offset, z0, step + 0.004, thickness, z1 - z0, material))
    return parts


def build_curtain(
    rng: np.random.Generator, x0: float, x1: float, z0: float, z1: float
) -> SceneObject:
    """A curtain panel (NYU40 16) hanging in folds in front of a wall over [x0, x1] x [z0, z1].

    The wall, window or picture behind the folds is hidden (a carve between cloth and wall).
    """
    y = rng.uniform(0.07, 0.12)
    parts = fold_parts(rng, x0, x1, y, z0, z1, 0)
    back = y - 0.04 - 0.007
    hidden = box((x0 + x1) / 2, (back - WALL_T) / 2, z0, x1 - x0, back + WALL_T, z1 - z0)
    materials = pick_colors(rng, "curtain")
    return SceneObject("curtain", CURTAIN, tuple(parts), materials, carves=(hidden,))
