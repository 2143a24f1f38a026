"""segment_node: one PointCloud2 in, instances out (cloud, markers, InstanceArray, diagnostics).

Topics (relative, remap in launch): `points` in; `instances`, `instances/points`,
`instances/markers` out, all with the input's header; `/diagnostics` every
diagnostics_period_s. Only the newest cloud is processed; a bad cloud is counted and skipped.
"""

from __future__ import annotations

import sys
import time

from sensor_msgs.msg import PointCloud2

from occuseg_ros.managed import node_class
from occuseg_ros.node_common import (
    LatestSlot,
    SegmentingNode,
    input_qos,
    report_out_of_range,
    run_node,
)
from occuseg_ros.pointcloud import CloudError


class SegmentationNode(SegmentingNode):
    """Per-cloud instance segmentation (phases and arguments: `SegmentingNode`).

    Raises:
        ParameterError: invalid parameters. OccusegError: the model cannot be loaded.
    """

    executor_threads = 1  # its callbacks are short: the worker thread segments

    def __init__(self, segmenter=None, **node_kwargs) -> None:
        self._slot = LatestSlot()
        super().__init__("segment_node", map_mode=False, segmenter=segmenter, **node_kwargs)

    def _start_io(self) -> list:
        self._slot = LatestSlot()
        return [
            self.create_subscription(PointCloud2, "points", self._on_cloud,
                                     input_qos(self._params)),
            self.create_timer(self._params.diagnostics_period_s, self._publish_diagnostics),
        ]  # fmt: skip

    def _wake_worker(self) -> None:
        self._slot.close()

    def _on_cloud(self, msg: PointCloud2) -> None:
        self.stats.on_received()
        if self._slot.put(msg):
            self.stats.on_dropped()

    def _work(self) -> None:
        while self._running:
            msg = self._slot.take(timeout_s=0.5)
            if msg is not None and self._running:
                self._process(msg)

    def _process(self, msg: PointCloud2) -> None:
        try:
            outputs = self.pipeline.process(msg)
        except CloudError as error:
            self.stats.on_rejected(error.reason, str(error))
            self.get_logger().warning(
                f"cloud on {self.resolve_topic_name('points')} (frame '{msg.header.frame_id}')"
                f" skipped: {error}", throttle_duration_sec=5.0,
            )  # fmt: skip
            return
        except Exception as error:  # noqa: BLE001 - one bad cloud must not kill the node
            self.stats.on_rejected("segmenter_error", repr(error))
            self.get_logger().error(f"segmentation failed: {error!r}", throttle_duration_sec=5.0)
            return
        if outputs.downsampled:
            self.get_logger().warning(
                f"cloud with more than max_points={self._params.max_points} valid points was"
                " voxel-downsampled", throttle_duration_sec=5.0,
            )  # fmt: skip
        if outputs.out_of_range:
            report_out_of_range(self, self.stats, outputs.out_of_range, msg.width * msg.height,
                                msg.header.frame_id, self._params.max_range_m)  # fmt: skip
        start = time.perf_counter()
        if not self._running or not self._outputs.publish(outputs):
            return  # shutting down
        timings = {**outputs.timings_s, "publish": time.perf_counter() - start}
        self.stats.on_processed(
            timings, len(outputs.labelled.instances), len(outputs.labelled.xyz)
        )
        self.get_logger().debug(
            f"{len(outputs.labelled.instances)} instances, "
            + ", ".join(f"{k} {1e3 * v:.1f} ms" for k, v in timings.items())
        )


def main(args=None) -> int:
    """`segment_node [--managed]`: --managed starts it as a lifecycle node."""
    return run_node(node_class(SegmentationNode, args), args)


if __name__ == "__main__":
    sys.exit(main())
