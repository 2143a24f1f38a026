"""The TSDF scanner (`SynthConfig(scanner="tsdf")`): determinism, labels on their own objects,
floor and walls, no labelled junk from tiny, thin or hidden parts, the depth noise model, the
camera path, the default (surface) scanner unchanged, config validation and `occuseg synth
--scanner`. Expectations come from the layout's solids, hand arithmetic or the surface scanner
called directly. Rooms are small bathrooms and a hand-built 2.6 m room, to keep this file fast.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import open3d as o3d
import pytest

from occuseg_core.cli import main
from occuseg_core.data.synthetic import DEFAULT_CONFIG, SynthConfig, SyntheticScan, synthesize
from occuseg_core.data.synthetic.config import TSDF_FIELDS
from occuseg_core.data.synthetic.geometry import SolidTable, box, cylinder
from occuseg_core.data.synthetic.layout import build_layout
from occuseg_core.data.synthetic.objects import (
    BOX,
    CABINET,
    PICTURE,
    UNANNOTATED,
    RoomLayout,
    SceneObject,
    rectangle_walls,
)
from occuseg_core.data.synthetic.scan import object_labels, scan_layout
from occuseg_core.data.synthetic.structure import build_floor, build_wall
from occuseg_core.data.synthetic.tsdf_camera import Lighting, camera_path, look_rotation
from occuseg_core.data.synthetic.tsdf_geometry import Carves, layout_mesh, part_mesh
from occuseg_core.data.synthetic.tsdf_scan import render_frame, tsdf_scan_layout

SMALL = SynthConfig(
    scanner="tsdf", room_types=("bathroom",), bathroom_size_m=(2.4, 2.6), tsdf_frames_per_m2=4.0
)
"""Small bathrooms (vanity with a sink set into the counter: carves), about 25 frames each."""


def cached(seed: int, config: SynthConfig = SMALL, _memo: dict = {}) -> SyntheticScan:  # noqa: B006
    if (seed, config) not in _memo:
        _memo[seed, config] = synthesize(seed, config)
    return _memo[seed, config]


def near_object(xyz: np.ndarray, layout: RoomLayout, index: int, margin_m: float) -> np.ndarray:
    """(N,) bool: the point lies in a part of layout object `index` grown by margin_m."""
    table = SolidTable.from_parts(layout.objects[index].parts)
    inside = np.zeros(xyz.shape[0], dtype=bool)
    for k in range(len(table)):
        inside |= table.contains(xyz.astype(np.float64), np.full(xyz.shape[0], k), margin_m)
    return inside


def near_any(xyz: np.ndarray, layout: RoomLayout, margin_m: float) -> np.ndarray:
    return np.any([near_object(xyz, layout, i, margin_m) for i in range(len(layout.objects))], 0)


def hand_room() -> RoomLayout:
    """A 2.6 m room: floor, four walls, a cabinet with a box hidden inside it, a 1.2 cm cube
    floating at 1 m, a 4 mm thin board standing on the floor and an unannotated crate."""
    rng = np.random.default_rng(0)
    walls = rectangle_walls(2.6, 2.6)
    paint = (0.85, 0.84, 0.80)
    blue = (0.2, 0.2, 0.7)
    objects = [build_floor(rng, 2.6, 2.6)]
    objects += [build_wall(wall, i, 2.5, [], paint) for i, wall in enumerate(walls)]
    objects += [
        SceneObject("cabinet", CABINET, (box(0.5, 2.2, 0.0, 0.6, 0.5, 0.8),), ((0.5, 0.3, 0.2),)),
        SceneObject("box", BOX, (box(0.5, 2.2, 0.3, 0.2, 0.2, 0.2),), ((0.9, 0.1, 0.1),)),
        SceneObject("box", BOX, (box(1.3, 1.3, 1.0, 0.012, 0.012, 0.012),), ((0.1, 0.8, 0.1),)),
        SceneObject("picture", PICTURE, (box(2.0, 0.9, 0.0, 0.004, 0.5, 0.6),), (blue,)),
        SceneObject("clutter", UNANNOTATED, (cylinder(1.9, 2.0, 0.0, 0.15, 0.3),), ((0.6,) * 3,)),
    ]  # fmt: skip
    return RoomLayout("bedroom", 2.6, 2.6, 2.5, walls, tuple(objects))


@pytest.fixture(scope="module")
def hand_scan():
    layout = hand_room()
    return layout, tsdf_scan_layout(layout, np.random.default_rng(1), SMALL, "hand")


# --- determinism and output format ------------------------------------------------------------


def test_same_seed_and_config_give_identical_scenes() -> None:
    first, again = cached(0).scene, synthesize(0, SMALL).scene
    for key in ("xyz", "colors", "normals", "semantic", "instance", "faces"):
        np.testing.assert_array_equal(getattr(first, key), getattr(again, key), err_msg=key)
    assert first.name == again.name == "synth_000000"
    assert first.num_points != cached(1).scene.num_points


@pytest.mark.parametrize("seed", [0, 1])
def test_scene_is_a_labelled_mesh_in_the_room_frame(seed: int) -> None:
    result = cached(seed)
    scene, layout = result.scene, result.layout
    assert scene.faces is not None and scene.faces.shape[0] > scene.num_points
    np.testing.assert_allclose(np.linalg.norm(scene.normals, axis=1), 1.0, atol=1e-4)
    assert scene.colors.min() >= 0.0 and scene.colors.max() <= 1.0
    assert scene.colors.std() > 0.02  # lit, textured, exposure-varying: not flat
    room = np.array([layout.width_m, layout.length_m, 3.0])
    assert np.all(scene.xyz.min(0) >= -0.15) and np.all(scene.xyz.max(0) <= room + 0.15)
    assert 5_000 < scene.num_points < 100_000


# --- labels ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_labelled_vertices_lie_on_their_own_object(seed: int) -> None:
    """Instance k's vertices lie within label distance (+ fusion error) of the k-th annotated
    object's parts; every instance has one class, that of its object."""
    result = cached(seed)
    scene, layout = result.scene, result.layout
    semantic_of, instance_of = object_labels(layout)
    owner = {int(i): k for k, i in enumerate(instance_of) if i > 0}
    margin = SMALL.tsdf_label_distance_m + 0.015
    for instance in np.unique(scene.instance[scene.instance > 0]):
        mask = scene.instance == instance
        assert np.unique(scene.semantic[mask]).tolist() == [semantic_of[owner[int(instance)]]]
        assert near_object(scene.xyz[mask], layout, owner[int(instance)], margin).all()
    assert np.all((scene.semantic > 0) == (scene.instance > 0))
    assert 0.9 < np.mean(scene.instance > 0) <= 1.0  # few annotation gaps, as on the surface


def test_floor_and_walls_are_present(hand_scan) -> None:
    layout, scene = hand_scan
    semantic_of, instance_of = object_labels(layout)
    floor = scene.instance == instance_of[0]
    assert np.abs(scene.xyz[floor, 2]).max() < 0.03
    cells = np.unique(np.floor(scene.xyz[floor, :2] / 0.2).astype(int), axis=0)
    assert len(cells) > 0.6 * (2.6 / 0.2) ** 2  # most of the floor was seen
    for wall in range(1, 5):
        on_wall = scene.instance == instance_of[wall]
        assert on_wall.sum() > 1000, f"wall {wall}"
        assert scene.xyz[on_wall, 2].max() > 1.8  # walls scanned well above the furniture


def test_hidden_tiny_and_thin_parts_leave_no_floating_labelled_junk(hand_scan) -> None:
    layout, scene = hand_scan
    _, instance_of = object_labels(layout)
    hidden, tiny, thin = instance_of[6], instance_of[7], instance_of[8]
    assert not np.any(scene.instance == hidden)  # inside the cabinet: never seen
    for instance, index in ((tiny, 7), (thin, 8)):
        mask = scene.instance == instance
        assert near_object(scene.xyz[mask], layout, index, SMALL.tsdf_label_distance_m).all()
    far = ~near_any(scene.xyz, layout, SMALL.tsdf_label_distance_m + 0.01)
    assert not np.any(scene.instance[far] > 0)
    annotated = replace(layout, objects=layout.objects[:9])
    crate = near_object(scene.xyz, layout, 9, 0.01)
    crate &= ~near_any(scene.xyz, annotated, SMALL.tsdf_label_distance_m + 0.01)
    assert crate.sum() > 50 and not np.any(scene.instance[crate] > 0)  # unannotated: 0/0


# --- sensor and camera ----------------------------------------------------------------------


def test_depth_noise_follows_the_axial_model_and_is_quantised() -> None:
    """A camera 2 m in front of a wall, looking straight at it: every pixel reads z = 2 m plus
    noise of std 0.0012 + 0.0019 (2 - 0.4)^2 = 6.06 mm, in whole millimetres."""
    layout = replace(hand_room(), objects=hand_room().objects[:5])
    mesh = layout_mesh(layout)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(mesh.vertices.astype(np.float32)),
                        o3d.core.Tensor(mesh.triangles.astype(np.uint32)))  # fmt: skip
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = look_rotation(-math.pi / 2, 0.0, 0.0), (1.3, 2.0, 1.2)
    rng = np.random.default_rng(0)
    frame = render_frame(scene, mesh, Carves.from_layout(layout), pose,
                         Lighting.draw(layout, rng, 0.0), rng, SMALL)  # fmt: skip
    depth = frame.depth_mm.astype(np.float64)
    assert np.all(depth > 0) and frame.depth_mm.dtype == np.uint16
    assert abs(depth.mean() - 2000.0) < 0.2
    assert depth.std() == pytest.approx(1000 * (0.0012 + 0.0019 * 1.6**2), rel=0.05)
    assert frame.color.dtype == np.uint8 and frame.color.shape == (240, 320, 3)


def test_look_rotation_hand_computed() -> None:
    rotation = look_rotation(0.0, 0.0, 0.0)  # columns: camera x (right), y (down), z (forward)
    np.testing.assert_allclose(rotation, [[0, 0, 1], [-1, 0, 0], [0, -1, 0]], atol=1e-12)
    tilted = look_rotation(math.pi / 2, math.pi / 6, 0.1)
    np.testing.assert_allclose(tilted[:, 2], [0, math.cos(math.pi / 6), -0.5], atol=1e-12)
    np.testing.assert_allclose(tilted.T @ tilted, np.eye(3), atol=1e-12)
    assert np.linalg.det(tilted) == pytest.approx(1.0)


def test_camera_path_is_a_hand_held_loop_inside_the_room() -> None:
    rng = np.random.default_rng(3)
    layout = build_layout(rng, SMALL)
    poses = camera_path(layout, rng, SMALL)
    area = layout.width_m * layout.length_m
    assert 24 <= len(poses) <= max(24, round(4.0 * area))
    assert np.all((poses[:, 2, 3] >= 1.2) & (poses[:, 2, 3] <= 1.8))
    assert np.all((poses[:, 0, 3] > 0) & (poses[:, 0, 3] < layout.width_m))
    assert np.all((poses[:, 1, 3] > 0) & (poses[:, 1, 3] < layout.length_m))
    tilt = -np.arcsin(poses[:, 2, 2])  # downward tilt of the optical axis
    assert np.all((tilt >= -0.2 - 1e-9) & (tilt <= 1.3 + 1e-9)) and np.median(tilt) > 0.25
    np.testing.assert_allclose(np.linalg.det(poses[:, :3, :3]), 1.0, atol=1e-9)


def test_part_meshes_are_closed_outward_solids() -> None:
    """Signed volumes (divergence theorem) equal the parts' volumes: every triangle faces out."""
    for part, volume in ((box(1, 2, 0.5, 0.4, 0.3, 0.2, yaw=0.7), 0.4 * 0.3 * 0.2),
                         (cylinder(0, 0, 0, 0.2, 0.5), math.pi * 0.04 * 0.5)):  # fmt: skip
        vertices, tris = part_mesh(part)
        a, b, c = (vertices[tris[:, k]] for k in range(3))
        signed = np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6
        assert signed == pytest.approx(volume, rel=0.03)


# --- the default scanner and the config ---------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 5])
def test_default_config_scenes_are_the_surface_scanners(seed: int) -> None:
    scene = synthesize(seed).scene
    rng = np.random.default_rng(seed)
    expected = scan_layout(build_layout(rng, DEFAULT_CONFIG), rng, DEFAULT_CONFIG, scene.name)
    for key in ("xyz", "colors", "normals", "semantic", "instance"):
        np.testing.assert_array_equal(getattr(scene, key), getattr(expected, key), err_msg=key)
    assert scene.faces is None


def test_default_config_dict_is_unchanged_and_tsdf_knobs_round_trip() -> None:
    assert not set(TSDF_FIELDS) & set(DEFAULT_CONFIG.to_dict())  # dataset.json as before
    old = DEFAULT_CONFIG.to_dict()
    assert SynthConfig.from_dict(old) == DEFAULT_CONFIG == SynthConfig(scanner="surface")
    tsdf = replace(SMALL, tsdf_voxel_m=0.012, tsdf_pose_noise_m=0.0)
    values = json.loads(json.dumps(tsdf.to_dict()))
    assert set(TSDF_FIELDS) <= set(values) and values["scanner"] == "tsdf"
    assert SynthConfig.from_dict(values) == tsdf


@pytest.mark.parametrize(
    "changes",
    [
        {"scanner": "lidar"}, {"tsdf_frames_per_m2": 0.0}, {"tsdf_voxel_m": 0.0},
        {"tsdf_voxel_m": "0.01"}, {"tsdf_truncation_m": 0.015}, {"tsdf_depth_noise_scale": -1.0},
        {"tsdf_max_depth_m": 0.5}, {"tsdf_pose_noise_m": 0.1}, {"tsdf_mesh_spacing_m": 0.005},
        {"tsdf_label_distance_m": 0.0}, {"tsdf_frames_per_m2": True},
    ],
)  # fmt: skip
def test_bad_tsdf_config_is_rejected(changes: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(changes))):
        SynthConfig(**changes)


def test_synth_command_takes_the_scanner(tmp_path: Path, capsys) -> None:
    out = tmp_path / "ds"
    args = ["synth", "--out", str(out), "--scenes", "1", "--val-fraction", "0", "--room-types",
            "bathroom", "--scanner", "tsdf", "--no-progress"]  # fmt: skip
    assert main(args) == 0
    info = json.loads((out / "dataset.json").read_text())
    assert info["generator"]["config"]["scanner"] == "tsdf"
    with np.load(out / "train" / "synth_00000.npz") as arrays:
        assert arrays["faces"].shape[1] == 3
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main([*args[:-3], "--scanner", "lidar"])
    assert exit_info.value.code == 2 and "invalid choice" in capsys.readouterr().err
