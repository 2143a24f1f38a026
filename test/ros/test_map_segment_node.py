"""map_segment_node in this process with a fake Segmenter: ids, services, frames."""

from __future__ import annotations

import os

import numpy as np
import pytest
import rclpy
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from ros_helpers import FakeSegmenter, RosSession, spin_until, three_box_points, xyzrgb_cloud
from sensor_msgs.msg import PointCloud2
from std_srvs.srv import Trigger
from visualization_msgs.msg import Marker, MarkerArray

from occuseg_ros import frames
from occuseg_ros.map_segment_node import MapSegmentationNode
from occuseg_ros.msg import InstanceArray

pytestmark = pytest.mark.ros


@pytest.fixture
def map_harness():
    session = RosSession()
    ns = f"/map_test_{os.getpid()}"
    node = session.add(MapSegmentationNode(
        segmenter=FakeSegmenter(), context=session.context, namespace=ns,
        parameter_overrides=[Parameter("warmup", value=False),
                             Parameter("segment_period_s", value=3600.0)],
    ))  # fmt: skip
    probe = session.add(rclpy.create_node("probe", context=session.context, namespace=ns))
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    received = []
    probe.create_subscription(InstanceArray, "instances", received.append, reliable)
    pub = probe.create_publisher(PointCloud2, "points", reliable)
    clients = {name: probe.create_client(Trigger, f"{ns}/map_segment_node/{name}")
               for name in ("reset", "segment_now")}  # fmt: skip
    assert spin_until(session.executor, lambda: pub.get_subscription_count() > 0
                      and all(c.service_is_ready() for c in clients.values()))  # fmt: skip

    def call(name):
        future = clients[name].call_async(Trigger.Request())
        assert spin_until(session.executor, future.done)
        return future.result()

    def integrate(msg):
        before = node.stats.received
        pub.publish(msg)
        assert spin_until(session.executor, lambda: node.stats.received > before)

    yield node, session, received, integrate, call
    session.close()


def ids_by_x(arr: InstanceArray) -> dict[int, int]:
    """floor(centroid x) -> published id."""
    return {int(np.floor(i.centroid.x)): i.id for i in arr.instances}


def assert_segmented(response, instances: int, voxels: int) -> None:
    """segment_now answered after its segmentation ran: success and that run's counts."""
    assert response.success, response.message
    assert response.message == f"{instances} instances in {voxels} voxels"


def test_ids_stay_stable_when_the_scene_is_republished_with_noise(map_harness, rng):
    node, session, received, integrate, call = map_harness
    xyz = three_box_points(rng, 3000)
    integrate(xyzrgb_cloud(xyz, frame="map"))
    assert_segmented(call("segment_now"), 3, node.map.num_voxels)
    assert spin_until(session.executor, lambda: len(received) == 1)
    first = ids_by_x(received[0])
    assert sorted(first) == [0, 1, 2] and sorted(first.values()) == [1, 2, 3]
    # same scene, 5 mm noise; the segmenter now numbers instances the other way round
    node.pipeline.segmenter = FakeSegmenter(reverse=True)
    noisy = xyz + rng.normal(0, 0.005, size=xyz.shape).astype(np.float32)
    integrate(xyzrgb_cloud(noisy, frame="map"))
    assert_segmented(call("segment_now"), 3, node.map.num_voxels)
    assert spin_until(session.executor, lambda: len(received) == 2)
    assert ids_by_x(received[1]) == first
    assert received[1].header.frame_id == "map"
    n_voxels = node.map.num_voxels
    indices = np.concatenate([i.point_indices for i in received[1].instances])
    assert indices.max() < n_voxels and len(np.unique(indices)) == len(indices)


def test_segment_now_publishes_even_when_nothing_new_arrived(map_harness, rng):
    """A second segment_now with no cloud in between segments the same map again: the same
    answer and a second message with the same ids."""
    node, session, received, integrate, call = map_harness
    integrate(xyzrgb_cloud(three_box_points(rng), frame="map"))
    assert_segmented(call("segment_now"), 3, node.map.num_voxels)
    assert spin_until(session.executor, lambda: len(received) == 1)
    assert_segmented(call("segment_now"), 3, node.map.num_voxels)
    assert spin_until(session.executor, lambda: len(received) == 2)
    assert ids_by_x(received[1]) == ids_by_x(received[0])


def test_reset_clears_the_map_and_restarts_ids(map_harness, rng):
    node, session, received, integrate, call = map_harness
    integrate(xyzrgb_cloud(three_box_points(rng), frame="map"))
    assert_segmented(call("segment_now"), 3, node.map.num_voxels)
    assert call("reset").success and node.map.num_voxels == 0
    shifted = three_box_points(rng) + np.float32([0, 5, 0])
    integrate(xyzrgb_cloud(shifted, frame="map"))
    assert_segmented(call("segment_now"), 3, node.map.num_voxels)
    assert spin_until(session.executor, lambda: len(received) == 2)
    assert sorted(i.id for i in received[1].instances) == [1, 2, 3]


def test_segment_now_after_reset_reports_and_publishes_the_empty_map(map_harness, rng):
    """reset marks the map changed: segment_now then segments the empty map, answers 0
    instances in 0 voxels and publishes the empty outputs that clear RViz: an InstanceArray
    without instances, a cloud of width 0 and markers that are only DELETEALL."""
    node, session, received, integrate, call = map_harness
    probe = session.nodes[1]
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    clouds, markers = [], []
    probe.create_subscription(PointCloud2, "instances/points", clouds.append, reliable)
    probe.create_subscription(MarkerArray, "instances/markers", markers.append, reliable)
    assert spin_until(session.executor, lambda: node._outputs.points.get_subscription_count()
                      and node._outputs.markers.get_subscription_count())  # fmt: skip
    integrate(xyzrgb_cloud(three_box_points(rng), frame="map"))
    assert_segmented(call("segment_now"), 3, node.map.num_voxels)
    assert call("reset").success
    assert_segmented(call("segment_now"), 0, 0)
    assert spin_until(session.executor, lambda: len(received) == 2 and len(clouds) == 2
                      and len(markers) == 2)  # fmt: skip
    assert len(received[1].instances) == 0 and received[1].header.frame_id == "map"
    assert (clouds[1].width, clouds[1].height, len(clouds[1].data)) == (0, 1, 0)
    assert [f.name for f in clouds[1].fields] == [f.name for f in clouds[0].fields]
    assert [m.action for m in markers[1].markers] == [Marker.DELETEALL]


def test_cloud_in_another_frame_is_rejected(map_harness, rng):
    """Without tf2_ros as refused; with it (a ROS install), as missing its transform."""
    node, session, received, integrate, call = map_harness
    integrate(xyzrgb_cloud(three_box_points(rng), frame="camera"))
    reason = "wrong_frame" if frames.tf2_ros is None else "no_transform"
    assert node.stats.rejected[reason] == 1 and node.map.num_voxels == 0
