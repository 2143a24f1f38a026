"""map_segment_node: integrates clouds into a bounded voxel map and re-segments it.

Clouds (or voxel-centre clouds of a reconstruction system) arrive on `points` and are
integrated at once, in `map_frame` (clouds in other frames are transformed with tf2_ros at
their stamp, or refused without it: occuseg_ros/frames.py); every segment_period_s the map is
segmented on a worker thread and instance ids are kept by voxel overlap with the previous
result. Outputs as segment_node, in the map frame, with indices into the published map cloud.
Services: ~/reset, ~/segment_now.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import replace

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header
from std_srvs.srv import Trigger

from occuseg_core.tracking import InstanceTracker
from occuseg_core.types import Scene
from occuseg_core.voxel_map import VoxelMap
from occuseg_ros.conversions import LabelledCloud, usable_points
from occuseg_ros.frames import TfFrames, transform_points
from occuseg_ros.managed import node_class
from occuseg_ros.node_common import SegmentingNode, input_qos, report_out_of_range, run_node
from occuseg_ros.pointcloud import CloudError, read_cloud


class MapSegmentationNode(SegmentingNode):
    """Voxel-map instance segmentation with stable ids (see module docstring; phases and
    arguments: `SegmentingNode`). The map and the ids live from `load` to `unload`."""

    def __init__(self, segmenter=None, tf_buffer=None, **node_kwargs) -> None:
        self.map = self.tracker = self.frames = None
        self._tf_buffer = tf_buffer  # a stand-in for tf2_ros.Buffer (tests); None: tf2_ros's
        self._lock = threading.Lock()
        self._stamp = None
        self._dirty = False
        self._request = threading.Event()
        self._done = threading.Condition()
        self._segmentations = 0
        super().__init__("map_segment_node", map_mode=True, segmenter=segmenter, **node_kwargs)

    def load(self) -> None:
        super().load()
        p = self._params
        with self._lock:
            self.map = VoxelMap(self.pipeline.voxel_size_m, p.max_voxels, p.map_extent_m)
            self.tracker = InstanceTracker(min_overlap=p.match_min_overlap)
            self._stamp, self._dirty = None, False
        self.frames = TfFrames(p.map_frame, self._tf_buffer, self)

    def unload(self) -> None:
        with self._lock:
            super().unload()
            self.map = self.tracker = None
        if self.frames is not None:
            self.frames.close()
            self.frames = None

    def _start_io(self) -> list:
        p = self._params
        return [
            self.create_subscription(PointCloud2, "points", self._on_cloud, input_qos(p),
                                     callback_group=MutuallyExclusiveCallbackGroup()),
            self.create_service(Trigger, "~/reset", self._on_reset),
            self.create_service(Trigger, "~/segment_now", self._on_segment_now),
            self.create_timer(p.segment_period_s, self._request.set),
            self.create_timer(p.diagnostics_period_s, self._publish_diagnostics),
        ]  # fmt: skip

    def _wake_worker(self) -> None:
        self._request.set()
        with self._done:
            self._done.notify_all()

    def _on_cloud(self, msg: PointCloud2) -> None:
        """Integrates a cloud, transformed into map_frame when it is in another frame."""
        self.stats.on_received()
        p = self._params
        try:
            matrix = self.frames.to_map(msg.header.frame_id, msg.header.stamp,
                                        p.transform_timeout_s)  # fmt: skip
            arrays = read_cloud(msg, max_points=p.max_input_points)
            if matrix is not None:
                arrays = replace(arrays, xyz=transform_points(arrays.xyz, matrix))
            valid, out_of_range = usable_points(arrays, p.max_range_m)
        except CloudError as error:
            self.stats.on_rejected(error.reason, str(error))
            self.get_logger().warning(f"cloud skipped: {error}", throttle_duration_sec=5.0)
            return
        if out_of_range:
            report_out_of_range(self, self.stats, out_of_range, valid.size, p.map_frame,
                                p.max_range_m)  # fmt: skip
        with self._lock:
            self.map.integrate(arrays.xyz[valid], arrays.colors[valid])
            self._stamp, self._dirty = msg.header.stamp, True

    def _configure(self, p) -> None:
        """Applies parameters set at run time: the filters and outputs act on the next
        segmentation, the map bounds and max_range_m on the next cloud, match_min_overlap on
        the next id matching."""
        with self._lock:
            super()._configure(p)
            if self.map is not None:
                self.map.max_voxels, self.map.extent_m = p.max_voxels, p.map_extent_m
                self.tracker.min_overlap = p.match_min_overlap

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
            finished = self._done.wait_for(
                lambda: self._segmentations >= target or not self._running, timeout=120.0
            )
            finished = finished and self._segmentations >= target
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
        if not self._running or not self._outputs.publish(outputs):
            return  # shutting down
        self.stats.on_processed({"segmenter": segment_s, **outputs.timings_s},
                                len(labelled.instances), len(keys))  # fmt: skip


def _empty_labelled() -> LabelledCloud:
    empty = np.empty(0, dtype=np.int64)
    return LabelledCloud(xyz=np.empty((0, 3), np.float32), source_indices=empty,
                         instance_index=empty, semantic_ids=empty, instances=(),
                         published_ids=empty)  # fmt: skip


def main(args=None) -> int:
    """`map_segment_node [--managed]`: --managed starts it as a lifecycle node."""
    return run_node(node_class(MapSegmentationNode, args), args)


if __name__ == "__main__":
    sys.exit(main())
