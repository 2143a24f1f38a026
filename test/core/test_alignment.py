"""Turning scans to their walls before the network (`occuseg_core.alignment`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from occuseg_core.alignment import align_to_walls, wall_yaw
from occuseg_core.types import Scene


def _room(rng: np.random.Generator) -> np.ndarray:
    """A 5 x 4 x 2.5 m room, walls along the axes, with its floor and three boxes of clutter."""
    parts = []
    for x0, x1, y0, y1 in ((0, 5, 0, 0), (0, 5, 4, 4), (0, 0, 0, 4), (5, 5, 0, 4)):
        n = 4000
        t, z = rng.random(n), rng.random(n) * 2.5
        parts.append(np.column_stack([x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, z]))
    parts.append(np.column_stack([rng.random(6000) * 5, rng.random(6000) * 4, np.zeros(6000)]))
    for cx, cy in ((1.0, 1.0), (3.5, 2.5), (2.0, 3.2)):
        parts.append(np.column_stack([cx + rng.random(800) * 0.6, cy + rng.random(800) * 0.4,
                                      rng.random(800) * 0.8]))  # fmt: skip
    return np.concatenate(parts)


def _turn(xyz: np.ndarray, degrees: float) -> np.ndarray:
    a = math.radians(degrees)
    turn = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    return xyz @ turn.T


def _angle_mod_90(degrees: float) -> float:
    """The angle folded into [-45, 45)."""
    return (degrees + 45.0) % 90.0 - 45.0


@pytest.mark.parametrize("degrees", [0.0, 7.0, 30.0, 44.0, -20.0, 61.0, 135.0])
def test_the_turn_that_undoes_a_known_heading_is_found(rng, degrees):
    xyz = _turn(_room(rng), degrees) + np.array([12.0, -3.0, 0.5])
    found = math.degrees(wall_yaw(xyz))
    # Turning by `found` must undo `degrees`, modulo the room's quarter-turn symmetry.
    assert abs(_angle_mod_90(found + degrees)) <= 0.3


def test_an_aligned_scene_is_returned_unchanged(rng):
    room = _room(rng)
    scene = Scene(xyz=room.astype(np.float32), colors=rng.random((room.shape[0], 3)))
    assert align_to_walls(scene) is scene


def test_a_turned_scene_is_aligned_keeping_points_colours_and_labels(rng):
    room = _room(rng)
    n = room.shape[0]
    normals = np.tile([[1.0, 0.0, 0.0]], (n, 1))
    scene = Scene(
        xyz=_turn(room, 30.0).astype(np.float32), colors=rng.random((n, 3)),
        normals=_turn(normals, 30.0).astype(np.float32),
        semantic=rng.integers(0, 40, n), instance=rng.integers(0, 5, n), name="turned",
    )  # fmt: skip
    aligned = align_to_walls(scene)
    assert aligned is not scene and aligned.name == "turned"
    assert math.degrees(abs(wall_yaw(aligned.xyz))) <= 0.3
    # A rigid turn about z around the centroid: heights, centroid and distances are kept.
    np.testing.assert_allclose(aligned.xyz[:, 2], scene.xyz[:, 2], atol=1e-5)
    np.testing.assert_allclose(aligned.xyz.mean(axis=0), scene.xyz.mean(axis=0), atol=1e-3)
    pairs = rng.integers(0, n, (500, 2))
    np.testing.assert_allclose(
        np.linalg.norm(aligned.xyz[pairs[:, 0]] - aligned.xyz[pairs[:, 1]], axis=1),
        np.linalg.norm(scene.xyz[pairs[:, 0]] - scene.xyz[pairs[:, 1]], axis=1), atol=1e-4,
    )  # fmt: skip
    # The normals turned with the points: they point along an axis again.
    assert np.all(np.abs(aligned.normals).max(axis=1) > 0.9999)
    for name in ("colors", "semantic", "instance"):
        np.testing.assert_array_equal(getattr(aligned, name), getattr(scene, name))


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        wall_yaw(np.zeros((10, 2)))
    assert wall_yaw(np.zeros((2, 3))) == 0.0


def test_the_segmenter_runs_on_the_aligned_scan_and_answers_in_the_input_frame(rng):
    from occuseg_core.inference import Segmenter, SegmenterOptions
    from occuseg_core.testing import random_model

    model, config = random_model("small", seed=3)
    room = _room(rng)
    turned = Scene(xyz=_turn(room, 30.0).astype(np.float32), colors=rng.random((len(room), 3)))
    options = SegmenterOptions(min_instance_points=1)
    on = Segmenter(model=model, config=config, device="cpu", options=options)
    no_turn = SegmenterOptions(min_instance_points=1, align_walls=False)
    off = Segmenter(model=model, config=config, device="cpu", options=no_turn)
    with_alignment = on.segment(turned)
    by_hand = off.segment(align_to_walls(turned))
    np.testing.assert_array_equal(with_alignment.instance_ids, by_hand.instance_ids)
    np.testing.assert_array_equal(with_alignment.semantic_ids, by_hand.semantic_ids)
    # Boxes and centroids are of the input's points, not of the turned ones.
    for record in with_alignment.instances:
        points = turned.xyz[with_alignment.instance_ids == record.id]
        np.testing.assert_allclose(record.centroid_m, points.mean(axis=0), atol=1e-4)
        np.testing.assert_allclose(record.box_min_m, points.min(axis=0), atol=1e-6)
    # Without alignment the network sees another voxel grid and answers differently.
    assert not np.array_equal(off.segment(turned).semantic_ids, with_alignment.semantic_ids)


@pytest.mark.parametrize(("flags", "expected"), [([], True), (["--no-align-walls"], False)])
def test_the_cli_passes_the_alignment_choice_to_the_segmenter(random_checkpoint, flags, expected):
    import argparse

    from occuseg_core.commands.segment import add_arguments, make_segmenter

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    argv = ["scan.ply", "--out", "out", "--checkpoint", str(random_checkpoint), *flags]
    args = parser.parse_args(argv)
    assert make_segmenter(args).options.align_walls is expected
