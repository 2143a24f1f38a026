"""A segmentation node as its own process, for test_shutdown.py: `main()`'s `run_node` with a
fake segmenter that can be kept busy, so a signal lands while a cloud is being segmented.

    python node_process.py cloud|map idle|busy NAMESPACE

Prints "spinning" once the node exists and, when busy, "busy" as the segmenter starts; the
segmenter then sleeps BUSY_S seconds (the length of a real segmentation on a CPU).
"""

from __future__ import annotations

import faulthandler
import signal
import sys
import time

from ros_helpers import FakeSegmenter, three_box_points, xyzrgb_cloud

BUSY_S = 3.0


class BusySegmenter(FakeSegmenter):
    """FakeSegmenter that announces each call and then takes BUSY_S seconds."""

    def segment(self, scene):
        print("busy", flush=True)
        time.sleep(BUSY_S)
        return super().segment(scene)


def make_node(kind: str, busy: bool, namespace: str):
    """The node, with a cloud already waiting for the worker when busy."""
    import numpy as np
    from rclpy.parameter import Parameter

    from occuseg_ros.map_segment_node import MapSegmentationNode
    from occuseg_ros.segment_node import SegmentationNode

    overrides = [Parameter("warmup", value=False)]
    cloud = xyzrgb_cloud(three_box_points(np.random.default_rng(0)), frame="map")
    if kind == "map":
        overrides.append(Parameter("segment_period_s", value=3600.0))
        node = MapSegmentationNode(segmenter=BusySegmenter(), namespace=namespace,
                                   parameter_overrides=overrides)  # fmt: skip
        if busy:
            node._on_cloud(cloud)
            node._request.set()
    else:
        node = SegmentationNode(segmenter=BusySegmenter(), namespace=namespace,
                                parameter_overrides=overrides)  # fmt: skip
        if busy:
            node._on_cloud(cloud)
    print("spinning", flush=True)
    return node


def main() -> int:
    from occuseg_ros.node_common import run_node

    faulthandler.register(signal.SIGUSR1)  # the test asks for every thread's stack on a hang
    kind, state, namespace = sys.argv[1:4]
    return run_node(lambda: make_node(kind, state == "busy", namespace))


if __name__ == "__main__":
    sys.exit(main())
