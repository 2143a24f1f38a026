"""Synthetic indoor scans with ScanNet-style NYU40 labels, for training and tests without ScanNet.

`generate_scene(seed)` draws a room (living room, office, bedroom, bathroom, kitchen or
conference room), furnishes it from parts with deliberate hard cases (touching chair rows,
tucked chairs, cabinets side by side, objects on tables and counters) and simulates a hand-held
scan of it: `config.scanner` "surface" samples the visible surfaces directly (scan density,
holes, noise); "tsdf" ray-casts RGB-D frames along a camera path and fuses them into a TSDF
mesh, as ScanNet's scans were made. See docs/DATASET.md.

Modules: `geometry` (parts, sampling, containment), `objects` (labelled objects, layout),
`palette`, builders (`furniture`, `storage`, `bathroom`, `small`, `structure`), arrangement
(`groups`, `placement`, `rooms`, `layout`), `scan` (the surface scanner) and `tsdf_scan`,
`tsdf_camera` (the TSDF scanner).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occuseg_core.data.synthetic.config import DEFAULT_CONFIG, ROOM_TYPES, SynthConfig
from occuseg_core.data.synthetic.layout import build_layout
from occuseg_core.data.synthetic.objects import RoomLayout
from occuseg_core.data.synthetic.scan import scan_layout
from occuseg_core.types import Scene

GENERATOR_NAME = "occuseg.synthetic"
GENERATOR_VERSION = 1
"""Bumped whenever the same seed and config would give a different scene."""

__all__ = [
    "GENERATOR_NAME", "GENERATOR_VERSION", "ROOM_TYPES", "RoomLayout", "SynthConfig",
    "SyntheticScan", "generate_scene", "synthesize",
]  # fmt: skip


@dataclass(frozen=True, eq=False)
class SyntheticScan:
    """A generated scene and the layout it was scanned from (for tests and inspection).

    Args:
        scene: the scanned, labelled points.
        layout: the room's objects and parts, room frame.
    """

    scene: Scene
    layout: RoomLayout


def synthesize(
    seed: int, config: SynthConfig = DEFAULT_CONFIG, name: str | None = None
) -> SyntheticScan:
    """Generates one scene and keeps its layout.

    Args:
        seed: non-negative integer; the only source of randomness (`np.random.default_rng`).
        config: generator settings.
        name: scene name; default "synth_<seed>".

    Returns:
        The scene (see `generate_scene`) and its `RoomLayout`.

    Raises:
        ValueError: negative or non-integer seed; a TSDF scan that meshed nothing.
        ImportError: `config.scanner` is "tsdf" and open3d is not installed.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    rng = np.random.default_rng(int(seed))
    layout = build_layout(rng, config)
    name = name if name is not None else f"synth_{seed:06d}"
    if config.scanner == "tsdf":
        from occuseg_core.data.synthetic.tsdf_scan import tsdf_scan_layout  # needs open3d

        scene = tsdf_scan_layout(layout, rng, config, name)
    else:
        scene = scan_layout(layout, rng, config, name)
    return SyntheticScan(scene, layout)


def generate_scene(
    seed: int, config: SynthConfig = DEFAULT_CONFIG, name: str | None = None
) -> Scene:
    """A synthetic indoor scan, deterministic for (seed, config).

    Args:
        seed: non-negative integer seed.
        config: generator settings.
        name: scene name; default "synth_<seed>".

    Returns:
        Scene with xyz (N, 3) float32 metres (room [0, W] x [0, L], floor z = 0, z up),
        colors (N, 3) float32 0..1, normals (N, 3) float32 unit, semantic (N,) int64 NYU40 ids
        (0 = unannotated) and instance (N,) int64 ids (> 0, one per object, or per kitchen
        cabinet run with `joined_kitchen_cabinets`; 0 = none).
        The "tsdf" scanner returns a mesh: the points are its vertices and faces (M, 3) int64
        are set; the "surface" scanner's scenes have no faces.
    """
    return synthesize(seed, config, name).scene
