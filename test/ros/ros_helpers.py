"""Test helpers for test/ros: a deterministic fake Segmenter, clouds, and spinning until a
condition holds (a bounded wait, not a timing assertion)."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from std_msgs.msg import Header

from occuseg_core.types import InstanceRecord, Scene, SegmentationResult
from occuseg_ros.pointcloud import make_cloud, pack_rgb

LOOPBACK_PROFILE = Path(__file__).resolve().parent / "fastdds_loopback.xml"


def apply_loopback_only_dds(env: dict) -> dict:
    """Sets the variables that keep Fast DDS on loopback + shared memory (in place).

    Without them Kilted's Fast DDS discovers over multicast on every network card.
    """
    env["RMW_IMPLEMENTATION"] = "rmw_fastrtps_cpp"
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "SYSTEM_DEFAULT"  # keep the profile's peers
    env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(LOOPBACK_PROFILE)
    env.pop("ROS_LOCALHOST_ONLY", None)  # ignored by Kilted; avoid the deprecation noise
    env.pop("ROS_STATIC_PEERS", None)
    # a domain of our own, so parallel test runs on this machine rarely see each other
    env.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
    env.setdefault("ROS_HOME", os.path.join(tempfile.gettempdir(), "occuseg-ros-home"))
    # `get_package_share_directory('occuseg_ros')` of a `make ros` install
    prefixes = [p for p in env.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    if sys.prefix not in prefixes:
        env["AMENT_PREFIX_PATH"] = os.pathsep.join([sys.prefix, *prefixes])
    return env


CLASSES = {1: "wall", 5: "chair", 7: "table"}


class FakeOutOfMemoryError(RuntimeError):
    """Named like torch.cuda.OutOfMemoryError, which is what the node recognises."""


FakeOutOfMemoryError.__name__ = "OutOfMemoryError"


class FakeSegmenter:
    """Instance k = the points with k <= x < k + 1 for k in 0, 1, 2 (chair, table, table with
    scores 0.9, 0.6, 0.3); x < 0 or x >= 3 is wall with no instance.

    Args:
        oom_failures: how many calls raise a CUDA-out-of-memory-like error first.
        device: reported device name.
    """

    voxel_size_m = 0.02
    class_names = CLASSES

    def __init__(self, oom_failures: int = 0, device: str = "cuda:0", reverse: bool = False):
        self.oom_failures = oom_failures
        self.reverse = reverse
        self.device = device
        self.calls: list[int] = []

    def on_device(self, device: str) -> FakeSegmenter:
        return FakeSegmenter(device=device)

    def segment(self, scene: Scene) -> SegmentationResult:
        self.calls.append(scene.num_points)
        if self.oom_failures:
            self.oom_failures -= 1
            raise FakeOutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return fake_result(scene.xyz, reverse=self.reverse)


def fake_result(xyz: np.ndarray, reverse: bool = False) -> SegmentationResult:
    """What FakeSegmenter returns for points xyz (computed independently of the node);
    reverse numbers the instances from the highest x down."""
    k = np.floor(xyz[:, 0]).astype(np.int64)
    present = [i for i in range(3) if (k == i).any()][:: -1 if reverse else 1]
    new_id = {old: new for new, old in enumerate(present)}
    instance_ids = np.array([new_id.get(int(v), -1) for v in k], dtype=np.int64)
    classes, scores = [5, 7, 7], [0.9, 0.6, 0.3]
    records = []
    for old in present:
        pts = xyz[k == old].astype(np.float64)
        records.append(InstanceRecord(
            id=new_id[old], class_id=classes[old], class_name=CLASSES[classes[old]],
            score=scores[old], point_count=len(pts), voxel_count=len(pts),
            predicted_occupancy=float(len(pts)), occupancy_ratio=1.0,
            centroid_m=tuple(pts.mean(0)), box_min_m=tuple(pts.min(0)),
            box_max_m=tuple(pts.max(0)),
        ))  # fmt: skip
    semantic = np.array([classes[v] if 0 <= v < 3 else 1 for v in k], dtype=np.int64)
    return SegmentationResult(instance_ids=instance_ids, semantic_ids=semantic,
                              instances=tuple(records), timings_s={"total": 0.0},
                              class_names=CLASSES)  # fmt: skip


class LookupException(Exception):
    """Named like tf2's, which a buffer raises for a frame it has never heard of."""


class StandInBuffer:
    """Stands in for tf2_ros.Buffer: `transforms[(target, source)]` is the TransformStamped
    returned for any time; other pairs raise LookupException. Records every lookup as
    (target, source, rclpy Time, rclpy Duration timeout)."""

    def __init__(self, transforms: dict | None = None) -> None:
        self.transforms = dict(transforms or {})
        self.calls: list[tuple] = []

    def lookup_transform(self, target, source, time, timeout):
        self.calls.append((target, source, time, timeout))
        if (target, source) not in self.transforms:
            raise LookupException(f'"{source}" passed to lookupTransform argument source_frame'
                                  " does not exist.")  # fmt: skip
        return self.transforms[(target, source)]


def stamped(translation, quaternion_xyzw, parent: str = "map", child: str = "camera"):
    """A geometry_msgs/TransformStamped from parent to child."""
    from geometry_msgs.msg import TransformStamped

    msg = TransformStamped()
    msg.header.frame_id, msg.child_frame_id = parent, child
    t, q = msg.transform.translation, msg.transform.rotation
    t.x, t.y, t.z = map(float, translation)
    q.x, q.y, q.z, q.w = map(float, quaternion_xyzw)
    return msg


def three_box_points(rng: np.random.Generator, n: int = 600) -> np.ndarray:
    """(n, 3) float32 points with x in [-0.5, 3.5): some in each fake instance and the wall."""
    return rng.uniform([-0.5, 0.0, 0.0], [3.5, 1.0, 1.0], size=(n, 3)).astype(np.float32)


def xyzrgb_cloud(xyz: np.ndarray, frame: str = "cam", sec: int = 0):
    header = Header(frame_id=frame)
    header.stamp.sec = sec
    rgb = pack_rgb(np.full((len(xyz), 3), 128, dtype=np.uint8))
    return make_cloud(header, {"xyz": xyz, "rgb": rgb})


def write_bag(path: Path, messages: list, *, summary: bool = True, chunk_size: int = 1 << 20):
    """Writes an MCAP bag of (topic, message) pairs, message k at log time k.

    Args:
        path: the bag to write.
        messages: (topic, ROS message) pairs; each topic's schema is its message's type.
        summary: write the summary section (channels, schemas, statistics, chunk index); a
            bag without one, as a killed recorder leaves, has chunks neither.
        chunk_size: bytes per chunk (small values give one chunk per message).
    """
    from mcap.writer import IndexType, Writer
    from rclpy.serialization import serialize_message

    from occuseg_ros.bag import ros2msg_schema

    with open(path, "wb") as f:
        options = {} if summary else dict(
            use_chunking=False, use_statistics=False, use_summary_offsets=False,
            repeat_channels=False, repeat_schemas=False, index_types=IndexType.NONE,
        )  # fmt: skip
        writer = Writer(f, chunk_size=chunk_size, **options)
        writer.start(profile="ros2", library="test")
        channels = {}
        for k, (topic, msg) in enumerate(messages):
            if topic not in channels:
                module, name = type(msg).__module__.split(".")[0], type(msg).__name__
                type_name = f"{module}/msg/{name}"
                schema = writer.register_schema(
                    name=type_name, encoding="ros2msg", data=ros2msg_schema(type_name).encode()
                )
                channels[topic] = writer.register_channel(
                    topic, message_encoding="cdr", schema_id=schema
                )
            writer.add_message(
                channels[topic], log_time=k, publish_time=k, data=serialize_message(msg)
            )
        writer.finish()
    return path


def spin_until(executor, predicate, timeout_s: float = 30.0) -> bool:
    """Spins until predicate() is true or timeout_s passes; returns predicate()."""
    deadline = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    return bool(predicate())


class RosSession:
    """A fresh rclpy context with one executor (rclpy's own tests do the same per test)."""

    def __init__(self) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.nodes = []

    def add(self, node):
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def close(self) -> None:
        for node in self.nodes:
            if hasattr(node, "stop"):
                node.stop()
            self.executor.remove_node(node)
            node.destroy_node()
        self.executor.shutdown()
        rclpy.shutdown(context=self.context)
