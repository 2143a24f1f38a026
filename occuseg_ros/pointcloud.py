"""sensor_msgs/PointCloud2 <-> numpy: reads any field layout, writes our output layout.

Reading honours point_step, row_step, field offsets, both byte orders and organized clouds
(height > 1, NaN holes). Every malformed message raises `CloudError` with a short `reason`
that the nodes count in their diagnostics; nothing here logs or touches a node.
"""

from __future__ import annotations

import array
from dataclasses import dataclass

import numpy as np
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import Header

# PointField datatype id -> numpy type (sizes 1, 1, 2, 2, 4, 4, 4, 8 bytes).
FIELD_TYPES: dict[int, np.dtype] = {
    PointField.INT8: np.dtype(np.int8),
    PointField.UINT8: np.dtype(np.uint8),
    PointField.INT16: np.dtype(np.int16),
    PointField.UINT16: np.dtype(np.uint16),
    PointField.INT32: np.dtype(np.int32),
    PointField.UINT32: np.dtype(np.uint32),
    PointField.FLOAT32: np.dtype(np.float32),
    PointField.FLOAT64: np.dtype(np.float64),
}
NUMPY_TO_FIELD: dict[np.dtype, int] = {dtype: code for code, dtype in FIELD_TYPES.items()}
POSITION_TYPES = (PointField.FLOAT32, PointField.FLOAT64)
PACKED_COLOR_TYPES = (PointField.FLOAT32, PointField.UINT32, PointField.INT32)
READ_FIELDS = ("x", "y", "z", "rgb", "rgba", "r", "g", "b")
GRAY = 0.5


class CloudError(ValueError):
    """A PointCloud2 that cannot be read.

    Args:
        reason: short category for counters: empty, too_large, bad_layout, missing_field,
            unsupported_datatype, no_valid_points, out_of_range.
        message: what exactly is wrong.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, eq=False)
class CloudArrays:
    """The points of a PointCloud2 in row-major order (index = row * width + column).

    Args:
        xyz: (N, 3) float32 positions in the message's frame, NaN/inf where the sensor had none.
        colors: (N, 3) float32 RGB in 0..1 (GRAY where the cloud has no colour).
        has_color: whether the cloud carried colour (rgb, rgba or r, g, b).
        height: rows (1 = unorganized).
        width: points per row.
    """

    xyz: np.ndarray
    colors: np.ndarray
    has_color: bool
    height: int
    width: int

    def in_range_mask(self, max_range_m: float) -> np.ndarray:
        """(N,) bool: x, y, z finite and at most max_range_m from the frame's origin."""
        with np.errstate(over="ignore", invalid="ignore"):  # 1e30 squares to inf: too far
            squared = np.einsum("ij,ij->i", self.xyz, self.xyz)
        return squared <= np.float32(max_range_m) ** 2  # NaN and inf compare false


def read_cloud(msg: PointCloud2, *, max_points: int) -> CloudArrays:
    """Reads positions and colour from any PointCloud2 layout.

    Args:
        msg: the cloud. x, y, z must be FLOAT32 or FLOAT64; colour is optional, as a packed
            `rgb`/`rgba` (FLOAT32/UINT32/INT32 bits 16-23 R, 8-15 G, 0-7 B) or as separate
            `r`, `g`, `b` fields (integers 0..255, or floats 0..1).
        max_points: clouds with more than width * height points are refused before reading.

    Fields other than these are never read: their datatype may be anything.

    Raises:
        CloudError: empty, absurdly large, inconsistent sizes, missing, repeated or
            unsupported fields.
    """
    height, width, step = int(msg.height), int(msg.width), int(msg.point_step)
    count = height * width
    if count == 0:
        raise CloudError("empty", f"cloud has no points (height {height}, width {width})")
    if count > max_points:
        raise CloudError("too_large", f"cloud has {count} points; the limit is {max_points}")
    fields = _fields_by_name(msg)
    _check_layout(msg, fields, height, width, step)
    order = ">" if msg.is_bigendian else "<"
    rows = _point_bytes(msg, height, width, step)
    xyz = np.empty((count, 3), dtype=np.float32)
    for axis, name in enumerate("xyz"):
        xyz[:, axis] = _column(rows, fields[name], order, step)
    colors, has_color = _colors(rows, fields, order, step, count)
    return CloudArrays(xyz=xyz, colors=colors, has_color=has_color, height=height, width=width)


def _fields_by_name(msg: PointCloud2) -> dict[str, PointField]:
    """Fields by name; a name we read that appears twice is refused (which one is meant?),
    other repeated names (PCL's "_" padding) are left alone."""
    fields: dict[str, PointField] = {}
    for f in msg.fields:
        if f.name in fields and f.name in READ_FIELDS:
            raise CloudError(
                "bad_layout", f"field {f.name!r} appears more than once (offsets"
                f" {fields[f.name].offset} and {f.offset})",
            )  # fmt: skip
        fields.setdefault(f.name, f)
    return fields


def _check_layout(msg: PointCloud2, fields: dict, height: int, width: int, step: int) -> None:
    missing = [name for name in "xyz" if name not in fields]
    if missing:
        names = ", ".join(fields) or "none"
        raise CloudError("missing_field", f"cloud lacks field(s) {missing}; it has {names}")
    for f in msg.fields:
        if f.datatype not in FIELD_TYPES:
            continue  # never read: x, y, z are checked below, colour needs a known type
        end = f.offset + FIELD_TYPES[f.datatype].itemsize * max(f.count, 1)
        if end > step:
            raise CloudError(
                "bad_layout", f"field {f.name!r} ends at byte {end}, past point_step {step}"
            )
    for name in "xyz":
        if fields[name].datatype not in POSITION_TYPES:
            raise CloudError(
                "unsupported_datatype",
                f"field {name!r} has datatype {fields[name].datatype}; x, y, z must be"
                " FLOAT32 (7) or FLOAT64 (8)",
            )
    if msg.row_step < width * step:
        raise CloudError(
            "bad_layout", f"row_step {msg.row_step} < width {width} * point_step {step}"
        )
    if len(msg.data) != msg.row_step * height:
        raise CloudError(
            "bad_layout",
            f"data has {len(msg.data)} bytes; row_step {msg.row_step} * height {height}"
            f" = {msg.row_step * height}",
        )


def _point_bytes(msg: PointCloud2, height: int, width: int, step: int) -> np.ndarray:
    """(N, point_step) uint8 view or copy of the points, row padding removed."""
    raw = np.frombuffer(msg.data, dtype=np.uint8)  # rclpy keeps uint8[] as array.array('B')
    if msg.row_step != width * step:
        raw = raw.reshape(height, msg.row_step)[:, : width * step]
    return raw.reshape(height * width, step)


def _column(rows: np.ndarray, field: PointField, order: str, step: int) -> np.ndarray:
    """(N,) values of the first element of one field, converted to native byte order."""
    dtype = FIELD_TYPES[field.datatype].newbyteorder(order)
    size = dtype.itemsize
    if rows.flags.c_contiguous and field.offset % size == 0 and step % size == 0:
        # fast path: a strided view straight into the message buffer
        return rows.reshape(-1).view(dtype)[field.offset // size :: step // size]
    return np.ascontiguousarray(rows[:, field.offset : field.offset + size]).view(dtype)[:, 0]


def _colors(
    rows: np.ndarray, fields: dict, order: str, step: int, count: int
) -> tuple[np.ndarray, bool]:
    packed = fields.get("rgb") or fields.get("rgba")
    if packed is not None and packed.datatype in PACKED_COLOR_TYPES:
        # Reinterpret the 4 bytes as uint32: never convert a FLOAT32 rgb's value (it may be NaN).
        bits = _column(rows, _with_type(packed, PointField.UINT32), order, step)
        channels = [(bits >> shift) & 0xFF for shift in (16, 8, 0)]
        return np.stack(channels, axis=1).astype(np.float32) / 255.0, True
    if all(name in fields and fields[name].datatype in FIELD_TYPES for name in "rgb"):
        colors = np.stack([_column(rows, fields[c], order, step) for c in "rgb"], axis=1)
        colors = colors.astype(np.float32)
        is_float = all(fields[c].datatype in POSITION_TYPES for c in "rgb")
        if not is_float or np.nanmax(colors, initial=0.0) > 1.0:
            colors /= 255.0
        return np.nan_to_num(np.clip(colors, 0.0, 1.0), nan=GRAY), True
    return np.full((count, 3), GRAY, dtype=np.float32), False


def _with_type(field: PointField, datatype: int) -> PointField:
    return PointField(name=field.name, offset=field.offset, datatype=datatype, count=1)


def pack_rgb(colors_u8: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 RGB -> (N,) uint32 packed as 0x00RRGGBB (the `rgb` field's bits)."""
    c = colors_u8.astype(np.uint32)
    return (c[:, 0] << 16) | (c[:, 1] << 8) | c[:, 2]


def make_cloud(header: Header, columns: dict[str, np.ndarray], *, height: int = 1) -> PointCloud2:
    """Builds a little-endian, densely packed PointCloud2 from named columns.

    Args:
        header: copied into the message (stamp and frame of the input, usually).
        columns: field name -> (N,) array of float32, float64, uint8..uint32 or int8..int32;
            an (N, 3) array named "xyz" becomes the fields x, y, z. A uint32 column named
            "rgb" is written as FLOAT32 bits, the form RViz and PCL expect.
        height: rows for an organized cloud (N must be a multiple of it).

    Returns:
        The message, with is_dense set to whether every x, y, z is finite.
    """
    columns = dict(columns)
    xyz = columns.pop("xyz", None)
    named = {}
    if xyz is not None:
        named.update({axis: xyz[:, i] for i, axis in enumerate("xyz")})
    named.update(columns)
    count = len(next(iter(named.values()))) if named else 0
    dtype_fields, fields, offset = [], [], 0
    for name, values in named.items():
        dtype = np.dtype(values.dtype).newbyteorder("<")
        code = PointField.FLOAT32 if name == "rgb" else NUMPY_TO_FIELD[np.dtype(values.dtype)]
        fields.append(PointField(name=name, offset=offset, datatype=code, count=1))
        dtype_fields.append((name, dtype))
        offset += dtype.itemsize
    # fill a (N, point_step) byte matrix column block by column block: much faster than
    # assigning the fields of a structured array
    sizes = {dtype.itemsize for _, dtype in dtype_fields}
    word = np.dtype(f"<u{sizes.pop()}") if len(sizes) == 1 else np.dtype(np.uint8)
    points = np.empty((count, offset // word.itemsize), dtype=word)
    for field, (name, dtype) in zip(fields, dtype_fields, strict=True):
        words = dtype.itemsize // word.itemsize  # explicit: reshape(0, -1) is ambiguous
        block = np.ascontiguousarray(named[name], dtype=dtype).view(word).reshape(count, words)
        start = field.offset // word.itemsize
        points[:, start : start + block.shape[1]] = block
    width = count // height if height else 0
    buffer = array.array("B")
    buffer.frombytes(points.reshape(-1).view(np.uint8).data)
    return PointCloud2(
        header=header, height=height, width=width, fields=fields, is_bigendian=False,
        point_step=offset, row_step=offset * width, data=buffer,
        is_dense=bool(xyz is None or np.isfinite(xyz).all()),
    )  # fmt: skip
