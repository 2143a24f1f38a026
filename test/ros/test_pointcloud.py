"""PointCloud2 reading and writing on hand-packed messages (struct, not our own writer)."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import Header

from occuseg_ros.pointcloud import CloudError, make_cloud, pack_rgb, read_cloud

pytestmark = pytest.mark.ros

F32, F64, U8, U32, I16 = (PointField.FLOAT32, PointField.FLOAT64, PointField.UINT8,
                          PointField.UINT32, PointField.INT16)  # fmt: skip


def cloud(fields, step, rows, *, height=1, width=None, row_pad=0, big=False) -> PointCloud2:
    """A PointCloud2 whose data is the concatenation of `rows` (bytes per point)."""
    width = len(rows) // height if width is None else width
    row_step = width * step + row_pad
    data = b""
    for r in range(height):
        data += b"".join(rows[r * width : (r + 1) * width]) + b"\0" * row_pad
    return PointCloud2(
        header=Header(frame_id="cam"), height=height, width=width, is_bigendian=big,
        fields=[PointField(name=n, offset=o, datatype=t, count=1) for n, o, t in fields],
        point_step=step, row_step=row_step, data=data, is_dense=False,
    )  # fmt: skip


def pcl_xyzrgb(x, y, z, r, g, b, alpha=255) -> bytes:
    """PCL PointXYZRGB: x, y, z float32, 4 pad bytes, rgb (B, G, R, A bytes) at 16, step 32."""
    return struct.pack("<fff4xBBBB12x", x, y, z, b, g, r, alpha)


def test_pcl_xyzrgb_with_alpha_gives_exact_colours_even_when_the_float_is_nan():
    """R = 200 with alpha 255 makes the rgb float32 a NaN: colour must still be (200, 10, 30)."""
    msg = cloud(
        [("x", 0, F32), ("y", 4, F32), ("z", 8, F32), ("rgb", 16, F32)],
        32,
        [pcl_xyzrgb(1.0, 2.0, 3.0, 200, 10, 30), pcl_xyzrgb(-1.5, 0.25, 4.0, 0, 255, 7)],
    )
    (rgb_float,) = struct.unpack_from("<f", bytes(msg.data), 16)
    assert math.isnan(rgb_float)
    arrays = read_cloud(msg, max_points=100)
    np.testing.assert_array_equal(arrays.xyz, [[1.0, 2.0, 3.0], [-1.5, 0.25, 4.0]])
    np.testing.assert_array_equal(np.round(arrays.colors * 255), [[200, 10, 30], [0, 255, 7]])
    assert arrays.has_color


def test_organized_cloud_with_nan_holes_and_row_padding_keeps_row_major_indices():
    """2 x 3 depth image, 4 pad bytes per row; hole at (row 0, col 1) and (row 1, col 2)."""
    nan = float("nan")
    pts = [(0, 0, 1), (nan, nan, nan), (2, 0, 1), (0, 1, 1), (1, 1, 1), (nan, nan, nan)]
    rows = [struct.pack("<fff4x", *p) for p in pts]
    msg = cloud([("x", 0, F32), ("y", 4, F32), ("z", 8, F32)], 16, rows, height=2, row_pad=4)
    assert msg.row_step == 52 and len(msg.data) == 104
    arrays = read_cloud(msg, max_points=100)
    assert (arrays.height, arrays.width) == (2, 3)
    np.testing.assert_array_equal(np.flatnonzero(arrays.in_range_mask(1e4)), [0, 2, 3, 4])
    np.testing.assert_array_equal(arrays.xyz[4], [1, 1, 1])
    assert not arrays.has_color
    np.testing.assert_array_equal(arrays.colors, np.full((6, 3), 0.5, np.float32))


def test_big_endian_float64_with_separate_uint8_rgb():
    rows = [struct.pack(">dddBBB5x", 1.5, -2.0, 1e3, 9, 8, 7),
            struct.pack(">dddBBB5x", 0.0, 0.125, -3.0, 255, 0, 128)]  # fmt: skip
    msg = cloud([("x", 0, F64), ("y", 8, F64), ("z", 16, F64), ("r", 24, U8), ("g", 25, U8),
                 ("b", 26, U8)], 32, rows, big=True)  # fmt: skip
    arrays = read_cloud(msg, max_points=100)
    assert arrays.xyz.dtype == np.float32
    np.testing.assert_array_equal(arrays.xyz, [[1.5, -2.0, 1e3], [0.0, 0.125, -3.0]])
    np.testing.assert_array_equal(np.round(arrays.colors * 255), [[9, 8, 7], [255, 0, 128]])


def test_packed_unaligned_layout_with_rgba_uint32():
    """x, y, z then rgba UINT32 at byte 13 after a 1-byte label (Autoware-style packing)."""
    rows = [struct.pack("<fffBI", 0.5, 1.0, 1.5, 3, 0x80102030)]
    msg = cloud([("x", 0, F32), ("y", 4, F32), ("z", 8, F32), ("label", 12, U8),
                 ("rgba", 13, U32)], 17, rows)  # fmt: skip
    arrays = read_cloud(msg, max_points=10)
    np.testing.assert_array_equal(arrays.xyz, [[0.5, 1.0, 1.5]])
    np.testing.assert_array_equal(np.round(arrays.colors * 255), [[0x10, 0x20, 0x30]])


def test_float_rgb_channels_in_zero_one():
    rows = [struct.pack("<ffffff", 0, 0, 0, 1.0, 0.5, 0.0)]
    fields = [(n, 4 * i, F32) for i, n in enumerate(["x", "y", "z", "r", "g", "b"])]
    arrays = read_cloud(cloud(fields, 24, rows), max_points=10)
    np.testing.assert_allclose(arrays.colors, [[1.0, 0.5, 0.0]])


XYZ = [("x", 0, F32), ("y", 4, F32), ("z", 8, F32)]
ONE = [struct.pack("<fff", 1, 2, 3)]


@pytest.mark.parametrize(
    ("msg", "reason"),
    [
        (cloud(XYZ, 12, []), "empty"),
        (cloud(XYZ[:2], 12, ONE), "missing_field"),
        (cloud([("x", 0, I16), ("y", 4, F32), ("z", 8, F32)], 12, ONE), "unsupported_datatype"),
        (cloud([("x", 0, 9), ("y", 4, F32), ("z", 8, F32)], 12, ONE), "unsupported_datatype"),
        (cloud([("x", 0, F32), ("y", 4, F32), ("z", 10, F32)], 12, ONE), "bad_layout"),
        (cloud(XYZ, 12, [ONE[0][:-1]]), "bad_layout"),
        (cloud(XYZ, 12, ONE, width=2), "bad_layout"),
        (cloud(XYZ, 12, ONE * 11), "too_large"),
    ],
    ids=[
        "empty",
        "no-z",
        "int16-x",
        "datatype-9",
        "field-past-step",
        "short-data",
        "width-lies",
        "too-many-points",
    ],  # fmt: skip
)
def test_malformed_clouds_raise_cloud_error_with_reason(msg, reason):
    with pytest.raises(CloudError) as error:
        read_cloud(msg, max_points=10)
    assert error.value.reason == reason


def test_absurd_declared_size_is_refused_before_touching_data():
    msg = cloud(XYZ, 12, ONE)
    msg.height, msg.width = 1 << 20, 1 << 20
    with pytest.raises(CloudError) as error:
        read_cloud(msg, max_points=10_000_000)
    assert error.value.reason == "too_large"


def test_make_cloud_layout_matches_struct_unpack(rng):
    xyz = rng.normal(size=(5, 3)).astype(np.float32)
    rgb = rng.integers(0, 256, size=(5, 3)).astype(np.uint8)
    ids = np.array([0, 1, 1, 2, 0], dtype=np.uint32)
    msg = make_cloud(
        Header(frame_id="map"), {"xyz": xyz, "rgb": pack_rgb(rgb), "instance_id": ids}
    )
    assert [(f.name, f.offset, f.datatype) for f in msg.fields] == [
        ("x", 0, F32), ("y", 4, F32), ("z", 8, F32), ("rgb", 12, F32), ("instance_id", 16, U32)
    ]  # fmt: skip
    assert (msg.point_step, msg.row_step, msg.width, msg.height) == (20, 100, 5, 1)
    assert msg.is_dense and not msg.is_bigendian and msg.header.frame_id == "map"
    for i in range(5):
        x, y, z, b, g, r, a, inst = struct.unpack_from("<fffBBBBI", bytes(msg.data), 20 * i)
        np.testing.assert_array_equal([x, y, z], xyz[i])
        assert (r, g, b, a, inst) == (*rgb[i], 0, ids[i])
    back = read_cloud(msg, max_points=10)
    np.testing.assert_array_equal(back.xyz, xyz)
    np.testing.assert_array_equal(np.round(back.colors * 255), rgb)


@pytest.mark.parametrize("columns", [
    {"xyz": np.empty((0, 3), np.float32)},
    {"xyz": np.empty((0, 3), np.float32), "rgb": np.empty(0, np.uint32),
     "score": np.empty(0, np.float64)},
    {"xyz": np.empty((0, 3), np.float64), "flag": np.empty(0, np.uint8)},
], ids=["xyz", "xyz-rgb-score", "float64-uint8"])  # fmt: skip
def test_make_cloud_with_zero_points_keeps_the_fields(columns):
    """0 points is the emptied map's cloud (issue 15): width 0, no data, the usual fields."""
    msg = make_cloud(Header(frame_id="map"), columns)
    full = make_cloud(Header(), {k: np.zeros((2, *v.shape[1:]), v.dtype)
                                 for k, v in columns.items()})  # fmt: skip
    assert (msg.width, msg.height, msg.row_step, len(msg.data)) == (0, 1, 0, 0)
    assert msg.fields == full.fields and msg.point_step == full.point_step
    with pytest.raises(CloudError) as error:
        read_cloud(msg, max_points=10)
    assert error.value.reason == "empty"


@pytest.mark.parametrize("datatype", [0, 9, 99, 255])
def test_unknown_datatype_in_a_field_we_do_not_read_is_accepted(datatype):
    """x, y, z, then an `intensity` of a datatype PointField does not define; rgb after it."""
    fields = [*XYZ, ("intensity", 12, datatype), ("rgb", 16, U32)]
    rows = [struct.pack("<fff4sI", 1.0, 2.0, 3.0, b"\xff" * 4, 0x0A141E)] * 2
    arrays = read_cloud(cloud(fields, 20, rows), max_points=10)
    np.testing.assert_array_equal(arrays.xyz, [[1, 2, 3]] * 2)
    np.testing.assert_array_equal(np.round(arrays.colors * 255), [[10, 20, 30]] * 2)


def test_unknown_datatype_in_a_colour_channel_leaves_the_cloud_grey():
    fields = [*XYZ, ("r", 12, U8), ("g", 13, 99), ("b", 14, U8)]
    arrays = read_cloud(
        cloud(fields, 16, [struct.pack("<fffBBBx", 1, 2, 3, 9, 9, 9)]), max_points=1
    )
    assert not arrays.has_color and (arrays.colors == 0.5).all()


@pytest.mark.parametrize("name", ["x", "z", "rgb"])
def test_a_repeated_field_we_read_is_refused_by_name(name):
    fields = [*XYZ, ("rgb", 12, U32), (name, 16, F32 if name != "rgb" else U32)]
    msg = cloud(fields, 20, [struct.pack("<fffIf", 1, 2, 3, 0, 4)])
    with pytest.raises(CloudError, match=f"field '{name}' appears more than once") as error:
        read_cloud(msg, max_points=10)
    assert error.value.reason == "bad_layout"


def test_repeated_padding_fields_we_do_not_read_are_left_alone():
    fields = [*XYZ, ("_", 12, U8), ("_", 13, U8)]
    msg = cloud(fields, 16, [struct.pack("<fff4x", 1, 2, 3)])
    np.testing.assert_array_equal(read_cloud(msg, max_points=1).xyz, [[1, 2, 3]])
