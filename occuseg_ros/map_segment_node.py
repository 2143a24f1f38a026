"""map_segment_node: integrates clouds into a bounded voxel map and re-segments it.

Clouds (or voxel-centre clouds of a reconstruction system) in `map_frame` arrive on `points`
and are integrated at once; every segment_period_s the map is segmented on a worker thread and
instance ids are kept by voxel overlap with the previous result. Outputs as segment_node, in
the map frame, with indices into the published map cloud. Services: ~/reset, ~/segment_now.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header
from std_srvs.srv import Trigger

from occuseg_core.tracking import InstanceTracker
from occuseg_core.types import Scene
from occuseg_core.voxel_map import VoxelMap
from occuseg_ros.conversions import MAX_COORDINATE_M, LabelledCloud
from occuseg_ros.diagnostics import PipelineStats
from occuseg_ros.node_common import (
    SegmentationOutputs,
    input_qos,
    load_segmenter,
    on_filter_change,
    run_node,
)
from occuseg_ros.params import declare_and_read
from occuseg_ros.pipeline import CloudPipeline
from occuseg_ros.pointcloud import CloudError, read_cloud


class MapSegmentationNode(Node):
    """Voxel-map instance segmentation with stable ids (see module docstring)."""

    def __init__(self, segmenter=None, **node_kwargs) -> None:
        super().__init__("map_segment_node", **node_kwargs)
        p = self._params = declare_and_read(self, map_mode=True)
        self.pipeline = CloudPipeline(segmenter or load_segmenter(p), p, self.get_logger())
        if p.warmup:
            self.pipeline.warm_up()
        self.map = VoxelMap(self.pipeline.voxel_size_m, p.max_voxels, p.map_extent_m)
        self.tracker = InstanceTracker(min_overlap=p.match_min_overlap)
        self.stats = PipelineStats()
        self._lock = threading.Lock()
        self._stamp = None
        self._dirty = False
        self._request = threading.Event()
        self._done = threading.Condition()
        self._segmentations = 0
        self._running = True
        self._outputs = SegmentationOutputs(self, p)
        self.add_on_set_parameters_callback(on_filter_change(self.pipeline))
        self.create_subscription(PointCloud2, "points", self._on_cloud, input_qos(p),
                                 callback_group=MutuallyExclusiveCallbackGroup())  # fmt: skip
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.create_service(Trigger, "~/segment_now", self._on_segment_now)
        self.create_timer(p.segment_period_s, self._request.set)
        self.create_timer(p.diagnostics_period_s,
                          lambda: self._outputs.publish_diagnostics(self, self.stats))  # fmt: skip
        self._worker = threading.Thread(target=self._work, name="map_segmentation", daemon=True)
        self._worker.start()
        self.get_logger().info(f"ready: map voxel {self.map.voxel_size_m} m, {p}")

    def _on_cloud(self, msg: PointCloud2) -> None:
        self.stats.on_received()
        try:
            if msg.header.frame_id != self._params.map_frame:
                raise CloudError("wrong_frame", f"frame '{msg.header.frame_id}' is not the map"
                                 f" frame '{self._params.map_frame}'")  # fmt: skip
            arrays = read_cloud(msg, max_points=self._params.max_input_points)
            valid = arrays.valid_mask(MAX_COORDINATE_M)
            if not valid.any():
                raise CloudError("no_valid_points", "no point has finite x, y, z")
        except CloudError as error:
            self.stats.on_rejected(error.reason, str(error))
            self.get_logger().warning(f"cloud skipped: {error}", throttle_duration_sec=5.0)
            return
        with self._lock:
            self.map.integrate(arrays.xyz[valid], arrays.colors[valid])
            self._stamp, self._dirty = msg.header.stamp, True

    def _on_reset(self, request, response):
        with self._lock:
            self.map.reset()
            self.tracker.reset()
            self._dirty = True
        response.success, response.message = True, "map and instance ids cleared"
        return response

    def _on_segment_now(self, request, response):
        with self._lock:
            self._dirty = True  # publish even when nothing new arrived
        with self._done:
            target = self._segmentations + 1
            self._request.set()
            finished = self._done.wait_for(lambda: self._segmentations >= target, timeout=120.0)
        response.success = bool(finished)
        response.message = f"{self.stats.last_instances} instances in {self.map.num_voxels} voxels"
        return response

    def _work(self) -> None:
        while self._running:
            if not self._request.wait(timeout=0.5) or not self._running:
                continue
            self._request.clear()
            try:
                self._segment_map()
            except Exception as error:  # noqa: BLE001 - the node must keep running
                self.stats.on_rejected("segmenter_error", repr(error))
                self.get_logger().error(f"map segmentation failed: {error!r}",
                                        throttle_duration_sec=5.0)  # fmt: skip
            with self._done:
                self._segmentations += 1
                self._done.notify_all()

    def _segment_map(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            keys, xyz, colors = self.map.keys.copy(), self.map.centers_m(), self.map.colors()
            stamp, self._dirty = self._stamp, False
        header = Header(frame_id=self._params.map_frame)
        if stamp is not None:
            header.stamp = stamp
        start = time.perf_counter()
        if len(keys) == 0:
            labelled = _empty_labelled()
        else:
            result = self.pipeline.segment(Scene(xyz=xyz, colors=colors, name="map"))
            members = [keys[result.instance_ids == r.id] for r in result.instances]
            labelled = LabelledCloud(
                xyz=xyz, source_indices=np.arange(len(keys)), instance_index=result.instance_ids,
                semantic_ids=result.semantic_ids, instances=result.instances,
                published_ids=self.tracker.update(members),
            )  # fmt: skip
        segment_s = time.perf_counter() - start
        outputs = self.pipeline.render(header, labelled)
        self._outputs.publish(outputs)
        self.stats.on_processed({"segmenter": segment_s, **outputs.timings_s},
                                len(labelled.instances), len(keys))  # fmt: skip

    def stop(self) -> None:
        """Stops and joins the worker (before destroy_node)."""
        self._running = False
        self._request.set()
        if self._worker.is_alive():
            self._worker.join(timeout=30.0)


def _empty_labelled() -> LabelledCloud:
    empty = np.empty(0, dtype=np.int64)
    return LabelledCloud(xyz=np.empty((0, 3), np.float32), source_indices=empty,
                         instance_index=empty, semantic_ids=empty, instances=(),
                         published_ids=empty)  # fmt: skip


def main(args=None) -> int:
    return run_node(MapSegmentationNode, args)


if __name__ == "__main__":
    sys.exit(main())
