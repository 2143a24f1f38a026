"""Scenes as PCD (the Point Cloud Library's format, v0.7): clouds from PCL tools and ROS bags.

Header lines: VERSION, FIELDS, SIZE, TYPE (I/U/F), COUNT, WIDTH, HEIGHT, VIEWPOINT, POINTS, DATA
(ascii, binary or binary_compressed: LZF over the fields stored one after another). Fields read:
x y z (required); `rgb` (float32 or uint32) or `rgba` (uint32) holding 0xAARRGGBB as PCL packs
it; normal_x normal_y normal_z; `semantic` and `instance` labels (our writer's names); `label`
(PCL's segment id, e.g. PointXYZRGBL) as the instance id when there is no `instance` field.
Other fields, padding `_` and fields with COUNT > 1 are skipped. VIEWPOINT is not applied: points
stay in the sensor frame, as PCL loads them. Organized clouds (HEIGHT > 1) have NaN points where
the sensor saw nothing; those are dropped, so the order of the remaining points is the row-major
file order with the holes removed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from occuseg_core.errors import OccusegError
from occuseg_core.io._files import format_ascii_table, read_file_bytes, write_file_atomically
from occuseg_core.types import Scene

MAX_HEADER_BYTES = 1 << 20
DATA_KINDS = ("ascii", "binary", "binary_compressed")
_TYPE_CODES = {("I", 1): "i1", ("I", 2): "i2", ("I", 4): "i4", ("I", 8): "i8"}
_TYPE_CODES |= {("U", 1): "u1", ("U", 2): "u2", ("U", 4): "u4", ("U", 8): "u8"}
_TYPE_CODES |= {("F", 4): "f4", ("F", 8): "f8"}
_NAME_COMMENT = "occuseg_scene_name"
_KEYS = ("VERSION", "FIELDS", "SIZE", "TYPE", "COUNT", "WIDTH", "HEIGHT", "VIEWPOINT", "POINTS")


@dataclass(frozen=True)
class PcdField:
    """One PCD field: `name`, numpy type code (e.g. "f4") and COUNT (values per point)."""

    name: str
    code: str
    count: int = 1


@dataclass(frozen=True)
class PcdHeader:
    """A parsed PCD header; `body_offset` is the byte after the DATA line, `comments` the text
    of the `#` lines."""

    fields: tuple[PcdField, ...]
    width: int
    height: int
    points: int
    data: str
    body_offset: int
    comments: tuple[str, ...] = ()


def _header_entries(data: bytes, where: str) -> tuple[dict[str, list[str]], int]:
    entries, pos = {"#": []}, 0
    while "DATA" not in entries:
        end = data.find(b"\n", pos, MAX_HEADER_BYTES)
        if end < 0:
            raise OccusegError(f"{where}: PCD header has no DATA line (in its first MiB)")
        line, pos = data[pos:end].decode("latin-1").strip(), end + 1  # latin-1 never fails
        words = line.split()
        if words and words[0].startswith("#"):
            entries["#"].append(line[1:].strip())
            continue
        if not words:
            continue
        key = "FIELDS" if words[0] == "COLUMNS" else words[0]
        if key not in (*_KEYS, "DATA"):
            raise OccusegError(f"{where}: unknown PCD header line {line!r}")
        entries[key] = words[1:]
    return entries, pos


def _ints(entries: dict, key: str, where: str, default: list[int] | None = None) -> list[int]:
    if key not in entries:
        if default is None:
            raise OccusegError(f"{where}: PCD header has no {key} line")
        return default
    try:
        return [int(word) for word in entries[key]]
    except ValueError:
        raise OccusegError(f"{where}: PCD {key} must be integers; got {entries[key]}") from None


def _count(entries: dict, key: str, where: str, default: int) -> int:
    values = _ints(entries, key, where, [default])
    if len(values) != 1 or values[0] < 0:
        raise OccusegError(f"{where}: PCD {key} must be one integer >= 0; got {entries[key]}")
    return values[0]


def parse_pcd_header(data: bytes, where: str) -> PcdHeader:
    """Parses a PCD header (v0.5-0.7).

    Args:
        data: the whole file.
        where: file name used in error messages.

    Raises:
        OccusegError: no DATA line, missing FIELDS/SIZE/TYPE, length mismatches, unsupported
            type, WIDTH x HEIGHT != POINTS, or an unknown DATA kind.
    """
    entries, body_offset = _header_entries(data, where)
    names = entries.get("FIELDS") or []
    sizes, types = _ints(entries, "SIZE", where), entries.get("TYPE", [])
    counts = _ints(entries, "COUNT", where, [1] * len(names))
    if not names or not len(names) == len(sizes) == len(types) == len(counts):
        raise OccusegError(
            f"{where}: PCD FIELDS/SIZE/TYPE/COUNT disagree: {len(names)} fields, {len(sizes)}"
            f" sizes, {len(types)} types, {len(counts)} counts"
        )
    fields = []
    for name, size, kind, count in zip(names, sizes, types, counts, strict=True):
        if (kind, size) not in _TYPE_CODES or count < 1:
            raise OccusegError(f"{where}: unsupported PCD field {name!r}: TYPE {kind} SIZE {size}")
        fields.append(PcdField(name, _TYPE_CODES[kind, size], count))
    height = _count(entries, "HEIGHT", where, 1)
    width = _count(entries, "WIDTH", where, _count(entries, "POINTS", where, 0) // max(height, 1))
    points = _count(entries, "POINTS", where, width * height)
    if width * height != points:
        raise OccusegError(f"{where}: PCD WIDTH {width} x HEIGHT {height} != POINTS {points}")
    kind = (entries["DATA"] or [""])[0].lower()
    if kind not in DATA_KINDS:
        raise OccusegError(f"{where}: unsupported PCD DATA {kind!r} (expected {DATA_KINDS})")
    comments = tuple(entries["#"])
    return PcdHeader(tuple(fields), width, height, points, kind, body_offset, comments)


def _record_dtype(fields: tuple[PcdField, ...]) -> np.dtype:
    """Packed little-endian record; columns are named by position (padding `_` may repeat)."""
    return np.dtype([(f"f{i}", "<" + f.code, (f.count,)) for i, f in enumerate(fields)])


def _binary_columns(data: bytes, header: PcdHeader, where: str) -> list[np.ndarray]:
    dtype = _record_dtype(header.fields)
    need = header.points * dtype.itemsize
    if len(data) - header.body_offset < need:
        raise OccusegError(
            f"{where}: truncated PCD binary data: {header.points} points need {need} bytes,"
            f" {len(data) - header.body_offset} present"
        )
    records = np.frombuffer(data, dtype, header.points, header.body_offset)
    return [records[f"f{i}"] for i in range(len(header.fields))]


def _compressed_columns(data: bytes, header: PcdHeader, where: str) -> list[np.ndarray]:
    from occuseg_core.io.lzf import lzf_decompress  # numba only when a file needs it

    start = header.body_offset
    if len(data) < start + 8:
        raise OccusegError(f"{where}: truncated PCD binary_compressed data (no size words)")
    compressed_size, raw_size = struct.unpack_from("<II", data, start)
    if raw_size > header.points * _record_dtype(header.fields).itemsize:
        raise OccusegError(
            f"{where}: PCD binary_compressed data declares {raw_size} bytes, more than"
            f" {header.points} points of its fields hold"
        )
    if len(data) < start + 8 + compressed_size:
        raise OccusegError(
            f"{where}: truncated PCD binary_compressed data: {compressed_size} bytes declared,"
            f" {len(data) - start - 8} present"
        )
    try:
        raw = lzf_decompress(data[start + 8 : start + 8 + compressed_size], raw_size)
    except OccusegError as error:
        raise OccusegError(f"{where}: PCD binary_compressed data: {error}") from None
    columns, offset = [], 0
    for field in header.fields:  # field after field; PCL leaves the `_` padding out
        if field.name == "_":
            columns.append(None)
            continue
        dtype = np.dtype((np.dtype("<" + field.code), (field.count,)))
        if offset + header.points * dtype.itemsize > len(raw):
            raise OccusegError(f"{where}: PCD binary_compressed data too short for its fields")
        columns.append(np.frombuffer(raw, dtype, header.points, offset))
        offset += header.points * dtype.itemsize
    return columns


def _ascii_column(values: np.ndarray, field: PcdField, where: str) -> np.ndarray:
    if field.name in ("rgb", "rgba") and field.code in ("f4", "u4", "i4"):
        # PCL prints packed colours as integers even when TYPE is F; other writers print the
        # float whose bits hold the colour. Whole numbers >= 0 are taken as the packed integer,
        # anything else as that float.
        is_int = (values >= 0) & (values < 2**32) & (values == np.round(values))
        packed = np.where(is_int, values, 0).astype(np.uint32)
        packed[~is_int] = values[~is_int].astype(np.float32).view(np.uint32)
        return packed.view(field.code)  # the bits, in the declared type as binary files hold
    if field.code[0] != "f" and not np.array_equal(values, np.round(values)):
        raise OccusegError(f"{where}: non-integer value in integer PCD field {field.name!r}")
    return values.astype(field.code)


def _ascii_columns(data: bytes, header: PcdHeader, where: str) -> list[np.ndarray]:
    width = sum(f.count for f in header.fields)
    try:
        values = np.array(data[header.body_offset :].split(), dtype=np.float64)
    except ValueError as error:
        raise OccusegError(f"{where}: bad value in PCD ascii data ({error})") from None
    if len(values) < header.points * width:
        raise OccusegError(
            f"{where}: truncated PCD ascii data: {header.points} points x {width} values need"
            f" {header.points * width}, found {len(values)}"
        )
    table = values[: header.points * width].reshape(header.points, width)
    columns, col = [], 0
    for field in header.fields:
        block = table[:, col : col + field.count]
        columns.append(None if field.name == "_" else _ascii_column(block, field, where))
        col += field.count
    return columns


def _field_arrays(header: PcdHeader, columns: list) -> dict[str, np.ndarray]:
    """{name: (P,) array} for the single-valued fields (first occurrence of a name wins)."""
    arrays = {}
    for field, column in zip(header.fields, columns, strict=True):
        if column is not None and field.count == 1 and field.name not in arrays:
            arrays[field.name] = column.reshape(-1).astype(field.code)
    return arrays


def _unpack_colors(arrays: dict[str, np.ndarray], points: int) -> np.ndarray:
    packed = arrays.get("rgb", arrays.get("rgba"))
    if packed is None or packed.dtype.itemsize != 4:
        return np.full((points, 3), 0.5, np.float32)
    packed = packed.view(np.uint32)
    return np.stack([(packed >> s) & 0xFF for s in (16, 8, 0)], axis=1).astype(np.uint8)


def _label(arrays: dict[str, np.ndarray], name: str, where: str) -> np.ndarray | None:
    values = arrays.get(name)
    if values is not None and values.dtype.kind not in "iu":
        raise OccusegError(
            f"{where}: PCD label field {name!r} must be integer; got {values.dtype}"
        )
    return values


def read_pcd(path: str | Path) -> Scene:
    """Reads a PCD point cloud (see the module docstring for the fields used).

    Args:
        path: .pcd file, DATA ascii, binary or binary_compressed.

    Returns:
        Scene of the finite points (non-finite x/y/z dropped, order otherwise kept), colours
        grey 0.5 when the file has no rgb/rgba; name from our writer's comment, else the file
        stem.

    Raises:
        OccusegError: missing file, bad header, truncated or corrupt data, no x/y/z fields,
            no points or no finite points, or contents a Scene rejects.
    """
    path, data = read_file_bytes(path)
    where = str(path)
    header = parse_pcd_header(data, where)
    read_body = {"ascii": _ascii_columns, "binary": _binary_columns}
    columns = read_body.get(header.data, _compressed_columns)(data, header, where)
    arrays = _field_arrays(header, columns)
    missing = [k for k in "xyz" if k not in arrays]
    if missing:
        names = [f.name for f in header.fields]
        raise OccusegError(f"{where}: PCD has no {missing} field(s) (fields: {names})")
    if header.points == 0:
        raise OccusegError(f"{where}: PCD has no points")
    normals = None
    if all(f"normal_{k}" in arrays for k in "xyz"):
        normals = np.stack([arrays[f"normal_{k}"] for k in "xyz"], axis=1)
    instance = _label(arrays, "instance", where)
    keep, kept = Scene.drop_invalid(
        np.stack([arrays[k] for k in "xyz"], axis=1), _unpack_colors(arrays, header.points),
        normals=normals, semantic=_label(arrays, "semantic", where),
        instance=_label(arrays, "label", where) if instance is None else instance,
    )  # fmt: skip
    if keep.size == 0:
        raise OccusegError(f"{where}: PCD has no finite points ({header.points} are all NaN/inf)")
    prefix = _NAME_COMMENT + " "
    name = next((c[len(prefix) :].strip() for c in header.comments if c.startswith(prefix)), "")
    try:
        return Scene(**kept, name=name or path.stem)
    except ValueError as error:
        raise OccusegError(f"{where}: {error}") from None


def _pcd_columns(scene: Scene, ascii_rgb: bool) -> list[tuple[str, str, np.ndarray]]:
    rgb = np.round(scene.colors * 255.0).astype(np.uint32)
    packed = (0xFF << 24) | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]  # opaque, as PCL
    columns = [(k, "f4", scene.xyz[:, i]) for i, k in enumerate("xyz")]
    # PCL's PointXYZRGB stores rgb as a float with these bits; its ascii writer prints the
    # integer and declares TYPE U, so both forms are what PCL itself reads back.
    columns.append(("rgb", "u4", packed) if ascii_rgb else ("rgb", "f4", packed.view(np.float32)))
    if scene.normals is not None:
        columns += [(f"normal_{k}", "f4", scene.normals[:, i]) for i, k in enumerate("xyz")]
    for name, labels in (("semantic", scene.semantic), ("instance", scene.instance)):
        if labels is not None:
            if labels.size and labels.max() >= 2**32:
                raise OccusegError(f"PCD {name} labels must fit in uint32; max {labels.max()}")
            columns.append((name, "u4", labels.astype(np.uint32)))
    return columns


def _pcd_header(columns: list, name: str, points: int, data: str) -> bytes:
    sizes = [np.dtype(code).itemsize for _, code, _ in columns]
    scene_name = " ".join(name.split()).encode("ascii", "backslashreplace").decode()
    lines = [
        "# .PCD v0.7 - Point Cloud Data file format (written by occuseg)",
        f"# {_NAME_COMMENT} {scene_name}",
        "VERSION 0.7",
        "FIELDS " + " ".join(field for field, _, _ in columns),
        "SIZE " + " ".join(map(str, sizes)),
        "TYPE " + " ".join(code[0].upper() for _, code, _ in columns),
        "COUNT " + " ".join("1" for _ in columns),
        f"WIDTH {points}", "HEIGHT 1", "VIEWPOINT 0 0 0 1 0 0 0", f"POINTS {points}",
        f"DATA {data}",
    ]  # fmt: skip
    return ("\n".join(lines) + "\n").encode("ascii")


def write_pcd(path: str | Path, scene: Scene, *, data: str = "binary") -> None:
    """Writes a scene as an unorganized PCD v0.7 cloud, atomically (temp file + rename).

    Fields: x y z (F4), rgb (packed 0xFFRRGGBB as PCL does: F4 bits in binary modes, the U4
    integer in ascii), normal_x/y/z (F4) if the scene has normals, semantic and instance (U4)
    if it has labels. Faces are not stored (PCD holds points only).

    Args:
        path: destination .pcd file.
        scene: the scene.
        data: "ascii", "binary" or "binary_compressed" (LZF).

    Raises:
        OccusegError: unknown `data`, labels over 2**32 - 1, or the file cannot be written.
    """
    if data not in DATA_KINDS:
        raise OccusegError(f"PCD data must be one of {DATA_KINDS}; got {data!r}")
    columns = _pcd_columns(scene, ascii_rgb=data == "ascii")
    chunks = [_pcd_header(columns, scene.name, scene.num_points, data)]
    if data == "ascii":
        table = np.stack([values.astype(np.float64) for _, _, values in columns], axis=1)
        formats = ["%.9g" if code == "f4" else "%d" for _, code, _ in columns]
        chunks.append(format_ascii_table(table, formats))
    elif data == "binary":
        records = np.empty(scene.num_points, [(n, "<" + code) for n, code, _ in columns])
        for name, _, values in columns:
            records[name] = values
        chunks.append(records.tobytes())
    else:
        from occuseg_core.io.lzf import lzf_compress  # numba only when a file needs it

        raw = b"".join(values.astype("<" + code).tobytes() for _, code, values in columns)
        compressed = lzf_compress(raw)
        chunks += [struct.pack("<II", len(compressed), len(raw)), compressed]
    write_file_atomically(path, chunks)
