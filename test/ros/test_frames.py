"""Map mode takes clouds in any frame: transformed into map_frame at their stamp through a TF
buffer (a stand-in here: tf2_ros is not on PyPI), dropped and counted when the transform is
missing, refused with the reason when tf2_ros is not installed."""

from __future__ import annotations

import math
import os
import types

import numpy as np
import pytest
from rclpy.parameter import Parameter
from ros_helpers import (
    FakeSegmenter,
    RosSession,
    StandInBuffer,
    stamped,
    three_box_points,
    xyzrgb_cloud,
)

from occuseg_ros import frames
from occuseg_ros.diagnostics import to_diagnostic_status
from occuseg_ros.frames import TfFrames, transform_matrix, transform_points
from occuseg_ros.map_segment_node import MapSegmentationNode

pytestmark = pytest.mark.ros
# 90 degrees about z, then 1, 2, 3 m: (x, y, z) in the camera frame is (1 - y, 2 + x, 3 + z)
QUARTER_TURN = stamped((1.0, 2.0, 3.0), (0.0, 0.0, math.sin(math.pi / 4), math.cos(math.pi / 4)))


@pytest.fixture
def session():
    made = RosSession()
    yield made
    made.close()


def map_node(session, tf_buffer=None, **params) -> MapSegmentationNode:
    overrides = [Parameter("warmup", value=False), Parameter("segment_period_s", value=3600.0)]
    overrides += [Parameter(k, value=v) for k, v in params.items()]
    return session.add(MapSegmentationNode(
        segmenter=FakeSegmenter(), tf_buffer=tf_buffer, context=session.context,
        namespace=f"/frames_{os.getpid()}", parameter_overrides=overrides,
    ))  # fmt: skip


def test_rotation_and_translation_match_hand_computed_points():
    xyz = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [2, -1, 0.5]], dtype=np.float32)
    moved = transform_points(xyz, transform_matrix(QUARTER_TURN.transform))
    expected = [[1, 3, 3], [0, 2, 3], [1, 2, 4], [2, 4, 3.5]]
    np.testing.assert_allclose(moved, expected, atol=1e-6)
    assert moved.dtype == np.float32
    # an unnormalised quaternion (2x the same rotation) is normalised, a zero one refused
    doubled = stamped(
        (1.0, 2.0, 3.0), (0.0, 0.0, 2 * math.sin(math.pi / 4), 2 * math.cos(math.pi / 4))
    )
    moved_again = transform_points(xyz, transform_matrix(doubled.transform))
    np.testing.assert_allclose(moved_again, expected, atol=1e-6)
    with pytest.raises(ValueError):
        transform_matrix(stamped((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0)).transform)


def test_a_cloud_in_the_camera_frame_lands_in_the_map_at_its_stamp(session):
    buffer = StandInBuffer({("map", "camera"): QUARTER_TURN})
    node = map_node(session, buffer, transform_timeout_s=0.5)
    # points 10 cm apart, so each has a voxel (2 cm) of its own
    xyz = np.array([[0.5, 0.0, 0.0], [0.0, 0.5, 0.0], [0.2, 0.3, 0.4]], dtype=np.float32)
    node._on_cloud(xyzrgb_cloud(xyz, frame="camera", sec=42))
    ((target, source, time, timeout),) = buffer.calls
    assert (target, source) == ("map", "camera")
    assert time.nanoseconds == 42 * 10**9 and timeout.nanoseconds == 5 * 10**8
    expected = np.array([[1.0, 2.5, 3.0], [0.5, 2.0, 3.0], [0.7, 2.2, 3.4]])
    centres = node.map.centers_m()
    assert len(centres) == 3 and node.stats.rejected == {}
    for point in expected:  # each voxel centre lies within half a voxel of its point
        assert np.abs(centres - point).max(axis=1).min() <= node.map.voxel_size_m / 2 + 1e-6


def test_a_cloud_already_in_the_map_frame_is_not_looked_up(session, rng):
    buffer = StandInBuffer()
    node = map_node(session, buffer)
    node._on_cloud(xyzrgb_cloud(three_box_points(rng), frame="map"))
    assert buffer.calls == [] and node.map.num_voxels > 0


def test_a_missing_transform_drops_the_cloud_and_counts_it(session, rng):
    node = map_node(session, StandInBuffer({("map", "odom"): QUARTER_TURN}))
    node._on_cloud(xyzrgb_cloud(three_box_points(rng), frame="camera", sec=7))
    assert node.map.num_voxels == 0 and node.stats.rejected["no_transform"] == 1
    assert "no transform from 'camera' to 'map' at 7.000000000 within 0.2 s" in (
        node.stats.last_error
    )
    values = {kv.key: kv.value for kv in to_diagnostic_status("n", node.stats).values}
    assert values["rejected: no_transform"] == "1" and values["clouds rejected"] == "1"


def test_a_transform_with_a_zero_quaternion_drops_the_cloud_and_says_why(session, rng):
    broken = stamped((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0))
    node = map_node(session, StandInBuffer({("map", "camera"): broken}))
    node._on_cloud(xyzrgb_cloud(three_box_points(rng), frame="camera", sec=7))
    assert node.map.num_voxels == 0 and node.stats.rejected["no_transform"] == 1
    assert "from 'camera' to 'map' at 7.000000000 is not a rotation" in node.stats.last_error


def test_without_tf2_another_frame_is_refused_with_the_reason(session, rng, monkeypatch):
    monkeypatch.setattr(frames, "tf2_ros", None)
    node = map_node(session)
    assert node.frames.buffer is None
    for _ in range(2):
        node._on_cloud(xyzrgb_cloud(three_box_points(rng), frame="camera"))
    assert node.map.num_voxels == 0 and node.stats.rejected["wrong_frame"] == 2
    assert "tf2_ros, which would transform it, is not installed" in node.stats.last_error


def test_with_tf2_installed_a_listener_fills_the_nodes_buffer(session, monkeypatch):
    """What the node does with the real tf2_ros: a Buffer, a TransformListener on the node,
    unregistered when the model is unloaded (cleanup)."""
    made = []

    class Listener:
        def __init__(self, buffer, node) -> None:
            made.append((buffer, node))
            self.unregistered = False

        def unregister(self) -> None:
            self.unregistered = True

    fake = types.SimpleNamespace(Buffer=StandInBuffer, TransformListener=Listener)
    monkeypatch.setattr(frames, "tf2_ros", fake)
    node = map_node(session)
    ((buffer, owner),) = made
    assert isinstance(buffer, StandInBuffer) and owner is node and node.frames.buffer is buffer
    listener = node.frames._listener
    node.unload()
    assert listener.unregistered and node.frames is None


def test_frames_compare_by_name_only():
    assert TfFrames("map", StandInBuffer()).to_map("map", None, 1.0) is None
