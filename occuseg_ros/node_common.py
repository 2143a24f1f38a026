"""What both segmentation nodes share: their life in phases (`SegmentingNode`), QoS, output
publishers, the newest-cloud slot, model loading, diagnostics publishing and `main()`.

The heavy work runs on one worker thread fed by `LatestSlot`: the subscription callback only
stores the newest cloud (counting the one it replaces as dropped), so the executor stays free
for parameters, services and the diagnostics timer.
"""

from __future__ import annotations

import signal
import sys
import threading

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.executors import (
    Executor,
    ExternalShutdownException,
    MultiThreadedExecutor,
    SingleThreadedExecutor,
)
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.service import Service
from rclpy.signals import uninstall_signal_handlers
from rclpy.subscription import Subscription
from rclpy.timer import Timer
from sensor_msgs.msg import PointCloud2
from visualization_msgs.msg import MarkerArray

from occuseg_core.errors import OccusegError
from occuseg_ros.diagnostics import PipelineStats, to_diagnostic_status
from occuseg_ros.msg import InstanceArray
from occuseg_ros.params import NodeParams, ParameterError, declare_and_read, with_changes
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
    from occuseg_core.inference import Segmenter, SegmenterOptions
    from occuseg_core.threads import set_threads

    set_threads(params.threads or None)

    options = SegmenterOptions(views=params.views, align_walls=params.align_walls)
    return Segmenter.from_checkpoint(params.checkpoint or None, device=params.device,
                                     half=params.half, options=options)  # fmt: skip


class SegmentationOutputs:
    """The output topics: instances/points, instances/markers, instances and /diagnostics."""

    def __init__(self, node: Node, params: NodeParams) -> None:
        depth = params.output_depth
        self._context = node.context
        self.instances = node.create_publisher(InstanceArray, "instances", depth)
        self.points = node.create_publisher(PointCloud2, "instances/points", depth)
        self.markers = node.create_publisher(MarkerArray, "instances/markers", depth)
        self.diagnostics = node.create_publisher(DiagnosticArray, "/diagnostics", 1)

    def publish(self, outputs: Outputs) -> bool:
        """Publishes the outputs; False (nothing raised) once the context is shut down."""
        try:
            if outputs.cloud is not None:
                self.points.publish(outputs.cloud)
            if outputs.markers is not None:
                self.markers.publish(outputs.markers)
            self.instances.publish(outputs.instances)
        except Exception:  # rclpy's RCLError "publisher's context is invalid" at shutdown
            if self._context.ok():
                raise
            return False
        return True

    def publish_diagnostics(self, node: Node, stats: PipelineStats) -> None:
        msg = DiagnosticArray(
            status=[to_diagnostic_status(node.get_fully_qualified_name(), stats)]
        )
        msg.header.stamp = node.get_clock().now().to_msg()
        self.diagnostics.publish(msg)


def parameter_callbacks(current, pipeline, apply):
    """Callbacks that make every writable parameter take effect as soon as it is set.

    rclpy has already refused read-only parameters and wrong types or ranges when they run.

    Args:
        current: returns the node's NodeParams now.
        pipeline: returns the CloudPipeline, which checks what depends on the model
            (max_range_m against its voxel size), or None while no model is loaded.
        apply: takes the new NodeParams and puts them to use.

    Returns:
        (check, apply) for add_on_set_parameters_callback and
        add_post_set_parameters_callback: `check` refuses, with the reason, values that
        descriptors cannot express; the second applies an accepted set.
    """

    def check(parameters) -> SetParametersResult:
        try:
            new = with_changes(current(), parameters)
            if pipeline() is not None:
                pipeline().check(new)
        except ParameterError as error:
            return SetParametersResult(successful=False, reason=str(error))
        return SetParametersResult(successful=True)

    def after(parameters) -> None:
        apply(with_changes(current(), parameters))

    return check, after


class SegmentingNode(Node):
    """A segmentation node's life in four phases, shared by both nodes.

    `load` builds the pipeline (the model), `start` creates the publishers, the input, timers
    and services (`_start_io`) and the worker thread, `stop` ends the worker, `stop_io`
    also destroys what `start` created, `unload` frees the model. A plain node loads and
    starts in its constructor; the managed one (occuseg_ros/managed.py) on lifecycle
    transitions. Parameters are declared at construction in both.

    Args:
        name: the node's name. map_mode: declare map_segment_node's parameters.
        segmenter: a ready Segmenter (tests inject a double); None loads the `checkpoint`
            parameter's model on the `device` parameter's device.
        **node_kwargs: passed to rclpy's Node (namespace, context, parameter_overrides...).

    Raises:
        ParameterError: invalid parameters. OccusegError: the model cannot be loaded.
    """

    managed = False
    executor_threads = 2
    """Threads of the executor `run_node` spins the node on (see `make_executor`)."""

    def __init__(self, name: str, *, map_mode: bool, segmenter=None, **node_kwargs) -> None:
        super().__init__(name, **node_kwargs)
        self._params = declare_and_read(self, map_mode=map_mode)
        self._segmenter = segmenter
        self.pipeline: CloudPipeline | None = None
        self.stats = PipelineStats()
        self._io: list = []
        self._outputs: SegmentationOutputs | None = None
        self._worker: threading.Thread | None = None
        self._running = False
        check, apply = parameter_callbacks(lambda: self._params, lambda: self.pipeline,
                                           self._configure)  # fmt: skip
        self.add_on_set_parameters_callback(check)
        self.add_post_set_parameters_callback(apply)
        if not self.managed:
            self.load()
            self.start()

    def load(self) -> None:
        """Loads the model (and warms it up). Raises ParameterError or OccusegError."""
        p = self._params
        self.pipeline = CloudPipeline(self._segmenter or load_segmenter(p), p, self.get_logger())
        if p.warmup:
            self.pipeline.warm_up()

    def unload(self) -> None:
        """Frees the model (a later `load` loads it again)."""
        self.pipeline = None

    def start(self) -> None:
        """Publishers, then input, timers and services, then the worker thread."""
        self._outputs = SegmentationOutputs(self, self._params)
        self._io = [self._outputs.instances, self._outputs.points, self._outputs.markers,
                    self._outputs.diagnostics]  # fmt: skip
        self._running = True
        self._io += self._start_io()
        self._worker = threading.Thread(target=self._work, name=self.get_name(), daemon=True)
        self._worker.start()
        self.get_logger().info(f"ready on {self.resolve_topic_name('points')}, voxel"
                               f" {self.pipeline.voxel_size_m} m: {self._params}")  # fmt: skip

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stops the worker and waits for it (before destroy_node: no publish during teardown).

        Returns:
            Whether the worker has ended (False: still segmenting after timeout_s).
        """
        self._running = False
        self._wake_worker()
        if self._worker is not None:
            self._worker.join(timeout=timeout_s)
            if self._worker.is_alive():
                return False
        self._worker = None
        return True

    def stop_io(self, timeout_s: float = 30.0) -> bool:
        """`stop`, then destroys what `start` created; False (nothing destroyed but the
        inputs) while a segmentation is still running after timeout_s."""
        inputs = [e for e in self._io if not isinstance(e, Publisher)]
        for entity in inputs:
            _destroy(self, entity)
        self._io = [e for e in self._io if e not in inputs]
        if not self.stop(timeout_s):
            return False
        for entity in self._io:
            _destroy(self, entity)
        self._io, self._outputs = [], None
        return True

    def _start_io(self) -> list:
        """Creates the input subscription, timers and services; returns them."""
        raise NotImplementedError

    def _wake_worker(self) -> None:
        """Makes a waiting worker see that `_running` is False."""
        raise NotImplementedError

    def _work(self) -> None:
        raise NotImplementedError

    def _configure(self, params: NodeParams) -> None:
        """Applies parameters set at run time (to the model's pipeline once loaded)."""
        self._params = params
        if self.pipeline is not None:
            self.pipeline.configure(params)

    def _publish_diagnostics(self) -> None:
        outputs = self._outputs
        if outputs is not None:
            outputs.publish_diagnostics(self, self.stats)


def _destroy(node: Node, entity) -> None:
    kinds = ((Subscription, node.destroy_subscription), (Publisher, node.destroy_publisher),
             (Timer, node.destroy_timer), (Service, node.destroy_service))  # fmt: skip
    for kind, destroy in kinds:
        if isinstance(entity, kind):
            destroy(entity)
            return


def report_out_of_range(node: Node, stats: PipelineStats, dropped: int, total: int, frame: str,
                        max_range_m: float) -> None:  # fmt: skip
    """Counts and warns (throttled) about finite points dropped beyond max_range_m."""
    stats.on_out_of_range(dropped)
    node.get_logger().warning(
        f"dropped {dropped} of {total} points of a cloud in frame '{frame}': farther than"
        f" max_range_m={max_range_m:g} m from the frame's origin", throttle_duration_sec=5.0,
    )  # fmt: skip


STOP_TIMEOUT_S = 4.0
"""How long shutdown waits for a segmentation in progress: within the 5 s `ros2 launch` gives
a node after SIGINT before it sends SIGTERM."""


def make_executor(threads: int, context=None) -> Executor:
    """The executor `run_node` spins: single-threaded for threads=1, else multi-threaded.

    segment_node's callbacks only store a cloud, publish diagnostics or set parameters (the
    heavy work is on its worker thread), so one thread is enough, and rclpy's
    MultiThreadedExecutor delayed a cloud arriving just after the previous outputs by 50-130
    ms (tools/ros/bench_node_overhead.py). map_segment_node needs two: its cloud callback may
    wait for a transform.

    Args:
        threads: the node's `executor_threads`. context: rclpy context (None: the default).
    """
    if threads == 1:
        return SingleThreadedExecutor(context=context)
    return MultiThreadedExecutor(threads, context=context)


def run_node(make_node, args=None) -> int:
    """`main()` of a node: init, spin on the node's `executor_threads` (`make_executor`),
    clean shutdown.

    The first SIGINT or SIGTERM ends the spin (rclpy's handlers shut the context down, then
    call ours, which raises KeyboardInterrupt once); every later one is ignored, so the second
    SIGINT that Ctrl-C in a `ros2 launch` terminal delivers (the terminal's and launch's own,
    milliseconds apart) cannot interrupt the teardown.

    Returns:
        0 after a normal shutdown; 2 when the node cannot start (parameters, checkpoint).
    """
    _StopOnce.install()  # before rclpy.init: rclpy's handlers call the ones they replace
    rclpy.init(args=args)
    node = executor = None
    try:
        node = make_node()
        executor = make_executor(node.executor_threads)
        executor.add_node(node)
        executor.spin()
    except (ParameterError, OccusegError) as error:  # bad parameter, checkpoint or device
        print(f"occuseg_ros: cannot start: {error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        _ignore_stop_signals()
        _tear_down(node, executor)
    return 0


class _StopOnce:
    """A SIGINT / SIGTERM handler that raises KeyboardInterrupt the first time only."""

    stopping = False

    @classmethod
    def install(cls) -> None:
        if threading.current_thread() is threading.main_thread():
            cls.stopping = False
            for number in (signal.SIGINT, signal.SIGTERM):
                signal.signal(number, cls.handle)

    @classmethod
    def handle(cls, number, frame) -> None:
        if not cls.stopping:
            cls.stopping = True
            raise KeyboardInterrupt


def _ignore_stop_signals() -> None:
    """SIGINT and SIGTERM are ignored from now on (the process is exiting)."""
    _StopOnce.stopping = True  # a signal before the lines below is a no-op too
    if threading.current_thread() is not threading.main_thread():
        return
    # rclpy's handlers go first: removing them reinstates the handlers they replaced
    uninstall_signal_handlers()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_IGN)


def _tear_down(node, executor) -> None:
    """Stops the worker, then the executor, destroys the node and shuts rclpy down."""
    if node is not None:
        stopped = node.stop(timeout_s=STOP_TIMEOUT_S)
        if executor is not None:
            executor.shutdown(timeout_sec=STOP_TIMEOUT_S)
        if stopped:  # never destroy publishers a busy worker may still use
            node.destroy_node()
        else:
            node.get_logger().warning(
                f"segmentation still running after {STOP_TIMEOUT_S:.0f} s; exiting without it"
            )
    rclpy.try_shutdown()
