"""Both nodes as managed (lifecycle) nodes, driven through their lifecycle services
(`~/change_state`, `~/get_state`) from a client node, with what is published and subscribed
checked in each state; `--managed` picks them on the command line."""

from __future__ import annotations

import itertools
import os

import pytest
import rclpy
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from ros_helpers import FakeSegmenter, RosSession, spin_until, three_box_points, xyzrgb_cloud
from sensor_msgs.msg import PointCloud2
from std_srvs.srv import Trigger

from occuseg_ros.managed import managed, node_class
from occuseg_ros.map_segment_node import MapSegmentationNode
from occuseg_ros.msg import InstanceArray
from occuseg_ros.segment_node import SegmentationNode

pytestmark = pytest.mark.ros
KINDS = {"cloud": SegmentationNode, "map": MapSegmentationNode}
_names = itertools.count()


class FineSegmenter(FakeSegmenter):
    """A model with 1 mm voxels: the default max_range_m (1000 m) is too far for it."""

    voxel_size_m = 0.001


class Harness:
    """A managed node of one kind and a probe node with its lifecycle clients, a `points`
    publisher and an `instances` subscription, all in one RosSession."""

    def __init__(self, kind: str, segmenter=None) -> None:
        self.kind, self.session = kind, RosSession()
        ns = f"/lifecycle_{os.getpid()}_{next(_names)}"
        overrides = [
            Parameter("warmup", value=False),
            Parameter("segment_period_s", value=3600.0),
        ][: 2 if kind == "map" else 1]
        self.node = self.session.add(managed(KINDS[kind])(
            segmenter=segmenter or FakeSegmenter(), context=self.session.context,
            namespace=ns, parameter_overrides=overrides))  # fmt: skip
        self.probe = probe = self.session.add(
            rclpy.create_node("probe", context=self.session.context, namespace=ns)
        )
        self.topics = {"points": f"{ns}/points", "instances": f"{ns}/instances"}
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.received = []
        probe.create_subscription(InstanceArray, "instances", self.received.append, reliable)
        self.pub = probe.create_publisher(PointCloud2, "points", reliable)
        base = f"{ns}/{self.node.get_name()}"
        self.change = probe.create_client(ChangeState, f"{base}/change_state")
        self.get = probe.create_client(GetState, f"{base}/get_state")
        self.segment_now = probe.create_client(Trigger, f"{base}/segment_now")
        assert self.spin(lambda: self.change.service_is_ready() and self.get.service_is_ready())

    def spin(self, predicate) -> bool:
        return spin_until(self.session.executor, predicate)

    def call(self, client, request):
        future = client.call_async(request)
        assert self.spin(future.done)
        return future.result()

    def transition(self, transition_id: int) -> bool:
        request = ChangeState.Request()
        request.transition.id = transition_id
        return self.call(self.change, request).success

    def state(self) -> int:
        return self.call(self.get, GetState.Request()).current_state.id

    def wired(self) -> bool:
        """Whether the node subscribes to points and publishes instances (DDS graph)."""
        return (self.probe.count_subscribers(self.topics["points"]) > 0
                and self.probe.count_publishers(self.topics["instances"]) > 0)  # fmt: skip

    def unwired(self) -> bool:
        return (self.probe.count_subscribers(self.topics["points"]) == 0
                and self.probe.count_publishers(self.topics["instances"]) == 0)  # fmt: skip

    def segments_a_cloud(self, rng) -> bool:
        """Publishes a cloud in the map frame; True when an InstanceArray comes back."""
        before = len(self.received)
        self.pub.publish(xyzrgb_cloud(three_box_points(rng), frame="map"))
        if self.kind == "map":
            if not self.spin(lambda: self.node.stats.received > 0):
                return False
            assert self.spin(self.segment_now.service_is_ready)
            assert self.call(self.segment_now, Trigger.Request()).success
        return self.spin(lambda: len(self.received) > before)

    def close(self) -> None:
        self.session.close()


@pytest.fixture(params=list(KINDS))
def harness(request):
    made = Harness(request.param)
    yield made
    made.close()


def test_each_transition_loads_wires_unwires_and_frees(harness, rng):
    node = harness.node
    assert harness.state() == State.PRIMARY_STATE_UNCONFIGURED
    assert node.pipeline is None and harness.unwired()

    assert harness.transition(Transition.TRANSITION_CONFIGURE)
    assert harness.state() == State.PRIMARY_STATE_INACTIVE
    pipeline = node.pipeline
    assert pipeline is not None and harness.unwired()

    assert harness.transition(Transition.TRANSITION_ACTIVATE)
    assert harness.state() == State.PRIMARY_STATE_ACTIVE
    assert harness.spin(harness.wired) and harness.segments_a_cloud(rng)
    assert len(harness.received[-1].instances) == 3

    assert harness.transition(Transition.TRANSITION_DEACTIVATE)
    assert harness.state() == State.PRIMARY_STATE_INACTIVE
    assert harness.spin(harness.unwired) and node.pipeline is pipeline  # model kept
    assert node._worker is None
    voxels = node.map.num_voxels if harness.kind == "map" else None

    assert harness.transition(Transition.TRANSITION_ACTIVATE)  # again: same model, works
    assert harness.spin(harness.wired) and node.pipeline is pipeline
    if harness.kind == "map":
        assert node.map.num_voxels == voxels  # the map outlives deactivate
    assert harness.segments_a_cloud(rng)

    assert harness.transition(Transition.TRANSITION_DEACTIVATE)
    assert harness.transition(Transition.TRANSITION_CLEANUP)
    assert harness.state() == State.PRIMARY_STATE_UNCONFIGURED
    assert node.pipeline is None and harness.spin(harness.unwired)
    if harness.kind == "map":
        assert node.map is None and node.tracker is None

    assert harness.transition(Transition.TRANSITION_CONFIGURE)  # loads again
    assert node.pipeline is not None and node.pipeline is not pipeline


def test_nothing_is_published_while_inactive(harness, rng):
    """A cloud sent while inactive is not received; no subscription exists to take it."""
    assert harness.transition(Transition.TRANSITION_CONFIGURE)
    harness.pub.publish(xyzrgb_cloud(three_box_points(rng), frame="map"))
    spin_until(harness.session.executor, lambda: False, timeout_s=0.5)
    assert harness.node.stats.received == 0 and harness.received == []


@pytest.mark.parametrize(
    ("reach", "shutdown"),
    [([], Transition.TRANSITION_UNCONFIGURED_SHUTDOWN),
     ([Transition.TRANSITION_CONFIGURE], Transition.TRANSITION_INACTIVE_SHUTDOWN),
     ([Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE],
      Transition.TRANSITION_ACTIVE_SHUTDOWN)],
    ids=["unconfigured", "inactive", "active"],
)  # fmt: skip
def test_shutdown_from_any_state_finalizes_and_frees(harness, reach, shutdown):
    for transition in reach:
        assert harness.transition(transition)
    if reach[-1:] == [Transition.TRANSITION_ACTIVATE]:
        assert harness.spin(harness.wired)
    assert harness.transition(shutdown)
    assert harness.state() == State.PRIMARY_STATE_FINALIZED
    node = harness.node
    assert node.pipeline is None and node._worker is None and harness.spin(harness.unwired)


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_failed_configure_stays_unconfigured_until_the_parameter_is_fixed(kind):
    """With 1 mm voxels 1000 m is too far (see CloudPipeline.check): configure fails with the
    reason logged; unconfigured, the parameter can be lowered and configure then succeeds."""
    harness = Harness(kind, segmenter=FineSegmenter())
    try:
        assert not harness.transition(Transition.TRANSITION_CONFIGURE)
        assert harness.state() == State.PRIMARY_STATE_UNCONFIGURED
        assert harness.node.pipeline is None
        result = harness.node.set_parameters([Parameter("max_range_m", value=100.0)])
        assert result[0].successful
        assert harness.transition(Transition.TRANSITION_CONFIGURE)
        assert harness.node.pipeline.params.max_range_m == 100.0
        refused = harness.node.set_parameters([Parameter("max_range_m", value=1000.0)])
        assert not refused[0].successful and "max_range_m" in refused[0].reason
    finally:
        harness.close()


@pytest.mark.parametrize("kind", list(KINDS))
def test_plain_node_is_still_the_default_and_starts_at_once(kind):
    args = [f"{kind}_node", "--ros-args", "-p", "warmup:=false"]
    assert node_class(KINDS[kind], args) is KINDS[kind]
    chosen = node_class(KINDS[kind], [f"{kind}_node", "--managed", "--ros-args", "-r", "a:=b"])
    assert chosen is managed(KINDS[kind]) and issubclass(chosen, KINDS[kind])
    assert not KINDS[kind].managed and chosen.managed
