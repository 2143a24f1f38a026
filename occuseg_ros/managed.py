"""Both nodes as managed (lifecycle) nodes: the same classes, their phases run on transitions.

`managed(SegmentationNode)` is SegmentationNode on top of rclpy's LifecycleNode. It starts
unconfigured with its parameters declared and nothing else; then

| transition | what runs (`SegmentingNode`) |
| --- | --- |
| configure | `load`: the model (map mode: an empty map and id tracker) |
| activate | `start`: publishers, the `points` subscription, timers, map services, worker |
| deactivate | `stop_io`: the worker ends, all of that is destroyed; the model stays |
| cleanup | `unload`: the model (and the map) are freed |
| shutdown (any state), error | `stop_io` and `unload` as far as needed |

A lifecycle manager (nav2's lifecycle_manager, `ros2 lifecycle set`) drives it through the
node's `~/change_state` service.
"""

from __future__ import annotations

from functools import cache

from rclpy.lifecycle import LifecycleNode, State, TransitionCallbackReturn
from rclpy.utilities import remove_ros_args

from occuseg_core.errors import OccusegError
from occuseg_ros.params import ParameterError

MANAGED_FLAG = "--managed"


class _Transitions:
    """Lifecycle callbacks mapped onto a SegmentingNode's phases (the first base of a
    managed class, so its `managed` and `on_*` win)."""

    managed = True

    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            self.load()
        except (ParameterError, OccusegError) as error:  # checkpoint, device, max_range_m
            self.get_logger().error(f"cannot configure: {error}")
            self.unload()
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        self.start()
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        if not self.stop_io():
            self.get_logger().error("deactivate: a segmentation is still running")
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self.unload()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self.stop_io()
        self.unload()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: State) -> TransitionCallbackReturn:
        return self.on_shutdown(state)  # back to unconfigured, nothing left running


@cache
def managed(node_class: type) -> type:
    """node_class (a SegmentingNode) as a lifecycle node; the same class on every call."""
    return type(f"Managed{node_class.__name__}", (_Transitions, node_class, LifecycleNode), {})


def node_class(plain: type, args: list[str] | None = None) -> type:
    """`managed(plain)` when the command line (sys.argv when args is None) has --managed
    before any ROS arguments, else `plain`."""
    return managed(plain) if MANAGED_FLAG in remove_ros_args(args)[1:] else plain
