"""Scene objects (labelled unions of parts), walls and the room layout the scanner samples.

A `SceneObject` is built in its own frame (origin at the footprint centre on the floor, front
towards +y, width along x) and moved into the room with `SceneObject.moved`. A `RoomLayout` is
the finished room: the walls' frames and every object in the room frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from occuseg_core.data.synthetic.geometry import Part, Pose, SolidTable

Rgb = tuple[float, float, float]

# NYU40 ids used by the generator (see occuseg_core.classes.NYU40_NAMES).
UNANNOTATED, WALL, FLOOR, CABINET, BED, CHAIR, SOFA, TABLE = 0, 1, 2, 3, 4, 5, 6, 7
DOOR, WINDOW, BOOKSHELF, PICTURE, COUNTER, DESK, CURTAIN = 8, 9, 10, 11, 12, 14, 16
PILLOW, BOOKS, REFRIGERATOR, SHOWER_CURTAIN, BOX = 18, 23, 24, 28, 29
NIGHT_STAND, TOILET, SINK, BATHTUB, OTHERFURNITURE, OTHERPROP = 32, 33, 34, 36, 39, 40


@dataclass(frozen=True)
class SceneObject:
    """One labelled object: parts, colours and how the scanner treats it.

    Args:
        kind: builder name, e.g. "chair", "wall", "clutter".
        semantic: NYU40 class id; 0 = unannotated (its points get semantic 0 and instance 0).
        parts: solids whose surfaces are sampled.
        materials: RGB 0..1 base colour per material index used by the parts.
        carves: volumes that hide points of *other* objects inside them (the opening of a sink
            in a counter, the floor under a bed on legs, the wall behind a curtain).
        hosts: indices (in the layout) of objects whose solids do not hide this object's points
            (a sink basin inside its counter and cabinet).
        wall: index of the wall this object hangs on; the wall's scan height cuts it too.
        material_density: sampling density multiplier per material (glass is scanned
            sparsely); missing entries mean 1.
        texture: amplitude of a smooth colour pattern (pictures, wood grain), 0..1.
        surfaces: boxes marking where other objects may stand: the bottom of each is the
            support plane, its x/y extent the usable area, its height the free space above.
        labelled_as: index (in the layout, like `hosts`) of an earlier object of the same class
            whose instance this object's points join: a kitchen's run of cabinets annotated as
            one cabinet, as ScanNet's annotators did. None: an instance of its own.
    """

    kind: str
    semantic: int
    parts: tuple[Part, ...]
    materials: tuple[Rgb, ...]
    carves: tuple[Part, ...] = ()
    hosts: tuple[int, ...] = ()
    wall: int | None = None
    material_density: tuple[float, ...] = ()
    texture: float = 0.0
    surfaces: tuple[Part, ...] = ()
    labelled_as: int | None = None

    def __post_init__(self) -> None:
        if not self.parts:
            raise ValueError(f"object {self.kind!r} has no parts")
        used = max(p.material for p in self.parts)
        if used >= len(self.materials):
            raise ValueError(f"object {self.kind!r} uses material {used} of {self.materials}")

    def moved(self, pose: Pose) -> SceneObject:
        """The object with every part and carve moved by `pose`."""
        return replace(
            self,
            parts=tuple(pose.move_part(p) for p in self.parts),
            carves=tuple(pose.move_part(p) for p in self.carves),
            surfaces=tuple(pose.move_part(p) for p in self.surfaces),
        )

    def footprint(self) -> tuple[float, float, float, float]:
        """(x_min, y_min, x_max, y_max) of the parts' axis-aligned bounds in metres."""
        table = SolidTable.from_parts(self.parts)
        low, high = table.aabb_min.min(axis=0), table.aabb_max.max(axis=0)
        return float(low[0]), float(low[1]), float(high[0]), float(high[1])

    @property
    def z_max(self) -> float:
        return max(p.z_max for p in self.parts)


@dataclass(frozen=True)
class WallFrame:
    """A straight wall of a rectangular room, seen from inside.

    Args:
        start: (x, y) of the wall's start corner in metres.
        length_m: wall length in metres.
        yaw: rotation that maps an object's local +x to the wall direction and +y to the inward
            normal (so `pose_at` puts an object's back against the wall).
    """

    start: tuple[float, float]
    length_m: float
    yaw: float

    @property
    def direction(self) -> tuple[float, float]:
        return math.cos(self.yaw), math.sin(self.yaw)

    @property
    def inward(self) -> tuple[float, float]:
        return -math.sin(self.yaw), math.cos(self.yaw)

    def pose_at(self, along_m: float, depth_m: float = 0.0) -> Pose:
        """The pose of a local frame at `along_m` along the wall and `depth_m` into the room."""
        dx, dy = self.direction
        nx, ny = self.inward
        x = self.start[0] + dx * along_m + nx * depth_m
        y = self.start[1] + dy * along_m + ny * depth_m
        return Pose(x, y, self.yaw)


def rectangle_walls(width_m: float, length_m: float) -> tuple[WallFrame, ...]:
    """The four walls of the room [0, width] x [0, length], counter-clockwise from y = 0."""
    return (
        WallFrame((0.0, 0.0), width_m, 0.0),
        WallFrame((width_m, 0.0), length_m, math.pi / 2),
        WallFrame((width_m, length_m), width_m, math.pi),
        WallFrame((0.0, length_m), length_m, -math.pi / 2),
    )


@dataclass(frozen=True)
class RoomLayout:
    """A furnished room, before scanning.

    Args:
        room_type: one of `ROOM_TYPES`.
        width_m: extent along x in metres (the room is [0, width] x [0, length]).
        length_m: extent along y in metres.
        ceiling_m: ceiling height in metres (never scanned; bounds the walls).
        walls: the four walls.
        objects: every object in the room frame; instance ids follow this order.
    """

    room_type: str
    width_m: float
    length_m: float
    ceiling_m: float
    walls: tuple[WallFrame, ...]
    objects: tuple[SceneObject, ...] = field(default=())
