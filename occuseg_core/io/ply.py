"""Scenes as PLY (Stanford polygon files): meshes and point clouds from scanners, ScanNet, Open3D,
MeshLab and Blender, and the instance-coloured results occuseg writes.

Vertex properties read: x y z (required); red green blue (also diffuse_red... or r g b; alpha is
ignored) as uchar 0..255, ushort 0..65535 or float 0..1, constant grey 0.5 when absent; nx ny nz
normals; `semantic` and `instance` integer labels (the names our writer uses). Faces come from a
`vertex_indices` or `vertex_index` list of the `face` element; polygons with more than three
corners are split into a fan of triangles (v0, vi, vi+1), which is exact for convex polygons
such as quads. Every other element and property (edges, ScanNet's `label`, ...) is decoded and
skipped; `read_ply_vertex_properties` returns the extra per-vertex ones.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from occuseg_core.errors import OccusegError
from occuseg_core.io._files import format_ascii_table, read_file_bytes, write_file_atomically
from occuseg_core.io._ply_body import parse_ply_body
from occuseg_core.io._ply_header import RaggedList, parse_ply_header
from occuseg_core.types import Scene

MISSING_COLOR_GREY = 0.5
_COLOR_NAMES = (
    ("red", "green", "blue"),
    ("diffuse_red", "diffuse_green", "diffuse_blue"),
    ("r", "g", "b"),
)
_FACE_LISTS = ("vertex_indices", "vertex_index")
_NAME_COMMENT = "occuseg_scene_name"
_TYPE_NAMES = {
    "i1": "char", "u1": "uchar", "i2": "short", "u2": "ushort",
    "i4": "int", "u4": "uint", "f4": "float", "f8": "double",
}  # fmt: skip
_PROPERTY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _read_vertex_element(path: str | Path) -> tuple[Path, dict, dict, tuple[str, ...]]:
    path, data = read_file_bytes(path)
    header = parse_ply_header(data, str(path))
    elements = parse_ply_body(data, header, str(path))
    if "vertex" not in elements:
        raise OccusegError(f"{path}: PLY file has no vertex element")
    return path, elements["vertex"], elements, header.comments


def _scalar(vertex: dict, name: str, where: str) -> np.ndarray | None:
    values = vertex.get(name)
    if isinstance(values, RaggedList):
        raise OccusegError(f"{where}: vertex property {name!r} is a list, expected a scalar")
    return values


def read_ply(path: str | Path) -> Scene:
    """Reads a PLY mesh or point cloud.

    Args:
        path: .ply file (ascii, binary_little_endian or binary_big_endian).

    Returns:
        Scene with xyz, colours (grey 0.5 when the file has none), normals, `semantic` /
        `instance` labels and triangle faces when present; name from our writer's comment,
        else the file stem.

    Raises:
        OccusegError: missing file, bad header, truncated data, no x/y/z, unsupported colour
            type, faces with fewer than 3 corners, or contents a Scene rejects.
    """
    return read_ply_with_properties(path)[0]


def read_ply_vertex_properties(path: str | Path) -> dict[str, np.ndarray]:
    """Every scalar vertex property of a PLY file, e.g. ScanNet's `label` or our `score`.

    Args:
        path: .ply file.

    Returns:
        {property name: (N,) array in the file's type (native byte order)}, in file order.

    Raises:
        OccusegError: as `read_ply` for the file and header.
    """
    _, vertex, _, _ = _read_vertex_element(path)
    return _scalar_properties(vertex)


def read_ply_with_properties(path: str | Path) -> tuple[Scene, dict[str, np.ndarray]]:
    """`read_ply` and `read_ply_vertex_properties` of one file, reading and parsing it once.

    Raises:
        OccusegError: as `read_ply`.
    """
    path, vertex, elements, comments = _read_vertex_element(path)
    where = str(path)
    missing = [k for k in "xyz" if k not in vertex]
    if missing:
        raise OccusegError(f"{where}: PLY vertex element lacks {missing} (has {sorted(vertex)})")
    xyz = np.stack([_scalar(vertex, k, where) for k in "xyz"], axis=1)
    normals = None
    if all(k in vertex for k in ("nx", "ny", "nz")):
        normals = np.stack([_scalar(vertex, k, where) for k in ("nx", "ny", "nz")], axis=1)
    name = next((c.split(None, 1)[1] for c in comments if c.startswith(_NAME_COMMENT + " ")), "")
    try:
        scene = Scene(
            xyz=xyz, colors=_vertex_colors(vertex, len(xyz), where), normals=normals,
            semantic=_scalar(vertex, "semantic", where),
            instance=_scalar(vertex, "instance", where),
            faces=_faces(elements.get("face"), where), name=name.strip() or path.stem,
        )  # fmt: skip
    except ValueError as error:
        raise OccusegError(f"{where}: {error}") from None
    return scene, _scalar_properties(vertex)


def _scalar_properties(vertex: dict) -> dict[str, np.ndarray]:
    return {k: v for k, v in vertex.items() if not isinstance(v, RaggedList)}


def _vertex_colors(vertex: dict, n: int, where: str) -> np.ndarray:
    names = next((names for names in _COLOR_NAMES if all(k in vertex for k in names)), None)
    if names is None:
        return np.full((n, 3), MISSING_COLOR_GREY, np.float32)
    channels = np.stack([_scalar(vertex, k, where) for k in names], axis=1)
    if channels.dtype == np.uint8 or channels.dtype.kind == "f":
        return channels  # Scene scales uint8 and checks floats lie in [0, 1]
    if channels.dtype == np.uint16:
        return channels.astype(np.float32) / 65535.0
    raise OccusegError(
        f"{where}: unsupported PLY colour type {channels.dtype}"
        " (expected uchar 0..255, ushort 0..65535 or float 0..1)"
    )


def _faces(face: dict | None, where: str) -> np.ndarray | None:
    if face is None:
        return None
    key = next((k for k in _FACE_LISTS if isinstance(face.get(k), RaggedList)), None)
    if key is None:
        raise OccusegError(f"{where}: PLY face element has no vertex_indices list property")
    return triangulate_polygons(face[key], where)


def triangulate_polygons(polygons: RaggedList, where: str = "PLY") -> np.ndarray:
    """Splits polygons into triangle fans (v0, vi, vi+1), keeping the polygon order.

    Args:
        polygons: M polygons as vertex-index lists (counts (M,), flat integer values).
        where: file name used in error messages.

    Returns:
        (T, 3) int64 triangles, T = sum(counts - 2); a quad (a, b, c, d) gives (a, b, c),
        (a, c, d).

    Raises:
        OccusegError: non-integer indices or a polygon with fewer than 3 corners.
    """
    counts, values = polygons.counts, polygons.values
    if values.dtype.kind not in "iu":
        raise OccusegError(f"{where}: face vertex indices must be integers; got {values.dtype}")
    if counts.size and counts.min() < 3:
        bad = int(np.argmax(counts < 3))
        raise OccusegError(f"{where}: face {bad} has {counts[bad]} corners; need at least 3")
    if np.all(counts == 3):
        return values.reshape(-1, 3).astype(np.int64)
    per_face = counts - 2
    first = np.repeat(polygons.starts, per_face)
    corner = np.arange(per_face.sum()) - np.repeat(np.cumsum(per_face) - per_face, per_face) + 1
    triangles = np.stack([values[first], values[first + corner], values[first + corner + 1]])
    return triangles.T.astype(np.int64)


def _color_bytes(colors: np.ndarray, n: int) -> np.ndarray:
    colors = np.asarray(colors)
    if colors.shape != (n, 3):
        raise OccusegError(f"PLY colours must be (N, 3) = ({n}, 3); got {colors.shape}")
    if colors.dtype == np.uint8:
        return colors
    if colors.dtype.kind != "f" or not (np.all(colors >= 0.0) and np.all(colors <= 1.0)):
        raise OccusegError(f"PLY colours must be uint8 or float in [0, 1]; got {colors.dtype}")
    return np.round(colors * 255.0).astype(np.uint8)


def _property_code(name: str, values: np.ndarray) -> str:
    if values.dtype == np.bool_:
        return "u1"
    if values.dtype.kind == "f":
        return "f8" if values.dtype.itemsize == 8 else "f4"
    if values.dtype.kind in "iu" and values.dtype.itemsize <= 4:
        return values.dtype.str[1:]
    if values.dtype.kind in "iu":  # 64-bit ints: store as int/uint when they fit
        low, high = (int(values.min()), int(values.max())) if values.size else (0, 0)
        if -(2**31) <= low and high < 2**31:
            return "i4"
        if low >= 0 and high < 2**32:
            return "u4"
        raise OccusegError(f"PLY property {name!r} has values outside 32-bit range")
    raise OccusegError(f"PLY property {name!r} has unsupported dtype {values.dtype}")


def _vertex_columns(
    scene: Scene, colors: np.ndarray | None, extra: dict[str, np.ndarray] | None
) -> list[tuple[str, str, np.ndarray]]:
    n = scene.num_points
    rgb = _color_bytes(scene.colors if colors is None else colors, n)
    columns = [(k, "f4", scene.xyz[:, i]) for i, k in enumerate("xyz")]
    columns += [(k, "u1", rgb[:, i]) for i, k in enumerate(("red", "green", "blue"))]
    if scene.normals is not None:
        columns += [(k, "f4", scene.normals[:, i]) for i, k in enumerate(("nx", "ny", "nz"))]
    labels = {"semantic": scene.semantic, "instance": scene.instance}
    labels = {k: v for k, v in labels.items() if v is not None}
    for name, values in {**labels, **(extra or {})}.items():
        values = np.asarray(values)
        if not _PROPERTY_NAME.match(name) or any(name == c[0] for c in columns):
            raise OccusegError(f"PLY vertex property name {name!r} is invalid or already used")
        if values.shape != (n,):
            raise OccusegError(f"PLY vertex property {name!r} must be ({n},); got {values.shape}")
        columns.append((name, _property_code(name, values), values))
    return columns


def _header(scene: Scene, columns: list, num_faces: int | None, binary: bool) -> bytes:
    name = " ".join(scene.name.split()).encode("ascii", "backslashreplace").decode()
    lines = ["ply", f"format {'binary_little_endian' if binary else 'ascii'} 1.0"]
    lines += ["comment written by occuseg", f"comment {_NAME_COMMENT} {name}"]
    lines.append(f"element vertex {scene.num_points}")
    lines += [f"property {_TYPE_NAMES[code]} {name}" for name, code, _ in columns]
    if num_faces is not None:
        lines += [f"element face {num_faces}", "property list uchar int vertex_indices"]
    return ("\n".join([*lines, "end_header"]) + "\n").encode("ascii")


def write_ply(
    path: str | Path,
    scene: Scene,
    *,
    binary: bool = True,
    colors: np.ndarray | None = None,
    vertex_properties: dict[str, np.ndarray] | None = None,
) -> None:
    """Writes a scene as PLY, atomically (temp file + rename).

    Vertex properties, in order: x y z float; red green blue uchar; nx ny nz float (if the
    scene has normals); semantic, instance int (if it has labels); then `vertex_properties`.
    Faces (if any) go to a `face` element as `list uchar int vertex_indices`.

    Args:
        path: destination .ply file.
        scene: the scene.
        binary: binary little endian when True, ascii when False.
        colors: optional (N, 3) uint8 0..255 or float 0..1 colours replacing the scene's
            (e.g. one colour per instance).
        vertex_properties: optional extra (N,) per-vertex arrays by property name, e.g.
            {"instance_id": int32, "semantic_id": int32, "score": float32}. bool is written as
            uchar, 64-bit integers as int/uint when their values fit.

    Raises:
        OccusegError: bad colours, a bad or duplicate property name/shape/dtype, or the file
            cannot be written.
    """
    columns = _vertex_columns(scene, colors, vertex_properties)
    faces = scene.faces
    if faces is not None and faces.size and faces.max() >= 2**31:
        raise OccusegError("PLY face indices must fit in a 32-bit int")
    header = _header(scene, columns, None if faces is None else len(faces), binary)
    body = _binary_body(columns, faces) if binary else _ascii_body(columns, faces)
    write_file_atomically(path, [header, *body])


def _binary_body(columns: list, faces: np.ndarray | None) -> list[bytes]:
    vertices = np.empty(len(columns[0][2]), [(name, "<" + code) for name, code, _ in columns])
    for name, _, values in columns:
        vertices[name] = values
    if faces is None:
        return [vertices.tobytes()]
    records = np.empty(len(faces), [("count", "u1"), ("corners", "<i4", (3,))])
    records["count"], records["corners"] = 3, faces
    return [vertices.tobytes(), records.tobytes()]


def _ascii_body(columns: list, faces: np.ndarray | None) -> list[bytes]:
    table = np.stack([values.astype(np.float64) for _, _, values in columns], axis=1)
    formats = {"f4": "%.9g", "f8": "%.17g"}  # enough digits to read back the same number
    body = [format_ascii_table(table, [formats.get(c, "%d") for _, c, _ in columns])]
    if faces is not None and len(faces):
        body.append(format_ascii_table(np.column_stack([np.full(len(faces), 3), faces]), "%d"))
    return body
