"""Node parameters: config/*.yaml restate the code's defaults; every parameter either takes
effect as soon as `ros2 param set` changes it (one test each) or is read-only, so the set is
refused; values the model cannot take are refused at start-up and at run time."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest
import rclpy
import yaml
from rclpy.parameter import Parameter
from ros_helpers import (
    FakeSegmenter,
    RosSession,
    StandInBuffer,
    three_box_points,
    xyzrgb_cloud,
)

from occuseg_ros.map_segment_node import MapSegmentationNode
from occuseg_ros.params import SPECS, ParameterError, param_names
from occuseg_ros.pipeline import MAX_VOXEL_COORDINATE
from occuseg_ros.segment_node import SegmentationNode

pytestmark = pytest.mark.ros
REPO = Path(__file__).resolve().parents[2]
YAML = {"cloud": REPO / "config/segment.yaml", "map": REPO / "config/map_segment.yaml"}
_names = itertools.count()


def make_node(session: RosSession, mode: str, segmenter=None, **params):
    overrides = [Parameter("warmup", value=False)]
    overrides += [Parameter(k, value=v) for k, v in params.items()]
    kind = SegmentationNode
    if mode == "map":
        kind = MapSegmentationNode
        overrides.append(Parameter("segment_period_s", value=3600.0))  # segment when asked
    return session.add(kind(
        segmenter=segmenter or FakeSegmenter(), context=session.context,
        namespace=f"/params_{os.getpid()}_{next(_names)}", parameter_overrides=overrides,
    ))  # fmt: skip


@pytest.fixture
def session():
    made = RosSession()
    yield made
    made.close()


@pytest.mark.parametrize("mode", ["cloud", "map"])
def test_yaml_lists_every_parameter_at_the_code_default(mode):
    (values,) = [v["ros__parameters"] for v in yaml.safe_load(YAML[mode].read_text()).values()]
    assert list(values) == sorted(values, key=list(values).index)  # no duplicate key lost
    assert set(values) == set(param_names(mode == "map"))
    for name, value in values.items():
        default = SPECS[name].default_for(mode == "map")
        assert (value, type(value)) == (default, type(default)), name


@pytest.mark.parametrize("mode", ["cloud", "map"])
def test_a_node_started_on_the_yaml_has_the_defaults(mode):
    """rclpy reads the file as `ros2 launch` passes it; a value of the wrong type (1 for a
    double) would stop the node with a ParameterError."""
    context = rclpy.Context()
    rclpy.init(args=["--ros-args", "--params-file", str(YAML[mode])], context=context)
    kind = MapSegmentationNode if mode == "map" else SegmentationNode
    try:
        node = kind(segmenter=FakeSegmenter(), context=context)
        try:
            for name in param_names(mode == "map"):
                assert node.get_parameter(name).value == SPECS[name].default_for(mode == "map")
        finally:
            node.stop()
            node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def other_value(name: str, map_mode: bool):
    """A valid value different from the default."""
    default = SPECS[name].default_for(map_mode)
    if isinstance(default, bool):
        return not default
    if isinstance(default, str):
        return {"device": "cpu", "input_reliability": "reliable"}.get(name, "other")
    if isinstance(default, list):
        return ["5:stool"]
    return default + (1 if isinstance(default, int) else 0.01)


READ_ONLY = [(m, n) for m in ("cloud", "map") for n in param_names(m == "map")
             if SPECS[n].read_only]  # fmt: skip


@pytest.mark.parametrize(("mode", "name"), READ_ONLY, ids=[f"{m}-{n}" for m, n in READ_ONLY])
def test_setting_a_read_only_parameter_is_refused(session, mode, name):
    node = make_node(session, mode)
    before = node.get_parameter(name).value
    (result,) = node.set_parameters([Parameter(name, value=other_value(name, mode == "map"))])
    assert not result.successful and "read-only" in result.reason
    assert node.get_parameter(name).value == before


def run_once(node, xyz: np.ndarray):
    """Feeds one cloud through the node's own path; the Outputs it would publish, or None."""
    published = []
    node._outputs.publish = lambda outputs: published.append(outputs) or True
    if isinstance(node, MapSegmentationNode):
        node._on_cloud(xyzrgb_cloud(xyz, frame="map"))
        node._segment_map()
    else:
        node._process(xyzrgb_cloud(xyz))
    return published[-1] if published else None


def instance_names(outputs) -> list[str]:
    return [i.class_name for i in outputs.instances.instances]


def map_span_x(node, xyz) -> float:
    run_once(node, xyz)
    return float(np.ptp(node.map.centers_m()[:, 0]))


def tracked_id(node, _) -> int:
    """The id the second of two voxel sets of IoU 0.5 gets (1: it kept the first one's)."""
    node.tracker.reset()
    node.tracker.update([np.arange(100)])
    return int(node.tracker.update([np.arange(50)])[0])


def timeout_waited(node, xyz) -> float:
    """How long the node lets the TF buffer wait for a cloud in another frame (seconds)."""
    node.frames.buffer = StandInBuffer()
    node._on_cloud(xyzrgb_cloud(xyz, frame="camera"))
    return node.frames.buffer.calls[-1][3].nanoseconds / 1e9


# name -> (new value, what the node does with a 2000-point cloud, before, after)
EFFECTS = {
    "score_threshold": (0.5, lambda n, xyz: len(run_once(n, xyz).instances.instances), 3, 2),
    "min_instance_points": (
        100_000, lambda n, xyz: len(run_once(n, xyz).instances.instances), 3, 0),
    "class_names": (["5:stool"], lambda n, xyz: instance_names(run_once(n, xyz))[0],
                    "chair", "stool"),
    "publish_points": (False, lambda n, xyz: run_once(n, xyz).cloud is None, False, True),
    "publish_markers": (False, lambda n, xyz: run_once(n, xyz).markers is None, False, True),
    "max_range_m": (2.0, lambda n, xyz: (run_once(n, xyz), n.stats.clouds_out_of_range)[1],
                    0, 1),
    "max_input_points": (
        1_000, lambda n, xyz: (run_once(n, xyz), n.stats.rejected["too_large"])[1], 0, 1),
    "max_points": (1_000, lambda n, xyz: run_once(n, xyz).downsampled, False, True),
    "max_voxels": (1_000, lambda n, xyz: (run_once(n, xyz), n.map.num_voxels > 1000)[1],
                   True, False),
    "map_extent_m": (1.0, lambda n, xyz: map_span_x(n, xyz) > 2.1, True, False),
    "match_min_overlap": (0.9, tracked_id, 1, 2),
    "transform_timeout_s": (1.5, timeout_waited, 0.2, 1.5),
}  # fmt: skip
WRITABLE = [(m, n) for m in ("cloud", "map") for n in param_names(m == "map")
            if not SPECS[n].read_only]  # fmt: skip


def test_every_writable_parameter_has_an_effect_test():
    assert {n for _, n in WRITABLE} == set(EFFECTS)


@pytest.mark.parametrize(("mode", "name"), WRITABLE, ids=[f"{m}-{n}" for m, n in WRITABLE])
def test_a_writable_parameter_takes_effect_at_once(session, rng, mode, name):
    """The same cloud before and after `ros2 param set` (the node's callbacks, no restart)."""
    value, observe, before, after = EFFECTS[name]
    node = make_node(session, mode)
    xyz = three_box_points(rng, 2000)
    assert observe(node, xyz) == before
    (result,) = node.set_parameters([Parameter(name, value=value)])
    assert result.successful, result.reason
    assert observe(node, xyz) == after


def test_an_invalid_run_time_value_is_refused_with_the_reason(session):
    node = make_node(session, "cloud")
    (result,) = node.set_parameters([Parameter("class_names", value=["chair"])])
    assert not result.successful and "class_names" in result.reason
    assert node.get_parameter("class_names").value == [""]


class FineSegmenter(FakeSegmenter):
    """1 mm voxels: the model's grid reaches (2**19 - 3) mm / 2 - 1 mm = 262.1 m around 0."""

    voxel_size_m = 0.001


def test_max_range_beyond_the_models_grid_is_refused_at_start_up_and_run_time(session):
    with pytest.raises(ParameterError, match="max_range_m.* at most 262 m"):
        make_node(session, "cloud", FineSegmenter(), max_range_m=300.0)
    node = make_node(session, "map", FineSegmenter(), max_range_m=250.0)
    (result,) = node.set_parameters([Parameter("max_range_m", value=300.0)])
    assert not result.successful and "at most 262 m" in result.reason
    assert node.pipeline.params.max_range_m == 250.0


def test_max_voxel_coordinate_is_the_models():
    from occuseg_core.nn.density import MAX_COORDINATE

    assert MAX_VOXEL_COORDINATE == MAX_COORDINATE


def test_threads_sets_the_networks_cpu_threads(random_checkpoint):
    """Issue 18: `threads` (read-only) is applied when the model loads; 0 = auto (the count
    follows the cores other processes leave free, chosen before every scan)."""
    import torch

    from occuseg_core.threads import set_threads, thread_settings
    from occuseg_ros.node_common import load_segmenter
    from occuseg_ros.params import default_params

    before = torch.get_num_threads()
    try:
        load_segmenter(default_params(checkpoint=str(random_checkpoint), threads=1))
        assert torch.get_num_threads() == 1 and thread_settings()["threads"] == 1
        load_segmenter(default_params(checkpoint=str(random_checkpoint), threads=0))
        assert thread_settings()["threads"] == "auto"
    finally:
        set_threads(None)
        torch.set_num_threads(before)


def test_views_reach_the_segmenter_and_bad_counts_are_refused(random_checkpoint):
    """`views` (read-only) becomes the Segmenter's test-time views; 3 is refused by name."""
    from occuseg_ros.node_common import load_segmenter
    from occuseg_ros.params import default_params

    segmenter = load_segmenter(default_params(checkpoint=str(random_checkpoint), views=4))
    assert segmenter.options.views == 4
    with pytest.raises(ParameterError, match="'views': 3"):
        default_params(checkpoint=str(random_checkpoint), views=3)


def test_align_walls_reaches_the_segmenter(random_checkpoint):
    """`align_walls` (read-only) becomes the Segmenter's `align_walls`; on by default."""
    from occuseg_ros.node_common import load_segmenter
    from occuseg_ros.params import default_params

    assert default_params().align_walls is True
    params = default_params(checkpoint=str(random_checkpoint), align_walls=False)
    assert load_segmenter(params).options.align_walls is False
