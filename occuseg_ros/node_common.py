"""What both segmentation nodes share: QoS, output publishers, the newest-cloud slot, model
loading, diagnostics publishing and `main()`.

The heavy work runs on one worker thread fed by `LatestSlot`: the subscription callback only
stores the newest cloud (counting the one it replaces as dropped), so the executor stays free
for parameters, services and the diagnostics timer.
"""

from __future__ import annotations

import sys
import threading

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import PointCloud2
from visualization_msgs.msg import MarkerArray

from occuseg_core.errors import OccusegError
from occuseg_ros.diagnostics import PipelineStats, to_diagnostic_status
from occuseg_ros.msg import InstanceArray
from occuseg_ros.params import NodeParams, ParameterError
from occuseg_ros.pipeline import CloudPipeline, Outputs


class LatestSlot:
    """A one-message mailbox: `put` replaces what is waiting, `take` blocks for the next one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item = None
        self._closed = False

    def put(self, item) -> bool:
        """Stores item; True when an unprocessed item was replaced (a dropped cloud)."""
        with self._cond:
            replaced = self._item is not None
            self._item = item
            self._cond.notify()
            return replaced

    def take(self, timeout_s: float | None = None):
        """The waiting item (removing it), or None on timeout or after `close`."""
        with self._cond:
            self._cond.wait_for(lambda: self._item is not None or self._closed, timeout_s)
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


def input_qos(params: NodeParams) -> QoSProfile:
    """Sensor-data profile (best effort) by default; depth from the parameters."""
    qos = QoSProfile(depth=params.input_depth, reliability=ReliabilityPolicy.BEST_EFFORT)
    qos.history, qos.durability = (
        qos_profile_sensor_data.history,
        qos_profile_sensor_data.durability,
    )
    if params.input_reliability == "reliable":
        qos.reliability = ReliabilityPolicy.RELIABLE
    return qos


def load_segmenter(params: NodeParams):
    """The real Segmenter for the parameters (imported here: torch loads only when needed)."""
    from occuseg_core.inference import Segmenter

    return Segmenter.from_checkpoint(params.checkpoint or None, device=params.device,
                                     half=params.half)  # fmt: skip


class SegmentationOutputs:
    """The output topics: instances/points, instances/markers, instances and /diagnostics."""

    def __init__(self, node: Node, params: NodeParams) -> None:
        depth = params.output_depth
        self.instances = node.create_publisher(InstanceArray, "instances", depth)
        self.points = node.create_publisher(PointCloud2, "instances/points", depth)
        self.markers = node.create_publisher(MarkerArray, "instances/markers", depth)
        self.diagnostics = node.create_publisher(DiagnosticArray, "/diagnostics", 1)

    def publish(self, outputs: Outputs) -> None:
        if outputs.cloud is not None:
            self.points.publish(outputs.cloud)
        if outputs.markers is not None:
            self.markers.publish(outputs.markers)
        self.instances.publish(outputs.instances)

    def publish_diagnostics(self, node: Node, stats: PipelineStats) -> None:
        msg = DiagnosticArray(
            status=[to_diagnostic_status(node.get_fully_qualified_name(), stats)]
        )
        msg.header.stamp = node.get_clock().now().to_msg()
        self.diagnostics.publish(msg)


def on_filter_change(pipeline: CloudPipeline):
    """A set-parameters callback applying score_threshold / min_instance_points at run time."""

    def callback(parameters) -> SetParametersResult:
        for p in parameters:
            if p.name == "score_threshold":
                pipeline.min_score = float(p.value)
            elif p.name == "min_instance_points":
                pipeline.min_points = int(p.value)
        return SetParametersResult(successful=True)

    return callback


def run_node(make_node, args=None) -> int:
    """`main()` of a node: init, spin on two threads, clean shutdown.

    Returns:
        0 after a normal shutdown; 2 when the node cannot start (parameters, checkpoint).
    """
    rclpy.init(args=args)
    node = None
    try:
        node = make_node()
        executor = MultiThreadedExecutor(num_threads=2)
        executor.add_node(node)
        executor.spin()
    except (ParameterError, OccusegError) as error:  # bad parameter, checkpoint or device
        print(f"occuseg_ros: cannot start: {error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.stop()
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
