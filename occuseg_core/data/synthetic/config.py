"""`SynthConfig`: every knob of the synthetic scan generator, with units and the reason for its
default. Validated on construction; `to_dict` / `from_dict` carry it through dataset.json."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

ROOM_TYPES = ("living_room", "office", "bedroom", "bathroom", "kitchen", "conference_room")


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
                     "tall_top_hidden_prob"):  # fmt: skip
            _check_prob(name, getattr(self, name))

    def to_dict(self) -> dict:
        """A JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> SynthConfig:
        """Inverse of `to_dict`; unknown keys raise ValueError naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown SynthConfig fields {unknown}; known: {sorted(known)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


DEFAULT_CONFIG = SynthConfig()
"""The default configuration (a shared immutable instance)."""
