"""Where things go: a floor plan that tracks what is placed and finds free spots.

`FloorPlan` keeps the objects placed so far, their footprints on the floor, the occupied areas of
each wall (openings, furniture backs, pictures) and the support surfaces on which small objects
may stand. Placement is rejection sampling: draw a spot, keep it if it is free. A group (a list
of objects built touching each other in a shared frame) is placed as one unit, which is how the
deliberate contacts (chair rows, cabinets side by side) survive placement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from occuseg_core.data.synthetic.geometry import Part, Pose
from occuseg_core.data.synthetic.objects import SceneObject, WallFrame

Rect = tuple[float, float, float, float]
"""(x_min, y_min, x_max, y_max) in metres."""
IDENTITY = Pose()
QUARTER_TURNS = (0.0, math.pi / 2, math.pi, -math.pi / 2)


def group_bounds(objects: list[SceneObject]) -> Rect:
    """Axis-aligned footprint of a group of objects in their shared frame."""
    rects = np.array([o.footprint() for o in objects])
    return (
        float(rects[:, 0].min()), float(rects[:, 1].min()),
        float(rects[:, 2].max()), float(rects[:, 3].max()),
    )  # fmt: skip


def transform_rect(rect: Rect, pose: Pose) -> Rect:
    """Axis-aligned bounds of a rectangle after a pose."""
    corners = [pose.apply_xy(x, y) for x in (rect[0], rect[2]) for y in (rect[1], rect[3])]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return min(xs), min(ys), max(xs), max(ys)


def rects_overlap(a: Rect, b: Rect, margin: float = 0.0) -> bool:
    """True if the rectangles overlap by more than 1 mm once `a` is grown by `margin`."""
    eps = 1e-3
    return (
        a[0] - margin < b[2] - eps and b[0] < a[2] + margin - eps
        and a[1] - margin < b[3] - eps and b[1] < a[3] + margin - eps
    )  # fmt: skip


@dataclass
class SurfaceSlot:
    """A support surface in the room frame and the item footprints already on it.

    Args:
        part: the surface box (bottom = support plane), room frame.
        owner: layout index of the object it belongs to.
        used: footprints of placed items in the surface's own frame.
    """

    part: Part
    owner: int
    used: list[Rect] = field(default_factory=list)


@dataclass
class FloorPlan:
    """Mutable placement state of one room (used only while a layout is being built).

    Args:
        width_m: room extent along x.
        length_m: room extent along y.
        ceiling_m: room height.
        walls: the four walls.
    """

    width_m: float
    length_m: float
    ceiling_m: float
    walls: tuple[WallFrame, ...]
    objects: list[SceneObject] = field(default_factory=list)
    rects: list[Rect] = field(default_factory=list)
    wall_areas: list[list[Rect]] = field(default_factory=lambda: [[] for _ in range(4)])
    height_limits: list[list[tuple[float, float, float]]] = field(
        default_factory=lambda: [[] for _ in range(4)]
    )
    surfaces: list[SurfaceSlot] = field(default_factory=list)

    def add(
        self, objects: list[SceneObject], pose: Pose = IDENTITY, block: bool = True
    ) -> list[int]:
        """Moves a group into the room and appends it; returns the objects' layout indices.

        `hosts` and `labelled_as` given as indices within the group are renumbered to layout
        indices; with `block` the group's footprint is reserved on the floor.
        """
        base = len(self.objects)
        for obj in objects:
            moved = obj.moved(pose)
            joined = None if obj.labelled_as is None else base + obj.labelled_as
            moved = replace(moved, hosts=tuple(base + h for h in obj.hosts), labelled_as=joined)
            index = len(self.objects)
            self.objects.append(moved)
            self.surfaces += [SurfaceSlot(s, index) for s in moved.surfaces]
        if block and objects:
            self.rects.append(transform_rect(group_bounds(objects), pose))
        return list(range(base, len(self.objects)))

    def inside(self, rect: Rect, margin: float = 0.0) -> bool:
        eps = 1e-3
        return (
            rect[0] >= margin - eps and rect[1] >= margin - eps
            and rect[2] <= self.width_m - margin + eps and rect[3] <= self.length_m - margin + eps
        )  # fmt: skip

    def is_free(self, rect: Rect, margin: float = 0.0) -> bool:
        return self.inside(rect) and not any(rects_overlap(rect, r, margin) for r in self.rects)

    def wall_allows(self, wall: int, s0: float, s1: float, height: float) -> bool:
        """True if furniture `height` m tall may stand against `wall` over [s0, s1]."""
        return all(
            height <= limit or s1 <= a or s0 >= b for a, b, limit in self.height_limits[wall]
        )

    def wall_area_free(self, wall: int, area: Rect, margin: float = 0.05) -> bool:
        """True if the wall rectangle (s0, z0, s1, z1) is clear of openings, curtains, pictures
        and furniture backs (grown by `margin`) and lies on the wall below the ceiling."""
        s0, z0, s1, z1 = area
        if s0 < 0.05 or s1 > self.walls[wall].length_m - 0.05 or z1 > self.ceiling_m - 0.05:
            return False
        return not any(rects_overlap(area, other, margin) for other in self.wall_areas[wall])


def place_against_wall(
    plan: FloorPlan, rng: np.random.Generator, group: list[SceneObject],
    walls: tuple[int, ...] = (0, 1, 2, 3), tries: int = 30,
) -> Pose | None:  # fmt: skip
    """Finds a free spot with the group's back (its min y) against one of `walls`.

    Each object of the group must be lower than the sill of any window it stands in front
    of. The group's wall footprint is recorded so pictures go above it. Returns the pose (the
    group is not added) or None if no spot was found.
    """
    x0, y0, x1, y1 = group_bounds(group)
    spans = [(o.footprint()[0], o.footprint()[2], o.z_max) for o in group]
    for _ in range(tries):
        wall_index = int(walls[rng.integers(len(walls))])
        wall = plan.walls[wall_index]
        low, high = -x0, wall.length_m - x1
        if high < low:
            continue
        along = float(rng.uniform(low, high))
        pose = wall.pose_at(along, -y0)
        if not plan.is_free(transform_rect((x0, y0, x1, y1), pose)):
            continue
        if not all(plan.wall_allows(wall_index, along + a, along + b, h) for a, b, h in spans):
            continue
        plan.wall_areas[wall_index] += [(along + a, 0.0, along + b, h) for a, b, h in spans]
        return pose
    return None


def place_free(
    plan: FloorPlan, rng: np.random.Generator, group: list[SceneObject], tries: int = 20,
    margin: float = 0.3, yaw_jitter: float = 0.0,
) -> Pose | None:  # fmt: skip
    """Finds a free spot in the open floor, `margin` metres from walls and other footprints.

    The group is turned by a random quarter turn plus up to `yaw_jitter` radians.
    """
    bounds = group_bounds(group)
    for _ in range(tries):
        yaw = QUARTER_TURNS[rng.integers(4)] + rng.uniform(-yaw_jitter, yaw_jitter)
        probe = transform_rect(bounds, Pose(0.0, 0.0, yaw))
        half_x, half_y = (probe[2] - probe[0]) / 2, (probe[3] - probe[1]) / 2
        if plan.width_m - 2 * (margin + half_x) < 0 or plan.length_m - 2 * (margin + half_y) < 0:
            continue
        cx = rng.uniform(margin + half_x, plan.width_m - margin - half_x)
        cy = rng.uniform(margin + half_y, plan.length_m - margin - half_y)
        shift = ((probe[0] + probe[2]) / 2, (probe[1] + probe[3]) / 2)
        pose = Pose(cx - shift[0], cy - shift[1], yaw)
        rect = transform_rect(bounds, pose)
        if plan.inside(rect, margin) and plan.is_free(rect, margin):
            return pose
    return None


def place_on_surface(
    plan: FloorPlan, rng: np.random.Generator, item: SceneObject,
    owner_kinds: tuple[str, ...] | None = None, tries: int = 8,
) -> int | None:  # fmt: skip
    """Stands `item` on a free spot of a support surface (of an owner of `owner_kinds`).

    Returns:
        The item's layout index, or None if nothing fits.
    """
    slots = [
        s for s in plan.surfaces
        if owner_kinds is None or plan.objects[s.owner].kind in owner_kinds
    ]  # fmt: skip
    if not slots:
        return None
    bounds, height = item.footprint(), item.z_max
    for _ in range(tries):
        slot = slots[rng.integers(len(slots))]
        half_x, half_y = slot.part.size[0] / 2, slot.part.size[1] / 2
        yaw = QUARTER_TURNS[rng.integers(4)] + rng.uniform(-0.3, 0.3)
        probe = transform_rect(bounds, Pose(0.0, 0.0, yaw))
        if height > slot.part.size[2] or probe[2] - probe[0] > 2 * half_x:
            continue
        if probe[3] - probe[1] > 2 * half_y:
            continue
        u = rng.uniform(-half_x - probe[0], half_x - probe[2])
        v = rng.uniform(-half_y - probe[1], half_y - probe[3])
        local = transform_rect(bounds, Pose(u, v, yaw))
        if any(rects_overlap(local, r, 0.01) for r in slot.used):
            continue
        slot.used.append(local)
        surface = Pose(slot.part.center[0], slot.part.center[1], slot.part.yaw, slot.part.z_min)
        return plan.add([item], Pose(u, v, yaw).then(surface), block=False)[0]
    return None
