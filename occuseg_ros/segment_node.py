"""segment_node: one PointCloud2 in, instances out (cloud, markers, InstanceArray, diagnostics).

Topics (relative, remap in launch): `points` in; `instances`, `instances/points`,
`instances/markers` out, all with the input's header; `/diagnostics` every
diagnostics_period_s. Only the newest cloud is processed; a bad cloud is counted and skipped.
"""

from __future__ import annotations

import sys
import threading
import time

from rclpy.node import Node
from sensor_msgs.msg import PointCloud2

from occuseg_ros.diagnostics import PipelineStats
from occuseg_ros.node_common import (
    LatestSlot,
    SegmentationOutputs,
    input_qos,
    load_segmenter,
    parameter_callbacks,
    report_out_of_range,
    run_node,
)
from occuseg_ros.params import declare_and_read
from occuseg_ros.pipeline import CloudPipeline
from occuseg_ros.pointcloud import CloudError


class SegmentationNode(Node):
    """Per-cloud instance segmentation.

    Args:
        segmenter: a ready Segmenter (tests inject a double); None loads the `checkpoint`
            parameter's model on the `device` parameter's device.
        **node_kwargs: passed to rclpy's Node (namespace, context, parameter_overrides...).

    Raises:
        ParameterError: invalid parameters. OccusegError: the model cannot be loaded.
    """

    def __init__(self, segmenter=None, **node_kwargs) -> None:
        super().__init__("segment_node", **node_kwargs)
        self._params = declare_and_read(self)
        self.pipeline = CloudPipeline(segmenter or load_segmenter(self._params), self._params,
                                      self.get_logger())  # fmt: skip
        if self._params.warmup:
            self.pipeline.warm_up()
        self.stats = PipelineStats()
        self._outputs = SegmentationOutputs(self, self._params)
        self._slot = LatestSlot()
        self._running = True
        check, apply = parameter_callbacks(lambda: self._params, self.pipeline, self._configure)
        self.add_on_set_parameters_callback(check)
        self.add_post_set_parameters_callback(apply)
        self.create_subscription(PointCloud2, "points", self._on_cloud, input_qos(self._params))
        self.create_timer(self._params.diagnostics_period_s, self._publish_diagnostics)
        self._worker = threading.Thread(target=self._work, name="segmentation", daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"ready on {self.resolve_topic_name('points')}, voxel {self.pipeline.voxel_size_m} m:"
            f" {self._params}"
        )

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

    def _configure(self, params) -> None:
        """Applies parameters set at run time (every writable one acts on the next cloud)."""
        self._params = params
        self.pipeline.configure(params)

    def _publish_diagnostics(self) -> None:
        self._outputs.publish_diagnostics(self, self.stats)

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stops the worker and waits for it (before destroy_node: no publish during teardown).

        Returns:
            Whether the worker has ended (False: still segmenting after timeout_s).
        """
        self._running = False
        self._slot.close()
        self._worker.join(timeout=timeout_s)
        return not self._worker.is_alive()


def main(args=None) -> int:
    return run_node(SegmentationNode, args)


if __name__ == "__main__":
    sys.exit(main())
