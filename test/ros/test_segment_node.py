"""segment_node in this process with a fake Segmenter, over loopback DDS."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from ros_helpers import (
    FakeSegmenter,
    RosSession,
    fake_result,
    spin_until,
    three_box_points,
    xyzrgb_cloud,
)
from sensor_msgs.msg import PointCloud2
from visualization_msgs.msg import Marker, MarkerArray

from occuseg_ros.msg import InstanceArray
from occuseg_ros.node_common import LatestSlot
from occuseg_ros.params import ParameterError
from occuseg_ros.pointcloud import read_cloud
from occuseg_ros.segment_node import SegmentationNode

pytestmark = pytest.mark.ros
_names = itertools.count()


class Harness:
    """A SegmentationNode with a fake segmenter plus a probe node that publishes and listens."""

    def __init__(self, segmenter: FakeSegmenter, **params) -> None:
        self.session = RosSession()
        self.ns = f"/test_{os.getpid()}_{next(_names)}"
        overrides = [Parameter("warmup", value=False)]
        overrides += [Parameter(k, value=v) for k, v in params.items()]
        self.node = self.session.add(SegmentationNode(
            segmenter=segmenter, context=self.session.context, namespace=self.ns,
            parameter_overrides=overrides,
        ))  # fmt: skip
        probe = self.session.add(
            __import__("rclpy").create_node(
                "probe", context=self.session.context, namespace=self.ns
            )
        )
        self.received = {"instances": [], "points": [], "markers": [], "diag": []}
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        for topic, kind, key in [("instances", InstanceArray, "instances"),
                                 ("instances/points", PointCloud2, "points"),
                                 ("instances/markers", MarkerArray, "markers"),
                                 ("/diagnostics", DiagnosticArray, "diag")]:  # fmt: skip
            probe.create_subscription(kind, topic, self.received[key].append, reliable)
        self.pub = probe.create_publisher(PointCloud2, "points", reliable)
        self.probe = probe

    def wait_for_connection(self) -> None:
        assert spin_until(self.session.executor, lambda: self.pub.get_subscription_count() > 0)

    def publish_and_wait(self, msg, count: int) -> None:
        """Publishes msg and waits until `count` InstanceArrays arrived in total."""
        self.pub.publish(msg)
        assert spin_until(
            self.session.executor, lambda: len(self.received["instances"]) >= count
        ), "no output"

    def close(self) -> None:
        self.session.close()


@pytest.fixture
def harness_factory():
    made = []

    def make(segmenter=None, **params):
        made.append(Harness(segmenter or FakeSegmenter(), **params))
        made[-1].wait_for_connection()
        return made[-1]

    yield make
    for h in made:
        h.close()


def test_three_outputs_match_the_segmenter_result(harness_factory, rng):
    h = harness_factory()
    xyz = three_box_points(rng)
    h.publish_and_wait(xyzrgb_cloud(xyz, frame="camera_depth", sec=42), 1)
    assert spin_until(h.session.executor, lambda: h.received["points"] and h.received["markers"])
    expected = fake_result(xyz)
    (arr,) = h.received["instances"]
    assert arr.header.frame_id == "camera_depth" and arr.header.stamp.sec == 42
    assert [i.id for i in arr.instances] == [r.id + 1 for r in expected.instances]
    for inst, rec in zip(arr.instances, expected.instances, strict=True):
        assert (inst.class_id, inst.class_name, inst.point_count) == (
            rec.class_id, rec.class_name, rec.point_count)  # fmt: skip
        np.testing.assert_array_equal(inst.point_indices, np.flatnonzero(expected.instance_ids
                                                                          == rec.id))  # fmt: skip
        assert inst.score == pytest.approx(rec.score)
    cloud = h.received["points"][0]
    assert cloud.header.frame_id == "camera_depth" and cloud.width == len(xyz)
    data = np.frombuffer(bytes(cloud.data), np.uint8).reshape(len(xyz), cloud.point_step)
    ids = data[:, 16:20].copy().view("<u4").ravel()
    np.testing.assert_array_equal(ids, expected.instance_ids + 1)
    np.testing.assert_array_equal(read_cloud(cloud, max_points=10**6).xyz, xyz)
    markers = h.received["markers"][0].markers
    assert markers[0].action == Marker.DELETEALL
    assert len(markers) == 1 + 2 * len(expected.instances)


@pytest.mark.parametrize(
    "bad",
    ["missing_z", "all_nan", "short_data", "empty", "int16_x"],
)
def test_bad_cloud_is_counted_and_the_next_good_one_is_processed(harness_factory, rng, bad):
    h = harness_factory()
    good = xyzrgb_cloud(three_box_points(rng), sec=1)
    broken = xyzrgb_cloud(three_box_points(rng), sec=2)
    if bad == "missing_z":
        broken.fields = [f for f in broken.fields if f.name != "z"]
    elif bad == "all_nan":
        broken = xyzrgb_cloud(np.full((50, 3), np.nan, np.float32), sec=2)
    elif bad == "short_data":
        broken.data = broken.data[:-3]
    elif bad == "empty":
        broken.width, broken.row_step, broken.data = 0, 0, b""
    elif bad == "int16_x":
        broken.fields[0].datatype = 3
    h.pub.publish(broken)
    assert spin_until(h.session.executor, lambda: sum(h.node.stats.rejected.values()) == 1)
    h.publish_and_wait(good, 1)
    assert [a.header.stamp.sec for a in h.received["instances"]] == [1]
    assert h.node.stats.processed == 1
    assert spin_until(h.session.executor, lambda: any(
        "rejected" in kv.key and kv.value == "1"
        for d in h.received["diag"] for s in d.status if h.ns in s.name for kv in s.values
    ))  # fmt: skip


def test_score_threshold_changes_at_run_time(harness_factory, rng):
    h = harness_factory()
    xyz = three_box_points(rng)
    h.publish_and_wait(xyzrgb_cloud(xyz, sec=1), 1)
    assert len(h.received["instances"][0].instances) == 3
    h.node.set_parameters([Parameter("score_threshold", value=0.5)])
    h.publish_and_wait(xyzrgb_cloud(xyz, sec=2), 2)
    kept = h.received["instances"][1].instances
    assert [(i.id, i.score) for i in kept] == [(1, pytest.approx(0.9)), (2, pytest.approx(0.6))]


def test_cuda_out_of_memory_retries_this_cloud_on_cpu_and_keeps_running(harness_factory, rng):
    segmenter = FakeSegmenter(oom_failures=1)
    h = harness_factory(segmenter)
    xyz = three_box_points(rng)
    h.publish_and_wait(xyzrgb_cloud(xyz, sec=1), 1)
    assert len(h.received["instances"][0].instances) == 3
    assert h.node.pipeline._cpu_segmenter.device == "cpu"
    h.publish_and_wait(xyzrgb_cloud(xyz, sec=2), 2)
    assert segmenter.calls == [len(xyz), len(xyz)]  # the GPU model is tried again


def test_cloud_above_max_points_is_downsampled_but_labels_cover_every_point(harness_factory, rng):
    h = harness_factory(max_points=1000)
    xyz = rng.uniform([0.0, 0.0, 0.0], [3.0, 1.0, 1.0], size=(20_000, 3)).astype(np.float32)
    h.publish_and_wait(xyzrgb_cloud(xyz), 1)
    (arr,) = h.received["instances"]
    assert sum(i.point_count for i in arr.instances) == len(xyz)
    assert sorted(np.concatenate([i.point_indices for i in arr.instances])) == list(range(20_000))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("device", "gpu0"),
        ("score_threshold", 1.5),
        ("checkpoint", "/no/such/model.pt"),
        ("input_reliability", "sometimes"),
        ("class_names", ["chair"]),
        ("max_points", 5),
    ],
)
def test_invalid_parameters_stop_start_up_with_a_named_error(name, value):
    session = RosSession()
    try:
        with pytest.raises(ParameterError, match=name):
            SegmentationNode(segmenter=FakeSegmenter(), context=session.context,
                             parameter_overrides=[Parameter(name, value=value)])  # fmt: skip
    finally:
        session.close()


def test_latest_slot_keeps_only_the_newest_and_counts_replacements():
    slot = LatestSlot()
    assert slot.put("a") is False
    assert slot.put("b") is True
    assert slot.take(timeout_s=0) == "b"
    assert slot.take(timeout_s=0) is None
    slot.close()
    assert slot.take() is None


def test_segment_node_spins_single_threaded():
    """Issue 15.8: rclpy's MultiThreadedExecutor held a cloud arriving just after the previous
    outputs for 50-130 ms (tools/ros/bench_node_overhead.py --executor-threads 2); the plain and
    managed segment_node spin on one thread, map_segment_node (whose callback may wait for a
    transform) still on two."""
    import rclpy
    from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor

    from occuseg_ros.managed import managed
    from occuseg_ros.map_segment_node import MapSegmentationNode
    from occuseg_ros.node_common import make_executor

    context = rclpy.Context()
    context.init()
    try:
        for node_type in (SegmentationNode, managed(SegmentationNode)):
            executor = make_executor(node_type.executor_threads, context)
            assert isinstance(executor, SingleThreadedExecutor)
            executor.shutdown()
        executor = make_executor(MapSegmentationNode.executor_threads, context)
        assert isinstance(executor, MultiThreadedExecutor)
        executor.shutdown()
    finally:
        context.try_shutdown()
