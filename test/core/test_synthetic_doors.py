"""Open doors in synthetic rooms (`SynthConfig.open_door_prob`, `occuseg synth --open-doors`):
the leaf turns about a hinge at the edge of its hole into the room, the room stays, the scan's
door points stand in the room. Expectations come from hand geometry on a hand-made opening and
from the layout's walls."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from occuseg_core.cli import main
from occuseg_core.data.synthetic import DEFAULT_CONFIG, SynthConfig, synthesize
from occuseg_core.data.synthetic.objects import DOOR
from occuseg_core.data.synthetic.structure import Opening, build_door, swing_open

CLEAN = SynthConfig(
    position_noise_m=(0.0, 0.0), normal_noise=0.0, color_noise=0.0, holes_per_m2=0.0,
    unlabelled_blobs_per_m2=0.0,
)  # fmt: skip
HOLE = Opening("door", 1.0, 0.9, 0.0, 2.0)


def leaf_ends(part) -> np.ndarray:
    """(2, 2) the leaf's two vertical edges (x, y) at mid-thickness."""
    half = part.size[0] / 2 * np.array([math.cos(part.yaw), math.sin(part.yaw)])
    return np.stack([np.asarray(part.center[:2]) - half, np.asarray(part.center[:2]) + half])


@pytest.mark.parametrize("seed", range(40))
def test_the_leaf_turns_about_a_hinge_at_the_edge_of_its_hole(seed: int) -> None:
    rng = np.random.default_rng(seed)
    closed = build_door(rng, HOLE)
    door = swing_open(closed, HOLE, np.random.default_rng([seed, 1]))
    leaf, trims, handles = door.parts[0], door.parts[1:4], door.parts[4:]
    assert door.semantic == DOOR and trims == closed.parts[1:4]
    assert door.materials == closed.materials
    thickness = leaf.size[1]
    assert leaf.size[0] == pytest.approx(0.9) and leaf.size[2] == pytest.approx(2.0)
    assert 0.035 <= thickness <= 0.045 and leaf.z_min == pytest.approx(0.0)
    ends = leaf_ends(leaf)
    hinge = ends[np.argmin(ends[:, 1])]
    free = ends[np.argmax(ends[:, 1])]
    # The hinge is at one edge of the hole, on the wall's room-side face (y = 0) + half a leaf.
    assert min(abs(hinge[0] - 1.0), abs(hinge[0] - 1.9)) < 1e-9
    assert hinge[1] == pytest.approx(thickness / 2)
    # Open 10-100 degrees into the room (+y), measured from the closed position.
    closed_dir = np.array([1.0, 0.0]) if hinge[0] < 1.5 else np.array([-1.0, 0.0])
    along = (free - hinge) / 0.9
    angle = math.degrees(math.acos(np.clip(along @ closed_dir, -1, 1)))
    assert 10.0 - 1e-6 <= angle <= 100.0 + 1e-6 and free[1] > hinge[1]
    # One handle on each face, 8 cm from the free edge.
    normal = np.array([-along[1], along[0]])
    offsets = sorted(float((np.asarray(h.center[:2]) - hinge) @ normal) for h in handles)
    assert offsets == pytest.approx([-(thickness / 2 + 0.03), thickness / 2 + 0.03])
    for h in handles:
        assert float((np.asarray(h.center[:2]) - hinge) @ along) == pytest.approx(0.82)
        assert h.yaw == leaf.yaw


def test_hinge_side_and_angle_cover_their_ranges() -> None:
    closed = build_door(np.random.default_rng(0), HOLE)
    sides, angles = set(), []
    for seed in range(200):
        leaf = swing_open(closed, HOLE, np.random.default_rng(seed)).parts[0]
        ends = leaf_ends(leaf)
        hinge = ends[np.argmin(ends[:, 1])]
        sides.add(round(float(hinge[0]), 6))
        angles.append(math.degrees(math.asin((ends[:, 1].max() - ends[:, 1].min()) / 0.9)))
    assert sides == {1.0, 1.9}
    assert min(angles) < 20 and max(angles) > 85  # sin folds 100 degrees onto 80


def wall_distance(xy: np.ndarray, floor_xy: np.ndarray) -> np.ndarray:
    """(N,) distance of points to the nearest of the room's four wall faces, the sides of the
    floor points' bounding rectangle."""
    lo, hi = floor_xy.min(0), floor_xy.max(0)
    return np.minimum(np.abs(xy - lo), np.abs(xy - hi)).min(1)


@pytest.mark.parametrize("seed", range(4))
def test_open_doors_stand_in_the_room_and_the_room_stays(seed: int) -> None:
    closed = synthesize(seed, CLEAN)
    opened = synthesize(seed, replace(CLEAN, open_door_prob=1.0))
    for scan, far_share in ((closed, (0.0, 0.0)), (opened, (0.5, 1.0))):
        door = scan.scene.xyz[scan.scene.semantic == DOOR][:, :2]
        floor = scan.scene.xyz[scan.scene.semantic == 2][:, :2]
        distance = wall_distance(door, floor)
        inside = (door >= floor.min(0) - 0.01) & (door <= floor.max(0) + 0.01)
        assert np.all(inside)  # never outside the room
        assert far_share[0] <= np.mean(distance > 0.15) <= far_share[1]
    a, b = closed.layout, opened.layout
    assert (a.room_type, a.width_m, a.length_m, a.ceiling_m) == (
        b.room_type, b.width_m, b.length_m, b.ceiling_m,
    )  # fmt: skip
    walls = [o for o in a.objects if o.kind == "wall"]
    assert walls == [o for o in b.objects if o.kind == "wall"]
    doors = [(o, p) for o, p in zip(a.objects, b.objects, strict=False) if o.kind == "door"]
    assert doors and all(o.parts[1:4] == p.parts[1:4] for o, p in doors)


def test_open_door_setting_is_checked_and_kept_out_of_old_dataset_files() -> None:
    assert "open_door_prob" not in DEFAULT_CONFIG.to_dict()  # dataset.json as before
    config = SynthConfig(open_door_prob=0.5)
    values = json.loads(json.dumps(config.to_dict()))
    assert values["open_door_prob"] == 0.5 and SynthConfig.from_dict(values) == config
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="open_door_prob"):
            SynthConfig(open_door_prob=bad)


def test_synth_command_takes_open_doors(tmp_path: Path, capsys) -> None:
    out = tmp_path / "ds"
    args = ["synth", "--out", str(out), "--scenes", "1", "--val-fraction", "0", "--room-types",
            "office", "--no-progress"]  # fmt: skip
    assert main([*args, "--open-doors", "1"]) == 0
    info = json.loads((out / "dataset.json").read_text())
    assert info["generator"]["config"]["open_door_prob"] == 1.0
    with np.load(out / "train" / "synth_00000.npz") as arrays:
        door = arrays["xyz"][arrays["semantic"] == DOOR][:, :2]
        floor = arrays["xyz"][arrays["semantic"] == 2][:, :2]
    assert np.mean(wall_distance(door, floor) > 0.15) > 0.5
    capsys.readouterr()
    assert main([*args[:2], str(tmp_path / "bad"), *args[3:], "--open-doors", "2"]) != 0
    assert "--open-doors must be a probability" in capsys.readouterr().err
