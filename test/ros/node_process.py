"""A segmentation node as its own process, for test_shutdown.py: `main()`'s `run_node` with a
fake segmenter that can be kept busy, so a signal lands while a cloud is being segmented.

    python node_process.py cloud|map idle|busy|unconfigured|active NAMESPACE

Prints "spinning" once the node exists and, when busy, "busy" as the segmenter starts; the
segmenter then sleeps BUSY_S seconds (the length of a real segmentation on a CPU).
unconfigured and active start the managed node (`--managed`), left unconfigured or taken
through configure and activate.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import time

from ros_helpers import FakeSegmenter, three_box_points, xyzrgb_cloud

BUSY_S = 3.0


def say(line: str) -> None:
    """One line in one write: the worker thread's "busy" and the main thread's "spinning"
    printed with print() could interleave into "spinningbusy" (print writes the text and the
    newline separately), and the test waits for whole lines."""
    os.write(sys.stdout.fileno(), f"{line}\n".encode())


class BusySegmenter(FakeSegmenter):
    """FakeSegmenter that announces each call and then takes BUSY_S seconds."""

    def segment(self, scene):
        say("busy")
        time.sleep(BUSY_S)
        return super().segment(scene)


def make_node(kind: str, state: str, namespace: str):
    """The node, with a cloud already waiting for the worker when busy."""
    import numpy as np
    from rclpy.parameter import Parameter

    from occuseg_ros.managed import node_class
    from occuseg_ros.map_segment_node import MapSegmentationNode
    from occuseg_ros.segment_node import SegmentationNode

    overrides = [Parameter("warmup", value=False)]
    cloud = xyzrgb_cloud(three_box_points(np.random.default_rng(0)), frame="map")
    plain = SegmentationNode
    if kind == "map":
        plain = MapSegmentationNode
        overrides.append(Parameter("segment_period_s", value=3600.0))
    flags = ["--managed"] if state in ("unconfigured", "active") else []
    node = node_class(plain, ["node_process", *flags])(
        segmenter=BusySegmenter(), namespace=namespace, parameter_overrides=overrides
    )
    if state == "active":
        node.trigger_configure()
        node.trigger_activate()
    if state == "busy":
        node._on_cloud(cloud)
        if kind == "map":
            node._request.set()
    say("spinning")
    return node


def main() -> int:
    from occuseg_ros.node_common import run_node

    faulthandler.register(signal.SIGUSR1)  # the test asks for every thread's stack on a hang
    kind, state, namespace = sys.argv[1:4]
    return run_node(lambda: make_node(kind, state, namespace))


if __name__ == "__main__":
    sys.exit(main())
