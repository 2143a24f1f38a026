"""`occuseg bag` on small MCAP bags written here: outputs (with the fake Segmenter), failed runs
that leave OUT.mcap as it was, and byte-identical outputs."""

from __future__ import annotations

import numpy as np
import pytest
from mcap.reader import make_reader
from mcap.writer import Writer
from rclpy.serialization import deserialize_message, serialize_message
from ros_helpers import FakeSegmenter, fake_result, three_box_points, write_bag, xyzrgb_cloud
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

from occuseg_core.cli import main
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


def _cloud_bag(path, rng, count=3, **options):
    clouds = [("/points", xyzrgb_cloud(three_box_points(rng, 60), sec=k)) for k in range(count)]
    return write_bag(path, clouds, **options)


def _run_bag(bag, out, random_checkpoint, *extra):
    argv = ["bag", str(bag), "--topic", "/points", "--out", str(out)]
    return main([*argv, "--checkpoint", str(random_checkpoint), "--device", "cpu", *extra])


def _truncate(bag):
    bag.write_bytes(bag.read_bytes()[:-300])


def _string_on_points(bag):
    write_bag(bag, [("/points", String(data="not a cloud"))])


def _cloud_elsewhere(bag):
    write_bag(bag, [("/lidar", xyzrgb_cloud(np.zeros((3, 3), np.float32)))])


FAILURES = {
    "truncated bag": _truncate,
    "topic absent": _cloud_elsewhere,
    "not PointCloud2": _string_on_points,
    "not an MCAP file": lambda bag: bag.write_text("hello"),
}


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("existing", [True, False], ids=["OUT exists", "no OUT"])
def test_a_failed_run_leaves_out_as_it_was(tmp_path, rng, random_checkpoint, capsys, failure,
                                           existing):  # fmt: skip
    """An existing OUT.mcap stays byte-identical, and no file is created otherwise."""
    bag = _cloud_bag(tmp_path / "in.mcap", rng)
    FAILURES[failure](bag)
    out = tmp_path / "out.mcap"
    previous = b"\x89MCAP0\r\n a good bag from an earlier run"
    if existing:
        out.write_bytes(previous)
    before = sorted(tmp_path.iterdir())
    assert _run_bag(bag, out, random_checkpoint) == 2
    assert sorted(tmp_path.iterdir()) == before
    assert out.read_bytes() == previous if existing else not out.exists()
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_a_run_failing_midway_leaves_out_as_it_was(tmp_path, rng):
    class FailsOnSecondCloud(CloudPipeline):
        def process(self, msg):
            if msg.header.stamp.sec == 1:
                raise RuntimeError("out of memory")
            return super().process(msg)

    bag = _cloud_bag(tmp_path / "in.mcap", rng)
    out = tmp_path / "out.mcap"
    out.write_bytes(b"previous")
    pipeline = FailsOnSecondCloud(FakeSegmenter(), default_params())
    with pytest.raises(RuntimeError, match="out of memory"):
        segment_bag(str(bag), str(out), "/points", pipeline, progress=lambda _: None)
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mcap", "out.mcap"]


def _padding_bytes(data: bytes, msg_type) -> list[int]:
    """Bytes whose value does not change the decoded message (found without occuseg_ros.cdr:
    each byte set to 0x00 and to 0x5A must decode to the same message)."""
    msg = deserialize_message(data, msg_type)
    found = []
    for i in range(4, len(data)):
        same = True
        for value in (0x00, 0x5A):
            changed = bytearray(data)
            changed[i] = value
            try:
                same = same and deserialize_message(bytes(changed), msg_type) == msg
            except Exception:  # a length byte: not padding
                same = False
        if same:
            found.append(i)
    return found


def test_two_runs_give_identical_bags_with_zero_padding(tmp_path, rng):
    """The CDR padding rclpy leaves uninitialised is zeroed in every output message."""
    clouds = [("/points", xyzrgb_cloud(three_box_points(rng, 6), frame="c", sec=1))]
    bag = write_bag(tmp_path / "in.mcap", clouds)
    outputs = []
    for name in ("a.mcap", "b.mcap"):
        pipeline = CloudPipeline(FakeSegmenter(), default_params())
        segment_bag(str(bag), str(tmp_path / name), "/points", pipeline, progress=lambda _: None)
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]
    types = {"InstanceArray": InstanceArray, "MarkerArray": MarkerArray,
             "PointCloud2": PointCloud2}  # fmt: skip
    with open(tmp_path / "a.mcap", "rb") as f:
        for schema, _, message in make_reader(f).iter_messages():
            padding = _padding_bytes(message.data, types[schema.name.split("/")[-1]])
            assert padding and all(message.data[i] == 0 for i in padding), schema.name


def test_cli_segments_a_bag_and_says_which_supervoxels_ran(tmp_path, rng, random_checkpoint,
                                                           capsys):  # fmt: skip
    bag = _cloud_bag(tmp_path / "in.mcap", rng, count=2)
    out = tmp_path / "out.mcap"
    argv = ["bag", str(bag), "--topic", "points", "--out", str(out)]
    assert main([*argv, "--checkpoint", str(random_checkpoint), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "topic /points; supervoxels: point cloud (a PointCloud2 has no faces)" in printed
    assert f"2 of 2 clouds segmented (0 skipped) -> {out}" in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mcap", "out.mcap"]
