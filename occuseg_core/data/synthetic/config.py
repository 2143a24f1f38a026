"""`SynthConfig`: every knob of the synthetic scan generator, with units and the reason for its
default. Validated on construction; `to_dict` / `from_dict` carry it through dataset.json."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

ROOM_TYPES = ("living_room", "office", "bedroom", "bathroom", "kitchen", "conference_room")
SCANNERS = ("surface", "tsdf")
TSDF_FIELDS = (
    "scanner", "tsdf_frames_per_m2", "tsdf_voxel_m", "tsdf_truncation_m",
    "tsdf_depth_noise_scale", "tsdf_max_depth_m", "tsdf_pose_noise_m", "tsdf_mesh_spacing_m",
    "tsdf_label_distance_m",
)  # fmt: skip
"""Fields added with the TSDF scanner; left out of `to_dict` while they all keep their defaults
(the surface scanner), so dataset.json files of surface datasets stay as they were."""
LATER_FIELDS = (TSDF_FIELDS, ("open_door_prob",), ("joined_kitchen_cabinets",))
"""Groups of fields added after the first datasets were written; `to_dict` leaves a group out
while all of its fields keep their defaults."""


def _check_range(name: str, value: tuple[float, float], low: float, high: float) -> None:
    if len(value) != 2 or not low <= value[0] <= value[1] <= high:
        raise ValueError(
            f"{name} must be (min, max) with {low} <= min <= max <= {high}; got {value}"
        )


def _check_prob(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1]; got {value}")


@dataclass(frozen=True)
class SynthConfig:
    """Configuration of `generate_scene`.

    Args:
        room_types: room types to draw from (see `ROOM_TYPES`), uniformly.
        room_size_m: side length range of living rooms, offices, bedrooms, kitchens, metres.
        conference_size_m: side length range of conference rooms (long tables), metres.
        bathroom_size_m: side length range of bathrooms, metres.
        ceiling_height_m: room height range, metres (the ceiling itself is never scanned).
        wall_scan_height_m: range of the height up to which each wall was scanned, metres.
        point_spacing_m: grid spacing of the surface samples on objects, metres (one point
            per spacing^2 of surface; 2.5 cm gives the vertex density of ScanNet's
            `_vh_clean_2` meshes and 40k-100k voxels of 2 cm per room).
        structure_spacing_m: the same for floors and walls, which ScanNet's decimated meshes
            sample more sparsely than objects.
        position_noise_m: range of the per-scene std of Gaussian position noise, metres.
        normal_noise: std of the Gaussian added to unit normals before renormalising.
        color_noise: std of per-point Gaussian colour noise (colours in 0..1).
        holes_per_m2: mean number of blob-shaped dropouts per m^2 of sampled surface.
        hole_radius_m: radius range of one dropout blob, metres.
        unlabelled_blobs_per_m2: mean number of annotation gaps (points kept, labels 0/0)
            per m^2 of surface.
        hard_case_prob: probability of each deliberate hard arrangement (chair rows touching,
            chairs tucked in, cabinets side by side, objects on tables and counters).
        clutter_per_room: mean number of small items (bins, boxes, props) on surfaces.
        unannotated_clutter_prob: probability that a small prop is unannotated (0/0).
        underside_visible_prob: probability that the downward faces of a raised part
            (table top, seat) were scanned.
        tall_top_hidden_prob: probability that the top of furniture taller than 1.6 m was not
            scanned.
        scanner: "surface" (sample the visible faces directly, `scan.py`) or "tsdf" (ray-cast
            depth frames along a hand-held camera path, fuse them into a TSDF and mesh it,
            `tsdf_scan.py`). The `tsdf_*` knobs below apply to "tsdf" only; "tsdf" ignores
            `point_spacing_m`, `structure_spacing_m`, `position_noise_m`, `normal_noise`,
            `holes_per_m2`, `hole_radius_m`, `underside_visible_prob`, `tall_top_hidden_prob`
            and `wall_scan_height_m` (visibility and density come from the camera and mesher).
        tsdf_frames_per_m2: depth frames per m^2 of floor (at least 24 per room); 5 gives
            80 frames for a 4 m x 4 m room.
        tsdf_voxel_m: TSDF voxel size in metres (BundleFusion fuses ScanNet at ~1 cm).
        tsdf_truncation_m: TSDF truncation distance in metres (>= 2 voxels).
        tsdf_depth_noise_scale: multiplier on the axial depth noise std of Nguyen et al. 2012,
            sigma(z) = 0.0012 + 0.0019 (z - 0.4)^2 metres (0: exact depth, still 1 mm steps).
        tsdf_max_depth_m: depth readings beyond this range in metres are dropped.
        tsdf_pose_noise_m: std of the smooth camera registration error in metres (rotation
            error: the same number in radians per metre); 0 = perfect poses.
        tsdf_mesh_spacing_m: target mean vertex spacing of the decimated mesh in metres
            (ScanNet's `_vh_clean_2`: about 2.5-3 cm).
        tsdf_label_distance_m: mesh vertices farther than this (metres) from every surface the
            camera saw stay unannotated (0/0).
        open_door_prob: probability that a door stands open, its leaf swung 10-100 degrees
            into the room on its hinge (real scans: 10 of the 29 doors of the six training
            rooms stand away from their wall; the camera came in through one). Drawn from a
            generator of its own: the shell and openings stay those of 0; furniture may move,
            or be left out, to keep the swing clear. Left out of `to_dict` while 0, so
            the dataset.json files of datasets without open doors stay as they were.
        joined_kitchen_cabinets: label a kitchen's run of base cabinets as one cabinet
            instance and its wall cabinets as another, as ScanNet's annotators did (the
            kitchens of `scannet_rooms`: base-cabinet instances 1.4-2.6 m long), instead of one
            instance per cabinet. Changes labels only, never geometry or random draws. Left out
            of `to_dict` while False.
    """

    room_types: tuple[str, ...] = ROOM_TYPES
    room_size_m: tuple[float, float] = (3.0, 5.2)
    conference_size_m: tuple[float, float] = (4.0, 6.0)
    bathroom_size_m: tuple[float, float] = (2.4, 3.4)
    ceiling_height_m: tuple[float, float] = (2.5, 3.0)
    wall_scan_height_m: tuple[float, float] = (1.6, 2.6)
    point_spacing_m: float = 0.025
    structure_spacing_m: float = 0.032
    position_noise_m: tuple[float, float] = (0.003, 0.005)
    normal_noise: float = 0.05
    color_noise: float = 0.03
    holes_per_m2: float = 0.15
    hole_radius_m: tuple[float, float] = (0.04, 0.20)
    unlabelled_blobs_per_m2: float = 0.2
    hard_case_prob: float = 0.8
    clutter_per_room: float = 4.0
    unannotated_clutter_prob: float = 0.3
    underside_visible_prob: float = 0.3
    tall_top_hidden_prob: float = 0.6
    scanner: str = "surface"
    tsdf_frames_per_m2: float = 5.0
    tsdf_voxel_m: float = 0.01
    tsdf_truncation_m: float = 0.04
    tsdf_depth_noise_scale: float = 1.0
    tsdf_max_depth_m: float = 4.0
    tsdf_pose_noise_m: float = 0.004
    tsdf_mesh_spacing_m: float = 0.025
    tsdf_label_distance_m: float = 0.04
    open_door_prob: float = 0.0
    joined_kitchen_cabinets: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "room_types", tuple(self.room_types))
        if not self.room_types or any(t not in ROOM_TYPES for t in self.room_types):
            raise ValueError(f"room_types must be a non-empty subset of {ROOM_TYPES}; got "
                             f"{self.room_types}")  # fmt: skip
        for name in ("room_size_m", "conference_size_m", "bathroom_size_m"):
            _check_range(name, getattr(self, name), 1.5, 20.0)
        _check_range("ceiling_height_m", self.ceiling_height_m, 2.2, 5.0)
        _check_range("wall_scan_height_m", self.wall_scan_height_m, 0.0, 5.0)
        _check_range("position_noise_m", self.position_noise_m, 0.0, 0.05)
        _check_range("hole_radius_m", self.hole_radius_m, 0.0, 1.0)
        for name in ("point_spacing_m", "structure_spacing_m"):
            if not 0.003 <= getattr(self, name) <= 0.1:
                raise ValueError(f"{name} must be in [0.003, 0.1]; got {getattr(self, name)}")
        for name in ("normal_noise", "color_noise", "holes_per_m2", "unlabelled_blobs_per_m2",
                     "clutter_per_room"):  # fmt: skip
            if not 0.0 <= getattr(self, name) <= 100.0:
                raise ValueError(f"{name} must be >= 0; got {getattr(self, name)}")
        for name in ("hard_case_prob", "unannotated_clutter_prob", "underside_visible_prob",
                     "tall_top_hidden_prob", "open_door_prob"):  # fmt: skip
            _check_prob(name, getattr(self, name))
        joined = self.joined_kitchen_cabinets
        if not isinstance(joined, bool):
            raise ValueError(f"joined_kitchen_cabinets must be true or false; got {joined!r}")
        self._check_tsdf()

    def _check_tsdf(self) -> None:
        if self.scanner not in SCANNERS:
            raise ValueError(f"scanner must be one of {SCANNERS}; got {self.scanner!r}")
        limits = {
            "tsdf_frames_per_m2": (0.5, 100.0), "tsdf_voxel_m": (0.004, 0.05),
            "tsdf_truncation_m": (2 * self.tsdf_voxel_m, 0.2), "tsdf_depth_noise_scale": (0, 10),
            "tsdf_max_depth_m": (1.0, 10.0), "tsdf_pose_noise_m": (0.0, 0.05),
            "tsdf_mesh_spacing_m": (self.tsdf_voxel_m, 0.1), "tsdf_label_distance_m": (0.005, 0.2),
        }  # fmt: skip
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number; got {value!r}")
            if not low <= value <= high:
                raise ValueError(f"{name} must be in [{low:g}, {high:g}]; got {value}")

    def to_dict(self) -> dict:
        """A JSON-ready dict (tuples become lists); each group of `LATER_FIELDS` is left out
        while all of its fields keep their defaults."""
        values = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        defaults = {f.name: f.default for f in fields(self)}
        for group in LATER_FIELDS:
            if all(values[k] == defaults[k] for k in group):
                values = {k: v for k, v in values.items() if k not in group}
        return values

    @classmethod
    def from_dict(cls, values: dict) -> SynthConfig:
        """Inverse of `to_dict`; missing keys take their defaults, unknown keys raise
        ValueError naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown SynthConfig fields {unknown}; known: {sorted(known)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


DEFAULT_CONFIG = SynthConfig()
"""The default configuration (a shared immutable instance)."""
