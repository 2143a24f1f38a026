"""Benchmark: segment_node's own cost per cloud (conversion in, conversion out, publishing)
on top of the Segmenter, for a 200k-point x, y, z, rgb cloud with 30 instances.

    .venv/bin/python tools/ros/bench_node_overhead.py [--points 200000] [--repeats 20]

The Segmenter is replaced by one that returns a precomputed result instantly, so every
millisecond measured is the node's. Publishing goes through loopback DDS to a subscriber.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "test" / "ros"))
from ros_helpers import apply_loopback_only_dds  # noqa: E402

apply_loopback_only_dds(os.environ)

import rclpy  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from occuseg_core.types import InstanceRecord, SegmentationResult  # noqa: E402
from occuseg_ros.msg import InstanceArray  # noqa: E402
from occuseg_ros.node_common import SegmentationOutputs  # noqa: E402
from occuseg_ros.params import default_params  # noqa: E402
from occuseg_ros.pipeline import CloudPipeline  # noqa: E402
from occuseg_ros.pointcloud import make_cloud, pack_rgb  # noqa: E402


class InstantSegmenter:
    voxel_size_m = 0.02

    def __init__(self, result):
        self.result = result

    def segment(self, scene):
        return self.result


def make_result(xyz: np.ndarray, instances: int) -> SegmentationResult:
    ids = np.where(np.arange(len(xyz)) % 5 == 0, -1, np.arange(len(xyz)) % instances)
    records = tuple(InstanceRecord(
        id=k, class_id=5, class_name="chair", score=0.5, point_count=int((ids == k).sum()),
        voxel_count=100, predicted_occupancy=100.0, occupancy_ratio=1.0,
        centroid_m=(0.0, 0.0, 0.0), box_min_m=(-1.0, -1.0, 0.0), box_max_m=(1.0, 1.0, 1.0),
    ) for k in range(instances))  # fmt: skip
    return SegmentationResult(
        instance_ids=ids,
        semantic_ids=np.full(len(xyz), 5),
        instances=records,
        timings_s={},
        class_names={5: "chair"},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    xyz = rng.uniform(-5, 5, size=(args.points, 3)).astype(np.float32)
    rgb = rng.integers(0, 256, size=(args.points, 3)).astype(np.uint8)
    msg = make_cloud(Header(frame_id="cam"), {"xyz": xyz, "rgb": pack_rgb(rgb)})
    pipeline = CloudPipeline(InstantSegmenter(make_result(xyz, 30)),
                             default_params(max_points=10 * args.points))  # fmt: skip
    rclpy.init()
    node = rclpy.create_node("bench_node_overhead")
    listener = rclpy.create_node("bench_listener")
    received = []
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    listener.create_subscription(InstanceArray, "instances", received.append, qos)
    outputs_pub = SegmentationOutputs(node, pipeline.params)
    while outputs_pub.instances.get_subscription_count() == 0:
        rclpy.spin_once(listener, timeout_sec=0.05)
    totals, parts = [], {"convert_in": [], "convert_out": [], "publish": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        outputs = pipeline.process(msg)
        publish_start = time.perf_counter()
        outputs_pub.publish(outputs)
        end = time.perf_counter()
        totals.append(end - start - outputs.timings_s["segmenter"])
        parts["convert_in"].append(outputs.timings_s["convert_in"])
        parts["convert_out"].append(outputs.timings_s["convert_out"])
        parts["publish"].append(end - publish_start)
        rclpy.spin_once(listener, timeout_sec=0.0)
    ms = lambda values: f"{1e3 * statistics.median(values):.1f}"  # noqa: E731
    print(f"{args.points} points, 30 instances, median of {args.repeats}:")
    print(
        f"  node overhead {ms(totals)} ms = in {ms(parts['convert_in'])} + out "
        f"{ms(parts['convert_out'])} + publish {ms(parts['publish'])} (target <= 30 ms)"
    )
    node.destroy_node()
    listener.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
