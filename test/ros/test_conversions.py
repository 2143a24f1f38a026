"""Scene extraction and the three outputs, on hand-filled clouds and results (no spinning)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from sensor_msgs.msg import PointField
from std_msgs.msg import Header
from visualization_msgs.msg import Marker

from occuseg_core.types import InstanceRecord, SegmentationResult
from occuseg_ros.conversions import (
    CloudScene,
    LabelledCloud,
    label_cloud,
    labelled_to_cloud,
    labelled_to_instances,
    labelled_to_markers,
    scene_from_cloud,
)
from occuseg_ros.pointcloud import CloudError, make_cloud, pack_rgb

pytestmark = pytest.mark.ros
NAN = float("nan")


def record(k, class_id, name, score, xyz) -> InstanceRecord:
    xyz = np.asarray(xyz, dtype=np.float64)
    return InstanceRecord(
        id=k, class_id=class_id, class_name=name, score=score, point_count=len(xyz),
        voxel_count=len(xyz), predicted_occupancy=2.0, occupancy_ratio=len(xyz) / 2.0,
        centroid_m=tuple(xyz.mean(0)), box_min_m=tuple(xyz.min(0)), box_max_m=tuple(xyz.max(0)),
    )  # fmt: skip


def organized_cloud():
    """2 x 3 organized cloud; holes at indices 1 and 5; valid points 0, 2, 3, 4."""
    pts = [(0, 0, 1), (NAN,) * 3, (2, 0, 1), (0, 1, 1), (1, 1, 1), (NAN,) * 3]
    xyz = np.array(pts, dtype=np.float32)
    rgb = pack_rgb(np.array([[10, 20, 30]] * 6, dtype=np.uint8))
    return make_cloud(Header(frame_id="cam"), {"xyz": xyz, "rgb": rgb}, height=2)


def test_scene_from_organized_cloud_drops_holes_and_keeps_source_indices():
    cloud = scene_from_cloud(organized_cloud(), max_input_points=100, max_points=100,
                             voxel_size_m=0.02, max_range_m=1e3)  # fmt: skip
    np.testing.assert_array_equal(cloud.source_indices, [0, 2, 3, 4])
    np.testing.assert_array_equal(cloud.scene.xyz, [[0, 0, 1], [2, 0, 1], [0, 1, 1], [1, 1, 1]])
    np.testing.assert_allclose(cloud.scene.colors, np.tile([10, 20, 30], (4, 1)) / 255.0)
    assert cloud.num_input_points == 6 and not cloud.downsampled


def test_all_nan_cloud_is_refused():
    msg = make_cloud(Header(), {"xyz": np.full((4, 3), np.nan, np.float32)})
    with pytest.raises(CloudError) as error:
        scene_from_cloud(msg, max_input_points=100, max_points=100, voxel_size_m=0.02,
                         max_range_m=1e3)  # fmt: skip
    assert error.value.reason == "no_valid_points"


def test_large_cloud_is_averaged_per_cell_and_labels_reach_every_point():
    """8 points in 2 clusters 1 m apart, max_points 2: one cell per cluster at 0.02 m."""
    a = np.array([[0, 0, 0], [0.001, 0, 0], [0, 0.001, 0], [0.001, 0.001, 0]], np.float32)
    xyz = np.concatenate([a, a + 1.0])
    msg = make_cloud(Header(), {"xyz": xyz})
    cloud = scene_from_cloud(msg, max_input_points=100, max_points=2, voxel_size_m=0.02,
                             max_range_m=1e3)  # fmt: skip
    assert cloud.downsampled and cloud.scene.num_points == 2
    np.testing.assert_allclose(cloud.scene.xyz, [a.mean(0), a.mean(0) + 1.0], atol=1e-6)
    result = SegmentationResult(
        instance_ids=np.array([-1, 0]), semantic_ids=np.array([2, 5]),
        instances=(record(0, 5, "chair", 0.9, [a.mean(0) + 1.0]),), timings_s={},
        class_names={2: "floor", 5: "chair"},
    )  # fmt: skip
    labelled = label_cloud(cloud, result)
    np.testing.assert_array_equal(labelled.point_ids(), [0, 0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(labelled.semantic_ids, [2, 2, 2, 2, 5, 5, 5, 5])
    (inst,) = labelled.instances
    assert inst.point_count == 4  # recomputed at full resolution, not 1 cell
    np.testing.assert_allclose(inst.box_min_m, [1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(inst.box_max_m, [1.001, 1.001, 1], atol=1e-6)


def two_instance_labelled():
    cloud = scene_from_cloud(organized_cloud(), max_input_points=100, max_points=100,
                             voxel_size_m=0.02, max_range_m=1e3)  # fmt: skip
    # valid points (source 0, 2, 3, 4): instance 1 = {0, 3}, instance 0 = {4}, point 2 none
    result = SegmentationResult(
        instance_ids=np.array([1, -1, 1, 0]), semantic_ids=np.array([7, 1, 7, 5]),
        instances=(record(0, 5, "chair", 0.5, [[1, 1, 1]]),
                   record(1, 7, "table", 0.75, [[0, 0, 1], [0, 1, 1]])),
        timings_s={}, class_names={1: "wall", 5: "chair", 7: "table"},
    )  # fmt: skip
    return cloud, label_cloud(cloud, result)


def test_output_cloud_fields_per_point():
    cloud, labelled = two_instance_labelled()
    assert isinstance(cloud, CloudScene)
    header = Header(frame_id="cam")
    header.stamp.sec, header.stamp.nanosec = 12, 345
    msg = labelled_to_cloud(header, labelled)
    assert msg.header.frame_id == "cam" and msg.header.stamp.sec == 12
    assert [f.name for f in msg.fields] == ["x", "y", "z", "rgb", "instance_id", "semantic_id",
                                            "score"]  # fmt: skip
    assert msg.fields[3].datatype == PointField.FLOAT32 and msg.point_step == 28
    rows = [struct.unpack_from("<fff4sIIf", bytes(msg.data), 28 * i) for i in range(4)]
    assert [r[:3] for r in rows] == [(0, 0, 1), (2, 0, 1), (0, 1, 1), (1, 1, 1)]
    assert [r[4] for r in rows] == [2, 0, 2, 1]  # published ids are result ids + 1
    assert [r[5] for r in rows] == [7, 1, 7, 5]
    assert [r[6] for r in rows] == [0.75, 0.0, 0.75, 0.5]
    assert rows[0][3] == rows[2][3] != rows[3][3] != rows[1][3]  # same instance, same colour


def test_instance_array_carries_records_and_input_indices():
    _, labelled = two_instance_labelled()
    msg = labelled_to_instances(Header(frame_id="cam"), labelled)
    assert [i.id for i in msg.instances] == [1, 2]
    chair, table = msg.instances
    assert (chair.class_id, chair.class_name, chair.point_count) == (5, "chair", 1)
    assert list(chair.point_indices) == [4]
    assert list(table.point_indices) == [0, 3]  # indices into the 2 x 3 input, holes counted
    assert table.score == pytest.approx(0.75) and table.occupancy_ratio == pytest.approx(1.0)
    assert (table.box_center.x, table.box_center.y, table.box_center.z) == (0.0, 0.5, 1.0)
    assert (table.box_size.x, table.box_size.y, table.box_size.z) == (0.0, 1.0, 0.0)
    assert (table.centroid.y, chair.predicted_occupancy) == (0.5, 2.0)


def test_markers_delete_all_first_then_one_box_and_label_per_instance():
    _, labelled = two_instance_labelled()
    markers = labelled_to_markers(Header(frame_id="cam"), labelled).markers
    assert markers[0].action == Marker.DELETEALL and len(markers) == 5
    keys = [(m.ns, m.id) for m in markers]
    assert len(set(keys)) == len(keys)
    boxes = [m for m in markers if m.ns == "boxes"]
    labels = [m for m in markers if m.ns == "labels"]
    assert [m.id for m in boxes] == [1, 2] and [m.id for m in labels] == [1, 2]
    table_box = boxes[1]
    assert table_box.type == Marker.LINE_LIST and len(table_box.points) == 24
    ys = {p.y for p in table_box.points}
    assert ys == {0.0, 1.0} and table_box.color.a == 1.0 and table_box.header.frame_id == "cam"
    assert labels[1].text.startswith("table 2") and labels[1].type == Marker.TEXT_VIEW_FACING


def test_no_instances_still_publishes_deleteall_and_an_all_zero_id_cloud():
    cloud, _ = two_instance_labelled()
    result = SegmentationResult(
        instance_ids=np.full(4, -1), semantic_ids=np.zeros(4, np.int64), instances=(),
        timings_s={}, class_names={},
    )  # fmt: skip
    labelled = label_cloud(cloud, result)
    assert [m.action for m in labelled_to_markers(Header(), labelled).markers] == [
        Marker.DELETEALL
    ]
    assert labelled_to_instances(Header(), labelled).instances == []
    cloud_msg = labelled_to_cloud(Header(), labelled)
    ids = np.frombuffer(bytes(cloud_msg.data), np.uint8).reshape(4, 28)[:, 16:20].view("<u4")
    np.testing.assert_array_equal(ids.ravel(), 0)


def test_zero_points_give_the_three_empty_outputs():
    """What the map node publishes after ~/reset: RViz must drop the old cloud and markers."""
    none = np.empty(0, np.int64)
    labelled = LabelledCloud(xyz=np.empty((0, 3), np.float32), source_indices=none,
                             instance_index=none, semantic_ids=none, instances=(),
                             published_ids=none)  # fmt: skip
    header = Header(frame_id="map")
    cloud = labelled_to_cloud(header, labelled)
    _, two = two_instance_labelled()
    assert (cloud.width, cloud.height, len(cloud.data), cloud.header.frame_id) == (0, 1, 0, "map")
    assert cloud.fields == labelled_to_cloud(header, two).fields
    assert labelled_to_instances(header, labelled).instances == []
    assert [m.action for m in labelled_to_markers(header, labelled).markers] == [Marker.DELETEALL]
