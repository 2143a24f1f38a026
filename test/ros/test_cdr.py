"""`occuseg_ros.cdr`: the padding of serialized messages is found and zeroed, nothing else."""

from __future__ import annotations

import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import Header

from occuseg_ros.cdr import zero_padding

pytestmark = pytest.mark.ros


def test_padding_of_a_hand_worked_point_cloud():
    """Body offsets (after the 4-byte encapsulation header), CDR aligns each value to its size:
    stamp 0-7, frame_id length 8-11 + "ab\\0" 12-14, pad 15; height 16-19, width 20-23,
    fields count 24-27; field name length 28-31 + "x\\0" 32-33, pad 34-35; offset 36-39,
    datatype 40, pad 41-43; count 44-47; is_bigendian 48, pad 49-51; point_step 52-55,
    row_step 56-59, data count 60-63, data 64-75, is_dense 76: 77 + 4 = 81 bytes."""
    msg = PointCloud2(
        header=Header(frame_id="ab"), height=1, width=3, point_step=4, row_step=12,
        fields=[PointField(name="x", offset=0, datatype=PointField.UINT8, count=1)],
        data=bytes(range(1, 13)), is_dense=True,
    )  # fmt: skip
    padding = [4 + i for i in (15, 34, 35, 41, 42, 43, 49, 50, 51)]
    dirty = bytearray(serialize_message(msg))
    assert len(dirty) == 81
    for i in padding:
        dirty[i] = 0xEE
    assert deserialize_message(bytes(dirty), PointCloud2) == msg  # they are padding
    clean = zero_padding(bytes(dirty), PointCloud2)
    assert [i for i in range(81) if clean[i] != dirty[i]] == padding
    assert all(clean[i] == 0 for i in padding)


def test_bytes_of_another_type_are_refused():
    data = serialize_message(Header(frame_id="a"))
    with pytest.raises(ValueError):
        zero_padding(data, PointCloud2)
