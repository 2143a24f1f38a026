"""Benchmark: segment_node's own cost per cloud (reading the cloud, building the outputs,
publishing, DDS) on top of `Segmenter.segment`.

    . ../shared/ros/env.sh
    .venv/bin/python tools/ros/bench_node_overhead.py [--points 200000] [--repeats 20]
    .venv/bin/python tools/ros/bench_node_overhead.py --scan \
        ../shared/data/scannet_scene0000_00/scene0000_00_vert_all.npy [--instant] [--json F] \
        [--executor-threads 2]

Without --scan: a random 200k-point x, y, z, rgb cloud and a Segmenter that returns 30
precomputed instances instantly, so every millisecond measured is the node's. With --scan:
the scene's points as an x, y, z, rgb PointCloud2 and the real Segmenter (bundled model,
--device) unless --instant, which reuses one real result instantly.

Two measurements, medians over --repeats:
  steps: the pipeline's stages called one by one in this process (parse, segment, label,
      instances / points / markers messages, publish of each topic to a subscriber);
  end_to_end: a SegmentationNode spinning on its own executor thread (the executor
      segment_node's main() uses, or --executor-threads); a client publishes the cloud on
      `points` and takes the time until `instances` arrives, minus the segment() call, split
      into publish -> subscription callback -> segment() -> outputs received. The client runs
      in this process (end_to_end) and in a second one (end_to_end_two_processes, as with
      `ros2 launch`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "test" / "ros"))
from ros_helpers import apply_loopback_only_dds  # noqa: E402

apply_loopback_only_dds(os.environ)

import rclpy  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import PointCloud2  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from occuseg_core.types import InstanceRecord, SegmentationResult  # noqa: E402
from occuseg_ros.conversions import (  # noqa: E402
    label_cloud,
    labelled_to_cloud,
    labelled_to_instances,
    labelled_to_markers,
    scene_from_cloud,
)
from occuseg_ros.msg import InstanceArray  # noqa: E402
from occuseg_ros.node_common import SegmentationOutputs, make_executor  # noqa: E402
from occuseg_ros.params import default_params  # noqa: E402
from occuseg_ros.pipeline import CloudPipeline  # noqa: E402
from occuseg_ros.pointcloud import make_cloud, pack_rgb  # noqa: E402
from occuseg_ros.segment_node import SegmentationNode  # noqa: E402

QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)


class TimedSegmenter:
    """Wraps a Segmenter (or returns `result` instantly) and keeps each segment() duration."""

    def __init__(self, segmenter=None, result=None, voxel_size_m: float = 0.02):
        self.segmenter, self.result = segmenter, result
        self.voxel_size_m = segmenter.voxel_size_m if segmenter is not None else voxel_size_m
        self.durations_s: list[float] = []
        self.starts_s: list[float] = []

    def segment(self, scene):
        start = time.monotonic()
        result = self.result if self.segmenter is None else self.segmenter.segment(scene)
        self.starts_s.append(start)
        self.durations_s.append(time.monotonic() - start)
        return result


def synthetic_result(xyz: np.ndarray, instances: int) -> SegmentationResult:
    ids = np.where(np.arange(len(xyz)) % 5 == 0, -1, np.arange(len(xyz)) % instances)
    records = tuple(InstanceRecord(
        id=k, class_id=5, class_name="chair", score=0.5, point_count=int((ids == k).sum()),
        voxel_count=100, predicted_occupancy=100.0, occupancy_ratio=1.0,
        centroid_m=(0.0, 0.0, 0.0), box_min_m=(-1.0, -1.0, 0.0), box_max_m=(1.0, 1.0, 1.0),
    ) for k in range(instances))  # fmt: skip
    return SegmentationResult(instance_ids=ids, semantic_ids=np.full(len(xyz), 5),
                              instances=records, timings_s={},
                              class_names={5: "chair"})  # fmt: skip


def build_input(args) -> tuple[PointCloud2, dict, TimedSegmenter]:
    """The input cloud, its columns and the (timed) segmenter for the command line."""
    if args.scan is None:
        rng = np.random.default_rng(0)
        xyz = rng.uniform(-5, 5, size=(args.points, 3)).astype(np.float32)
        rgb = rng.integers(0, 256, size=(args.points, 3)).astype(np.uint8)
        segmenter = TimedSegmenter(result=synthetic_result(xyz, 30))
    else:
        from occuseg_core.io import read_scene
        from occuseg_ros.node_common import load_segmenter

        scene = read_scene(args.scan)
        xyz = scene.xyz.astype(np.float32)
        rgb = np.round(scene.colors * 255.0).astype(np.uint8)
        real = load_segmenter(default_params(device=args.device))
        real.segment(scene)  # warm-up (numba, first kernels)
        if args.instant:
            segmenter = TimedSegmenter(result=real.segment(scene),
                                       voxel_size_m=real.voxel_size_m)  # fmt: skip
        else:
            segmenter = TimedSegmenter(segmenter=real)
    columns = {"xyz": xyz, "rgb": pack_rgb(rgb)}
    return make_cloud(Header(frame_id="cam"), columns), columns, segmenter


def timed(record: dict, name: str, function, *args):
    start = time.perf_counter()
    value = function(*args)
    record.setdefault(name, []).append(time.perf_counter() - start)
    return value


def measure_steps(msg: PointCloud2, segmenter: TimedSegmenter, repeats: int) -> dict:
    """Seconds per stage, each repeat, calling the pipeline's parts in this process."""
    params = default_params(max_input_points=10 * msg.width * msg.height)
    pipeline = CloudPipeline(segmenter, params)
    node, listener = rclpy.create_node("bench_steps"), rclpy.create_node("bench_listener")
    executor = SingleThreadedExecutor()
    executor.add_node(listener)
    for kind, topic in ((InstanceArray, "instances"), (PointCloud2, "instances/points")):
        listener.create_subscription(kind, topic, lambda _: None, QOS)
    publishers = SegmentationOutputs(node, params)
    while publishers.instances.get_subscription_count() == 0:
        executor.spin_once(timeout_sec=0.05)
    record: dict[str, list[float]] = {}
    for _ in range(repeats):
        start = time.perf_counter()
        cloud = timed(record, "parse", lambda: scene_from_cloud(
            msg, max_input_points=params.max_input_points, max_points=params.max_points,
            voxel_size_m=pipeline.voxel_size_m, max_range_m=params.max_range_m))  # fmt: skip
        result = timed(record, "segment_and_filter", pipeline.segment, cloud.scene)
        labelled = timed(record, "label", label_cloud, cloud, result)
        instances = timed(record, "instances_msg", labelled_to_instances, msg.header, labelled)
        points = timed(record, "points_msg", labelled_to_cloud, msg.header, labelled)
        markers = timed(record, "markers_msg", labelled_to_markers, msg.header, labelled)
        timed(record, "publish_points", publishers.points.publish, points)
        timed(record, "publish_markers", publishers.markers.publish, markers)
        timed(record, "publish_instances", publishers.instances.publish, instances)
        total = time.perf_counter() - start
        record.setdefault("segmenter", []).append(segmenter.durations_s[-1])
        record.setdefault("overhead", []).append(total - segmenter.durations_s[-1])
        for _ in range(3):
            executor.spin_once(timeout_sec=0.0)
    executor.shutdown()
    node.destroy_node()
    listener.destroy_node()
    return record


def run_client(columns: dict, repeats: int, results) -> None:
    """Publishes the cloud `repeats` times, each after the previous `instances` arrived;
    puts [(publish called, publish returned, instances arrived)] (time.monotonic, s) on
    `results`. Runs in this process or in a spawned one."""
    own_context = not rclpy.ok()
    if own_context:
        rclpy.init()
    msg = make_cloud(Header(frame_id="cam"), columns)
    client = rclpy.create_node("bench_client")
    arrived: list[float] = []
    client.create_subscription(InstanceArray, "instances",
                               lambda _: arrived.append(time.monotonic()), QOS)  # fmt: skip
    publisher = client.create_publisher(PointCloud2, "points", QOS)
    executor = SingleThreadedExecutor()
    executor.add_node(client)
    while publisher.get_subscription_count() == 0 or client.count_publishers("instances") == 0:
        executor.spin_once(timeout_sec=0.05)
    deadline = time.monotonic() + 1.0  # let discovery settle (both directions)
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    times = []
    for _ in range(repeats):
        count, start = len(arrived), time.monotonic()
        publisher.publish(msg)
        sent = time.monotonic()
        while len(arrived) == count:
            executor.spin_once(timeout_sec=1.0)
        times.append((start, sent, arrived[-1]))
    executor.shutdown()
    client.destroy_node()
    if own_context:
        rclpy.shutdown()
    results.put(times)


def measure_end_to_end(
    msg: PointCloud2, segmenter: TimedSegmenter, repeats: int, columns: dict, in_process: bool,
    executor_threads: int,
) -> dict:  # fmt: skip
    """publish(points) -> `instances` received, through a SegmentationNode spinning on
    `make_executor(executor_threads)`; the client runs in this process or a spawned one."""
    import multiprocessing
    import queue

    overrides = [Parameter("warmup", value=False),
                 Parameter("max_input_points", value=10 * msg.width * msg.height)]  # fmt: skip
    node = SegmentationNode(segmenter=segmenter, parameter_overrides=overrides)
    node_executor = make_executor(executor_threads)  # as segment_node's run_node
    node_executor.add_node(node)
    threading.Thread(target=node_executor.spin, daemon=True).start()
    first = len(segmenter.durations_s)
    received: list[float] = []  # when the node's subscription callback stored each cloud
    put = node._slot.put
    node._slot.put = lambda item: received.append(time.monotonic()) or put(item)
    if in_process:
        results = queue.Queue()
        run_client(columns, repeats, results)
    else:
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        child = context.Process(target=run_client, args=(columns, repeats, results))
        child.start()
    times = results.get(timeout=600)
    if not in_process:
        child.join()
    record: dict[str, list[float]] = {}
    starts, durations = segmenter.starts_s[first:], segmenter.durations_s[first:]
    for (published, sent, arrived), got, start, duration in zip(
        times, received, starts, durations, strict=True
    ):
        record.setdefault("latency", []).append(arrived - published)
        record.setdefault("segmenter", []).append(duration)
        record.setdefault("publish_call", []).append(sent - published)
        record.setdefault("publish_to_callback", []).append(got - published)
        record.setdefault("callback_to_segment", []).append(start - got)
        record.setdefault("after_segment", []).append(arrived - start - duration)
        record.setdefault("overhead", []).append(arrived - published - duration)
    node.stop()
    node_executor.shutdown()
    node.destroy_node()
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200_000, help="synthetic cloud size")
    parser.add_argument("--scan", type=Path, help="a scene file (read_scene) to publish")
    parser.add_argument("--instant", action="store_true", help="with --scan: no model time")
    parser.add_argument("--device", default="cpu", help="with --scan: the model's device")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--executor-threads",
        type=int,
        default=SegmentationNode.executor_threads,
        help="the node's executor threads (2: segment_node before issue 15)",
    )
    parser.add_argument("--json", type=Path, help="also write the medians (ms) here")
    args = parser.parse_args()
    rclpy.init()
    msg, columns, segmenter = build_input(args)
    ms = lambda values: round(1e3 * statistics.median(values), 2)  # noqa: E731
    report = {"points": msg.width * msg.height, "bytes": len(msg.data),
              "repeats": args.repeats, "scan": str(args.scan) if args.scan else None}  # fmt: skip
    measures = {
        "steps": lambda: measure_steps(msg, segmenter, args.repeats),
        "end_to_end": lambda: measure_end_to_end(
            msg, segmenter, args.repeats, columns, True, args.executor_threads),
        "end_to_end_two_processes": lambda: measure_end_to_end(
            msg, segmenter, args.repeats, columns, False, args.executor_threads),
    }  # fmt: skip
    for name, measure in measures.items():
        report[name] = {k: ms(v) for k, v in measure().items()}
        print(f"{name} (median ms of {args.repeats}, {report['points']} points):")
        for key, value in report[name].items():
            print(f"  {key:<20} {value:9.2f}")
    rclpy.shutdown()
    print(json.dumps(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
