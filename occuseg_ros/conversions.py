"""PointCloud2 -> Scene, and segmentation results -> the three output messages.

Pure functions on messages and numpy arrays, no Node: the nodes and `occuseg bag` share them,
and tests call them on hand-filled messages. Instance ids on the wire start at 1 (0 is "no
instance" in the `instance_id` point field); the nodes decide which id each instance gets.
"""

from __future__ import annotations

import array
import colorsys
from dataclasses import dataclass, replace

import numpy as np
from geometry_msgs.msg import Point, Vector3
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from occuseg_core.data.voxelize import voxel_cells
from occuseg_core.types import InstanceRecord, Scene, SegmentationResult
from occuseg_ros.msg import Instance, InstanceArray
from occuseg_ros.pointcloud import CloudArrays, CloudError, make_cloud, pack_rgb, read_cloud

NO_INSTANCE_RGB = (90, 90, 90)


@dataclass(frozen=True, eq=False)
class CloudScene:
    """The valid points of an input cloud as a `Scene`, and how they map back.

    Args:
        scene: what the Segmenter sees (downsampled when the cloud was too large).
        source_indices: (K,) int64 row-major index in the input cloud of each valid point.
        xyz: (K,) x 3 float32 positions of the valid points (full resolution).
        point_to_scene: (K,) int64 scene point of each valid point; None = the identity.
        num_input_points: width * height of the input.
        num_out_of_range: finite points dropped for lying beyond max_range_m.
    """

    scene: Scene
    source_indices: np.ndarray
    xyz: np.ndarray
    point_to_scene: np.ndarray | None
    num_input_points: int
    num_out_of_range: int = 0

    @property
    def downsampled(self) -> bool:
        return self.point_to_scene is not None


def scene_from_cloud(
    msg: PointCloud2, *, max_input_points: int, max_points: int, voxel_size_m: float,
    max_range_m: float,
) -> CloudScene:  # fmt: skip
    """Reads a cloud, drops holes and far points, and voxel-downsamples it when it has more
    than max_points points.

    Args:
        msg: any PointCloud2 layout `read_cloud` accepts.
        max_input_points: larger clouds are refused (CloudError "too_large").
        max_points: larger valid clouds are averaged per cell of a grid, starting at
            voxel_size_m and growing by 1.5x until at most max_points cells remain.
        voxel_size_m: the Segmenter's voxel size.
        max_range_m: points farther from the frame's origin are dropped (and counted).

    Raises:
        CloudError: as `read_cloud` and `usable_points`.
    """
    arrays = read_cloud(msg, max_points=max_input_points)
    mask, out_of_range = usable_points(arrays, max_range_m)
    if mask.all():  # the usual unorganized cloud: no copies
        valid, xyz, colors = np.arange(mask.size), arrays.xyz, arrays.colors
    else:
        valid = np.flatnonzero(mask)
        xyz, colors = arrays.xyz[valid], arrays.colors[valid]
    point_to_scene = None
    if valid.size > max_points:
        point_to_scene, xyz_cells, colors_cells = downsample(xyz, colors, max_points, voxel_size_m)
        scene = Scene(xyz=xyz_cells, colors=colors_cells, name=msg.header.frame_id or "cloud")
    else:
        scene = Scene(xyz=xyz, colors=colors, name=msg.header.frame_id or "cloud")
    return CloudScene(scene=scene, source_indices=valid, xyz=xyz, point_to_scene=point_to_scene,
                      num_input_points=arrays.xyz.shape[0],
                      num_out_of_range=out_of_range)  # fmt: skip


def usable_points(arrays: CloudArrays, max_range_m: float) -> tuple[np.ndarray, int]:
    """The points to segment: x, y, z finite and at most max_range_m from the frame's origin.

    Returns:
        (N,) bool mask, and how many finite points it drops for lying farther.

    Raises:
        CloudError: "out_of_range" when every finite point lies beyond max_range_m,
            "no_valid_points" when no point is finite; the message gives both counts.
    """
    mask = arrays.in_range_mask(max_range_m)
    if mask.all():
        return mask, 0
    total, kept = mask.size, int(np.count_nonzero(mask))
    finite = int(np.count_nonzero(np.isfinite(arrays.xyz).all(axis=1)))
    if kept == 0 and finite > 0:
        raise CloudError(
            "out_of_range",
            f"all {finite} finite points lie farther than max_range_m={max_range_m:g} m from"
            f" the frame's origin ({total - finite} of {total} points are not finite)",
        )
    if kept == 0:
        raise CloudError("no_valid_points", f"none of the {total} points has finite x, y, z")
    return mask, finite - kept


def downsample(
    xyz: np.ndarray, colors: np.ndarray, max_points: int, voxel_size_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Averages points per grid cell, coarsening the grid until at most max_points cells remain.

    Returns:
        (K,) int64 cell of each point, (C, 3) float32 mean position, (C, 3) float32 mean colour.
    """
    cell_m = voxel_size_m
    while True:
        _, point_to_cell = voxel_cells(xyz, cell_m)
        num_cells = int(point_to_cell.max()) + 1
        if num_cells <= max_points:
            break
        cell_m *= 1.5
    counts = np.bincount(point_to_cell, minlength=num_cells).astype(np.float64)[:, None]

    def mean(values: np.ndarray) -> np.ndarray:
        sums = [np.bincount(point_to_cell, values[:, c], num_cells) for c in range(3)]
        return (np.stack(sums, axis=1) / counts).astype(np.float32)

    return point_to_cell, mean(xyz), np.clip(mean(colors), 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class LabelledCloud:
    """Segmented points ready to publish.

    Args:
        xyz: (K, 3) float32 valid points, message frame.
        source_indices: (K,) int64 index of each point in the segmented cloud (input or map).
        instance_index: (K,) int64 index into `instances`, -1 = no instance.
        semantic_ids: (K,) int64 dataset class id of each point (0 = unknown).
        instances: the instances (their `id` fields are ignored; see `published_ids`).
        published_ids: (M,) int64 id sent for each instance, >= 1.
    """

    xyz: np.ndarray
    source_indices: np.ndarray
    instance_index: np.ndarray
    semantic_ids: np.ndarray
    instances: tuple[InstanceRecord, ...]
    published_ids: np.ndarray

    def point_ids(self) -> np.ndarray:
        """(K,) uint32 published instance id of each point, 0 = none."""
        table = np.append(self.published_ids, 0).astype(np.uint32)
        return table[np.where(self.instance_index >= 0, self.instance_index, len(self.instances))]

    def point_scores(self) -> np.ndarray:
        """(K,) float32 score of each point's instance, 0 = none."""
        table = np.array([i.score for i in self.instances] + [0.0], dtype=np.float32)
        return table[np.where(self.instance_index >= 0, self.instance_index, len(self.instances))]

    def members(self) -> list[np.ndarray]:
        """Per instance, the sorted source indices (uint32) of its points."""
        # source_indices ascend, and a stable sort keeps that order inside each instance;
        # int16 keys let numpy use its radix sort (a few ms for 200k points)
        keys = self.instance_index
        if len(self.instances) < np.iinfo(np.int16).max:
            keys = keys.astype(np.int16)
        order = np.argsort(keys, kind="stable")
        bounds = np.searchsorted(keys[order], np.arange(len(self.instances) + 1))
        sources = self.source_indices[order].astype(np.uint32)
        return [sources[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]


def label_cloud(cloud: CloudScene, result: SegmentationResult) -> LabelledCloud:
    """Carries a result on `cloud.scene` back to every valid input point; ids become 1..M.

    When the cloud was downsampled, each point takes its cell's labels and the instances'
    point counts, centroids and boxes are recomputed from the full-resolution points.
    """
    instance_index, semantic = result.instance_ids, result.semantic_ids
    instances = result.instances
    if cloud.point_to_scene is not None:
        instance_index = instance_index[cloud.point_to_scene]
        semantic = semantic[cloud.point_to_scene]
        instances = recompute_geometry(cloud.xyz, instance_index, instances)
    return LabelledCloud(
        xyz=cloud.xyz, source_indices=cloud.source_indices, instance_index=instance_index,
        semantic_ids=semantic, instances=instances,
        published_ids=np.arange(1, len(instances) + 1, dtype=np.int64),
    )  # fmt: skip


def recompute_geometry(
    xyz: np.ndarray, instance_index: np.ndarray, instances: tuple[InstanceRecord, ...]
) -> tuple[InstanceRecord, ...]:
    """Instances with point_count, centroid and box taken from (xyz, instance_index)."""
    out = []
    for k, record in enumerate(instances):
        points = xyz[instance_index == k].astype(np.float64)
        if len(points) == 0:
            out.append(replace(record, point_count=0))
            continue
        out.append(replace(
            record, point_count=len(points), centroid_m=_triple(points.mean(axis=0)),
            box_min_m=_triple(points.min(axis=0)), box_max_m=_triple(points.max(axis=0)),
        ))  # fmt: skip
    return tuple(out)


def _triple(values: np.ndarray) -> tuple[float, float, float]:
    return (float(values[0]), float(values[1]), float(values[2]))


def instance_color(instance_id: int) -> tuple[int, int, int]:
    """A distinct, stable colour per id (golden-ratio hue steps), uint8 RGB."""
    hue = (instance_id * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.95)
    return (round(r * 255), round(g * 255), round(b * 255))


def palette(published_ids: np.ndarray) -> np.ndarray:
    """(M + 1, 3) uint8: the colour of each instance, then the no-instance grey."""
    colors = [instance_color(int(i)) for i in published_ids] + [NO_INSTANCE_RGB]
    return np.array(colors, dtype=np.uint8)


def labelled_to_cloud(header: Header, labelled: LabelledCloud) -> PointCloud2:
    """`instances/points`: x, y, z, rgb (instance colour), instance_id, semantic_id, score."""
    colors = palette(labelled.published_ids)
    index = np.where(labelled.instance_index >= 0, labelled.instance_index,
                     len(labelled.instances))  # fmt: skip
    return make_cloud(header, {
        "xyz": labelled.xyz.astype(np.float32, copy=False),
        "rgb": pack_rgb(colors)[index],
        "instance_id": labelled.point_ids(),
        "semantic_id": labelled.semantic_ids.astype(np.uint32),
        "score": labelled.point_scores(),
    })  # fmt: skip


def labelled_to_instances(header: Header, labelled: LabelledCloud) -> InstanceArray:
    """`instances`: one Instance per instance, with its point indices."""
    out = InstanceArray(header=header)
    members = labelled.members()
    for record, published_id, indices in zip(
        labelled.instances, labelled.published_ids, members, strict=True
    ):
        center, size = record.box_center_m, record.box_size_m
        point_indices = array.array("I")
        point_indices.frombytes(indices.tobytes())
        out.instances.append(Instance(
            id=int(published_id), class_id=int(record.class_id), class_name=record.class_name,
            score=float(record.score), point_count=int(record.point_count),
            voxel_count=int(record.voxel_count),
            predicted_occupancy=float(record.predicted_occupancy),
            occupancy_ratio=float(record.occupancy_ratio),
            centroid=Point(x=record.centroid_m[0], y=record.centroid_m[1], z=record.centroid_m[2]),
            box_center=Point(x=center[0], y=center[1], z=center[2]),
            box_size=Vector3(x=size[0], y=size[1], z=size[2]), point_indices=point_indices,
        ))  # fmt: skip
    return out


BOX_EDGES = [(0, 1), (2, 3), (4, 5), (6, 7), (0, 2), (1, 3), (4, 6), (5, 7),
             (0, 4), (1, 5), (2, 6), (3, 7)]  # fmt: skip
"""Corner pairs of a box whose corner k has bit 0/1/2 = x/y/z at max."""


def labelled_to_markers(header: Header, labelled: LabelledCloud, *, line_width_m: float = 0.02,
                        text_height_m: float = 0.12) -> MarkerArray:  # fmt: skip
    """`instances/markers`: DELETEALL, then per instance a wireframe box and a text label.

    The boxes live in namespace "boxes", the labels in "labels", both with marker id = the
    published instance id, so RViz can toggle each namespace.
    """
    markers = [Marker(header=header, ns="", id=0, action=Marker.DELETEALL)]
    for record, published_id in zip(labelled.instances, labelled.published_ids, strict=True):
        rgb = instance_color(int(published_id))
        color = ColorRGBA(r=rgb[0] / 255.0, g=rgb[1] / 255.0, b=rgb[2] / 255.0, a=1.0)
        lo, hi = record.box_min_m, record.box_max_m
        corners = [Point(x=(hi if k & 1 else lo)[0], y=(hi if k & 2 else lo)[1],
                         z=(hi if k & 4 else lo)[2]) for k in range(8)]  # fmt: skip
        box = Marker(header=header, ns="boxes", id=int(published_id), type=Marker.LINE_LIST,
                     action=Marker.ADD, color=color)  # fmt: skip
        box.pose.orientation.w = 1.0
        box.scale.x = line_width_m
        box.points = [corners[k] for edge in BOX_EDGES for k in edge]
        label = Marker(
            header=header,
            ns="labels",
            id=int(published_id),
            type=Marker.TEXT_VIEW_FACING,
            action=Marker.ADD,
            color=color,
            text=f"{record.class_name} {int(published_id)} ({record.score:.2f})",
        )
        label.pose.position = Point(x=record.box_center_m[0], y=record.box_center_m[1],
                                    z=hi[2] + text_height_m)  # fmt: skip
        label.pose.orientation.w = 1.0
        label.scale.z = text_height_m
        markers += [box, label]
    return MarkerArray(markers=markers)
