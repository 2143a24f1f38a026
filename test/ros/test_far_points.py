"""Far points (issue 15, point 5): points beyond max_range_m are dropped from a cloud, counted
and reported truthfully, and no finite input reaches the model's voxel-range error."""

from __future__ import annotations

import numpy as np
import pytest
from ros_helpers import FakeSegmenter, three_box_points, xyzrgb_cloud
from std_msgs.msg import Header

from occuseg_ros.conversions import scene_from_cloud, usable_points
from occuseg_ros.diagnostics import PipelineStats
from occuseg_ros.node_common import report_out_of_range
from occuseg_ros.params import default_params
from occuseg_ros.pipeline import CloudPipeline
from occuseg_ros.pointcloud import CloudError, make_cloud, read_cloud

pytestmark = pytest.mark.ros
NAN, INF = float("nan"), float("inf")


def arrays(points):
    msg = make_cloud(Header(), {"xyz": np.array(points, dtype=np.float32)})
    return read_cloud(msg, max_points=100)


def test_points_beyond_max_range_are_dropped_and_counted_but_holes_are_not():
    """Distances 1, 5 (= max, kept), 5.000001... 6, 1e30 (squares to inf), plus NaN and inf
    holes: 3 finite points dropped, the 2 holes are not "out of range"."""
    mask, dropped = usable_points(arrays([
        (1, 0, 0), (3, 4, 0), (3, 4, 0.01), (0, 0, -6), (1e30, 0, 0), (NAN, 0, 0), (INF, 0, 0),
    ]), max_range_m=5.0)  # fmt: skip
    np.testing.assert_array_equal(mask, [True, True, False, False, False, False, False])
    assert dropped == 3


def test_the_old_l1_bound_no_longer_rejects_a_cloud_with_one_far_point():
    """|x| + |y| + |z| = 1.2e4 > 1e4 used to count as "not finite"; 7 km is simply far."""
    mask, dropped = usable_points(arrays([(4e3, 4e3, 4e3), (1, 1, 1)]), max_range_m=1e4)
    assert mask.all() and dropped == 0


@pytest.mark.parametrize(
    ("points", "reason", "message"),
    [
        ([(2e3, 0, 0), (NAN, 0, 0), (1e30, 0, 0)], "out_of_range",
         "all 2 finite points lie farther than max_range_m=1000 m from the frame's origin"
         " (1 of 3 points are not finite)"),
        ([(NAN, 0, 0), (0, INF, 0)], "no_valid_points", "none of the 2 points has finite x, y, z"),
    ],
    ids=["all-far", "no-finite"],
)  # fmt: skip
def test_a_cloud_with_nothing_usable_says_why(points, reason, message):
    with pytest.raises(CloudError) as error:
        usable_points(arrays(points), max_range_m=1000.0)
    assert (error.value.reason, str(error.value)) == (reason, message)


def box_with_outliers(rng, outliers):
    xyz = np.concatenate([three_box_points(rng), np.array(outliers, np.float32)])
    return xyzrgb_cloud(xyz, frame="lidar")


def test_scene_keeps_the_near_points_and_their_input_indices(rng):
    """Two outliers 6 km apart (the issue's case) at input indices 600 and 601."""
    msg = box_with_outliers(rng, [(3e3, 0, 0), (-3e3, 0, 0), (0.5, 0.5, 0.5)])
    cloud = scene_from_cloud(msg, max_input_points=10_000, max_points=10_000,
                             voxel_size_m=0.02, max_range_m=1000.0)  # fmt: skip
    assert cloud.num_out_of_range == 2 and cloud.scene.num_points == 601
    np.testing.assert_array_equal(cloud.source_indices, [*range(600), 602])


def test_the_real_segmenter_gets_no_point_it_cannot_voxelize(rng, random_checkpoint):
    """Outliers 12 km apart make the model fail ("voxel coordinates must lie in [0, 524286]":
    12 km / 2 cm > 524286) and the whole cloud was lost; with max_range_m = 5000 (its largest
    value) they are dropped, while kept points as far apart as allowed still segment."""
    from occuseg_core.inference import Segmenter

    segmenter = Segmenter.from_checkpoint(random_checkpoint, device="cpu")
    msg = box_with_outliers(rng, [(6e3, 0, 0), (-6e3, 0, 0)])
    with pytest.raises(ValueError, match="voxel coordinates must lie in"):
        segmenter.segment(scene_from_cloud(msg, max_input_points=10**4, max_points=10**4,
                                           voxel_size_m=0.02, max_range_m=1e5).scene)  # fmt: skip
    pipeline = CloudPipeline(segmenter, default_params(device="cpu", max_range_m=5000.0))
    outputs = pipeline.process(msg)
    assert outputs.out_of_range == 2
    assert outputs.instances.header.frame_id == "lidar" and outputs.cloud.width == 600
    edge = pipeline.process(box_with_outliers(rng, [(4999.9, 0, 0), (-4999.9, 0, 0)]))
    assert edge.out_of_range == 0 and edge.cloud.width == 602


def test_the_fake_pipeline_reports_what_it_dropped(rng):
    pipeline = CloudPipeline(FakeSegmenter(), default_params(max_range_m=100.0))
    outputs = pipeline.process(box_with_outliers(rng, [(0, 0, 150), (0, 0, 101), (0, 0, 99)]))
    assert outputs.out_of_range == 2 and outputs.cloud.width == 601


class RecordingLogger:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, text: str, **kwargs) -> None:
        self.warnings.append(text)


def test_the_warning_and_diagnostics_count_each_cloud_and_point():
    logger, stats = RecordingLogger(), PipelineStats()
    node = type("Node", (), {"get_logger": lambda self: logger})()
    report_out_of_range(node, stats, 2, 602, "lidar", 1000.0)
    report_out_of_range(node, stats, 5, 100, "lidar", 1000.0)
    assert logger.warnings[0] == ("dropped 2 of 602 points of a cloud in frame 'lidar': farther"
                                  " than max_range_m=1000 m from the frame's origin")  # fmt: skip
    values = stats.snapshot()
    assert values["clouds with points beyond max_range_m"] == "2"
    assert values["points dropped beyond max_range_m"] == "7"
