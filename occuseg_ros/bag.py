"""Offline segmentation of ROS 2 MCAP bags: the segment_node pipeline without DDS.

Reads PointCloud2 messages of one topic with the `mcap` library (`occuseg_ros.bag_input`:
checks, damaged bags), deserializes them with rclpy (no ROS graph, no DDS), runs
`CloudPipeline`, and writes `<topic>/instances/points`, `<topic>/instances/markers` and
`<topic>/instances` as CDR messages (padding zeroed: `occuseg_ros.cdr`) with `ros2msg` schemas,
so Foxglove and `ros2 bag play` read the result. The schemas are assembled from the installed
.msg files of each package (share/<package>/msg/<Type>.msg).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from mcap.writer import Writer
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import PointCloud2

from occuseg_core.atomic import atomic_destination
from occuseg_core.errors import OccusegError
from occuseg_ros.bag_input import BagContents, iter_topic, open_topic
from occuseg_ros.cdr import serialize_zeroed
from occuseg_ros.pipeline import CloudPipeline
from occuseg_ros.pointcloud import CloudError

PRIMITIVES = {"bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16",
              "int32", "uint32", "int64", "uint64", "string", "wstring"}  # fmt: skip
OUTPUT_TYPES = {"instances/points": "sensor_msgs/msg/PointCloud2",
                "instances/markers": "visualization_msgs/msg/MarkerArray",
                "instances": "occuseg_ros/msg/InstanceArray"}  # fmt: skip


def share_dirs() -> list[Path]:
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    return [Path(p) / "share" for p in [*prefixes, sys.prefix]]


def msg_text(package: str, name: str) -> str:
    for share in share_dirs():
        path = share / package / "msg" / f"{name}.msg"
        if path.is_file():
            return path.read_text()
    raise OccusegError(f"message definition {package}/msg/{name}.msg not found under"
                       " AMENT_PREFIX_PATH or the Python prefix (run `make ros`?)")  # fmt: skip


def ros2msg_schema(type_name: str) -> str:
    """The `ros2msg` schema text of a type: its .msg, then each dependency once under an
    `MSG: pkg/Type` line after a line of 80 '='."""
    package, _, name = type_name.split("/")
    main_text, seen, parts = msg_text(package, name), set(), []
    pending = _dependencies(main_text, package)
    while pending:
        dep = pending.pop(0)
        if dep in seen:
            continue
        seen.add(dep)
        dep_package, dep_name = dep.split("/")
        text = msg_text(dep_package, dep_name)
        parts.append("=" * 80 + f"\nMSG: {dep}\n{text}")
        pending += _dependencies(text, dep_package)
    return "\n".join([main_text.rstrip("\n"), *parts])


def _dependencies(text: str, package: str) -> list[str]:
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or "=" in line.replace("<=", ""):  # blank, or a constant
            continue
        base = re.sub(r"\[.*\]$", "", line.split()[0])
        base = re.sub(r"<=\d+$", "", base)
        if base in PRIMITIVES:
            continue
        if base == "Header":
            out.append("std_msgs/Header")
        elif "/" in base:
            out.append(base.replace("/msg/", "/"))
        else:
            out.append(f"{package}/{base}")
    return out


def segment_bag(in_path: str, out_path: str, topic: str, pipeline: CloudPipeline,
                *, progress: Callable[[str], None] = print, salvage: bool = False,
                contents: BagContents | None = None) -> dict[str, int]:  # fmt: skip
    """Segments every PointCloud2 on `topic` of an MCAP bag into a new MCAP bag.

    The input is checked before anything is written (see `open_topic`), and the output is
    written to a hidden temporary file beside `out_path` that replaces it only when the run
    succeeds: a failed or interrupted run leaves an existing `out_path` as it was and creates
    no file. Messages are written with zeroed CDR padding, so two runs give identical bytes.

    Args:
        in_path: the input MCAP bag.
        out_path: the output bag (its folder must exist).
        topic: the PointCloud2 topic; "points" stands for "/points".
        pipeline: what segments each cloud.
        progress: called with one line per cloud.
        salvage: segment the readable part of a truncated or damaged bag instead of refusing.
        contents: the bag as `open_topic(in_path, topic, salvage=salvage)` read it, when the
            caller has already checked it (then `topic` is the topic it resolved); a bag
            without an index is read whole by that check, so it is not read again.

    Returns:
        Counts: clouds read, segmented, skipped (malformed).

    Raises:
        OccusegError: see `open_topic`; no message of the topic could be read; the bag is
            damaged where the check found it sound.
    """
    if contents is None:
        contents, topic = open_topic(in_path, topic, salvage=salvage)
    out = Path(out_path)
    with atomic_destination(out) as tmp:
        with open(tmp, "wb") as sink:
            counts = _write_segmented(contents, topic, pipeline, sink, progress)
        if not counts["read"]:
            raise OccusegError(f"{in_path}: no message on {topic} could be read; nothing written")
    return counts


def _write_segmented(contents: BagContents, topic: str, pipeline: CloudPipeline, sink,
                     progress: Callable[[str], None]) -> dict[str, int]:  # fmt: skip
    counts = {"read": 0, "segmented": 0, "skipped": 0}
    writer = Writer(sink)
    writer.start(profile="ros2", library="occuseg bag")
    out_channels = {}
    for suffix, type_name in OUTPUT_TYPES.items():
        schema = writer.register_schema(name=type_name, encoding="ros2msg",
                                        data=ros2msg_schema(type_name).encode())  # fmt: skip
        out_channels[suffix] = writer.register_channel(
            topic=f"{topic.rstrip('/')}/{suffix}", message_encoding="cdr", schema_id=schema
        )
    for message in iter_topic(contents, topic):
        counts["read"] += 1
        try:
            outputs = pipeline.process(deserialize_message(message.data, PointCloud2))
        except CloudError as error:
            counts["skipped"] += 1
            progress(f"cloud {counts['read']} skipped: {error}")
            continue
        for suffix, msg in [("instances/points", outputs.cloud),
                            ("instances/markers", outputs.markers),
                            ("instances", outputs.instances)]:  # fmt: skip
            if msg is not None:
                writer.add_message(out_channels[suffix], log_time=message.log_time,
                                   publish_time=message.publish_time,
                                   data=serialize_zeroed(msg))  # fmt: skip
        counts["segmented"] += 1
        progress(f"cloud {counts['read']}: {len(outputs.labelled.instances)} instances")
    writer.finish()
    return counts
