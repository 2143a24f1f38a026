"""`occuseg bag` pipeline on a small MCAP bag written here, with the fake Segmenter."""

from __future__ import annotations

import numpy as np
import pytest
from mcap.reader import make_reader
from mcap.writer import Writer
from rclpy.serialization import deserialize_message, serialize_message
from ros_helpers import FakeSegmenter, fake_result, three_box_points, xyzrgb_cloud

from occuseg_ros.bag import ros2msg_schema, segment_bag
from occuseg_ros.msg import InstanceArray
from occuseg_ros.params import default_params
from occuseg_ros.pipeline import CloudPipeline

pytestmark = pytest.mark.ros


def test_bag_outputs_match_the_segmenter_and_skip_bad_clouds(tmp_path, rng):
    xyz = three_box_points(rng)
    clouds = [xyzrgb_cloud(xyz, sec=1), xyzrgb_cloud(np.full((5, 3), np.nan, np.float32), sec=2)]
    source = tmp_path / "in.mcap"
    with open(source, "wb") as f:
        writer = Writer(f)
        writer.start(profile="ros2", library="test")
        schema = writer.register_schema(
            name="sensor_msgs/msg/PointCloud2",
            encoding="ros2msg",
            data=ros2msg_schema("sensor_msgs/msg/PointCloud2").encode(),
        )
        channel = writer.register_channel("/points", message_encoding="cdr", schema_id=schema)
        for k, msg in enumerate(clouds):
            writer.add_message(channel, log_time=k, publish_time=k, data=serialize_message(msg))
        writer.finish()
    pipeline = CloudPipeline(FakeSegmenter(), default_params())
    counts = segment_bag(
        str(source), str(tmp_path / "out.mcap"), "/points", pipeline, progress=lambda _: None
    )
    assert counts == {"read": 2, "segmented": 1, "skipped": 1}
    with open(tmp_path / "out.mcap", "rb") as f:
        found = {
            (c.topic, s.name, m.log_time): m.data for s, c, m in make_reader(f).iter_messages()
        }
    assert sorted(found) == [
        ("/points/instances", "occuseg_ros/msg/InstanceArray", 0),
        ("/points/instances/markers", "visualization_msgs/msg/MarkerArray", 0),
        ("/points/instances/points", "sensor_msgs/msg/PointCloud2", 0),
    ]
    arr = deserialize_message(
        found[("/points/instances", "occuseg_ros/msg/InstanceArray", 0)], InstanceArray
    )
    expected = fake_result(xyz)
    assert [i.point_count for i in arr.instances] == [r.point_count for r in expected.instances]


def test_schema_text_contains_each_dependency_once():
    text = ros2msg_schema("occuseg_ros/msg/InstanceArray")
    deps = [line for line in text.splitlines() if line.startswith("MSG: ")]
    assert sorted(deps) == [
        "MSG: builtin_interfaces/Time",
        "MSG: geometry_msgs/Point",
        "MSG: geometry_msgs/Vector3",
        "MSG: occuseg_ros/Instance",
        "MSG: std_msgs/Header",
    ]
