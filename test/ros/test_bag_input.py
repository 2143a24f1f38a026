"""`occuseg bag` on awkward inputs: truncated bags (one-line error, or the readable part with
--salvage), bags without a summary section, missing topics and the `points` spelling."""

from __future__ import annotations

import pytest
from mcap.reader import make_reader
from ros_helpers import FakeSegmenter, three_box_points, write_bag, xyzrgb_cloud
from std_msgs.msg import String

from occuseg_core.cli import main
from occuseg_core.errors import OccusegError
from occuseg_ros.bag import segment_bag
from occuseg_ros.bag_input import inspect_bag, open_topic
from occuseg_ros.params import default_params
from occuseg_ros.pipeline import CloudPipeline

pytestmark = pytest.mark.ros


def _clouds(rng, count: int) -> list:
    return [("/points", xyzrgb_cloud(three_box_points(rng, 40), sec=k)) for k in range(count)]


def _segment(bag, out, topic="/points", **options) -> dict[str, int]:
    pipeline = CloudPipeline(FakeSegmenter(), default_params())
    return segment_bag(str(bag), str(out), topic, pipeline, progress=lambda _: None, **options)


def _log_times(bag) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    with open(bag, "rb") as f:
        for _, channel, message in make_reader(f).iter_messages():
            found.setdefault(channel.topic, []).append(message.log_time)
    return found


def test_truncated_bag_is_one_line_naming_the_file(tmp_path, rng, random_checkpoint, capsys):
    bag = write_bag(tmp_path / "in.mcap", _clouds(rng, 6), chunk_size=1)
    bag.write_bytes(bag.read_bytes()[: bag.stat().st_size // 2])
    argv = ["bag", str(bag), "--topic", "/points", "--out", str(tmp_path / "out.mcap")]
    assert main([*argv, "--checkpoint", str(random_checkpoint)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert str(bag) in line and "truncated" in line and "--salvage" in line, line


def test_salvage_segments_the_readable_part_of_a_truncated_bag(tmp_path, rng):
    """One chunk per message: cut in the middle, the first messages stay readable."""
    bag = write_bag(tmp_path / "in.mcap", _clouds(rng, 6), chunk_size=1)
    bag.write_bytes(bag.read_bytes()[: bag.stat().st_size // 2])
    contents = inspect_bag(bag)
    readable = contents.topics["/points"].messages
    assert contents.damage and "truncated" in contents.damage and 0 < readable < 6
    counts = _segment(bag, tmp_path / "out.mcap", salvage=True)
    assert counts == {"read": readable, "segmented": readable, "skipped": 0}
    assert _log_times(tmp_path / "out.mcap")["/points/instances"] == list(range(readable))


def test_bag_without_summary_section_is_read(tmp_path, rng):
    bag = write_bag(tmp_path / "in.mcap", _clouds(rng, 3), summary=False)
    with open(bag, "rb") as f:
        assert make_reader(f).get_summary() is None
    assert _segment(bag, tmp_path / "out.mcap") == {"read": 3, "segmented": 3, "skipped": 0}
    assert _log_times(tmp_path / "out.mcap")["/points/instances"] == [0, 1, 2]


def test_missing_topic_lists_the_topics_of_the_bag(tmp_path, rng):
    messages = [*_clouds(rng, 2), ("/chatter", String(data="hi"))]
    bag = write_bag(tmp_path / "in.mcap", messages)
    with pytest.raises(OccusegError) as caught:
        open_topic(bag, "/lidar")
    message = str(caught.value)
    assert str(bag) in message and "'/lidar'" in message
    assert "/points (sensor_msgs/msg/PointCloud2, 2 messages)" in message
    assert "/chatter (std_msgs/msg/String, 1 messages)" in message
    with pytest.raises(OccusegError, match="'/chatter' carries std_msgs/msg/String.*: /points$"):
        open_topic(bag, "/chatter")


def test_points_stands_for_slash_points(tmp_path, rng):
    bag = write_bag(tmp_path / "in.mcap", _clouds(rng, 2))
    assert _segment(bag, tmp_path / "out.mcap", topic="points")["segmented"] == 2
    assert sorted(_log_times(tmp_path / "out.mcap")) == [
        "/points/instances",
        "/points/instances/markers",
        "/points/instances/points",
    ]
