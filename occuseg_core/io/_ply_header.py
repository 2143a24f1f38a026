"""The PLY container format, part 1: the header (format, elements, typed properties) and the
types describing it, independent of what the elements mean (ply.py maps them onto a `Scene`).

Every PLY scalar type is known under its classic and sized names (char/int8 ... double/float64).
Every problem raises `OccusegError` naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occuseg_core.errors import OccusegError

PLY_TYPES: dict[str, str] = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}  # fmt: skip
MAX_HEADER_BYTES = 1 << 20
FORMATS: dict[str, str] = {
    "ascii": "",
    "binary_little_endian": "<",
    "binary_big_endian": ">",
}


@dataclass(frozen=True)
class PlyProperty:
    """One property of a PLY element.

    Args:
        name: property name.
        dtype: numpy type code of the values ("u1", "f4", ...), byte order not included.
        count_dtype: for list properties the type code of the length prefix; None for scalars.
    """

    name: str
    dtype: str
    count_dtype: str | None = None

    @property
    def is_list(self) -> bool:
        return self.count_dtype is not None


@dataclass(frozen=True)
class PlyElement:
    """One element declaration: `element <name> <count>` and its properties, in file order."""

    name: str
    count: int
    properties: tuple[PlyProperty, ...]


@dataclass(frozen=True)
class PlyHeader:
    """A parsed PLY header.

    Args:
        format: "ascii", "binary_little_endian" or "binary_big_endian".
        elements: element declarations in file order.
        comments: text of the `comment` and `obj_info` lines.
        body_offset: byte offset of the first byte after `end_header\\n`.
    """

    format: str
    elements: tuple[PlyElement, ...]
    comments: tuple[str, ...]
    body_offset: int


@dataclass(frozen=True)
class RaggedList:
    """Values of a list property: record i holds values[starts[i] : starts[i] + counts[i]].

    Args:
        counts: (n,) int64 list length per record.
        values: (sum(counts),) flat values in the property's dtype.
    """

    counts: np.ndarray
    values: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        return np.cumsum(self.counts) - self.counts


def _header_lines(data: bytes, where: str) -> tuple[list[str], int]:
    if not (data.startswith(b"ply\n") or data.startswith(b"ply\r\n")):
        raise OccusegError(f"{where}: not a PLY file (does not start with a 'ply' line)")
    lines, pos = [], 0
    while True:
        end = data.find(b"\n", pos, MAX_HEADER_BYTES)
        if end < 0:
            raise OccusegError(f"{where}: PLY header has no end_header line (in its first MiB)")
        line, pos = data[pos:end].decode("latin-1").strip(), end + 1  # latin-1 never fails
        if line == "end_header":
            return lines[1:], pos
        lines.append(line)


def _ply_type(name: str, where: str, line: str) -> str:
    if name not in PLY_TYPES:
        raise OccusegError(f"{where}: unsupported PLY type {name!r} in header line {line!r}")
    return PLY_TYPES[name]


def _parse_property(words: list[str], where: str, line: str) -> PlyProperty:
    if len(words) == 5 and words[1] == "list":
        count_dtype = _ply_type(words[2], where, line)
        if count_dtype[0] == "f":
            raise OccusegError(f"{where}: list length type must be an integer in {line!r}")
        return PlyProperty(words[4], _ply_type(words[3], where, line), count_dtype)
    if len(words) == 3:
        return PlyProperty(words[2], _ply_type(words[1], where, line))
    raise OccusegError(f"{where}: malformed PLY property line {line!r}")


def parse_ply_header(data: bytes, where: str) -> PlyHeader:
    """Parses the header of a PLY file held in memory.

    Args:
        data: the whole file.
        where: file name used in error messages.

    Raises:
        OccusegError: not a PLY file, no end_header, unknown format or type, malformed line,
            property outside an element, or a duplicated property name.
    """
    lines, body_offset = _header_lines(data, where)
    fmt, comments, elements = None, [], []  # elements: [name, count, [properties]]
    for line in lines:
        words = line.split()
        keyword = words[0] if words else ""
        if keyword in ("comment", "obj_info"):
            comments.append(line[len(keyword) :].strip())
        elif keyword == "format":
            if len(words) != 3 or words[1] not in FORMATS:
                raise OccusegError(f"{where}: unsupported PLY format line {line!r}")
            fmt = words[1]
        elif keyword == "element":
            if len(words) != 3 or not words[2].isdigit():
                raise OccusegError(f"{where}: malformed PLY element line {line!r}")
            if any(name == words[1] for name, _, _ in elements):
                raise OccusegError(f"{where}: duplicate PLY element {words[1]!r}")
            elements.append((words[1], int(words[2]), []))
        elif keyword == "property":
            if not elements:
                raise OccusegError(f"{where}: PLY property before any element: {line!r}")
            prop = _parse_property(words, where, line)
            if any(p.name == prop.name for p in elements[-1][2]):
                raise OccusegError(f"{where}: duplicate PLY property {prop.name!r}")
            elements[-1][2].append(prop)
        elif keyword:
            raise OccusegError(f"{where}: unknown PLY header line {line!r}")
    if fmt is None:
        raise OccusegError(f"{where}: PLY header has no format line")
    return PlyHeader(
        format=fmt,
        elements=tuple(PlyElement(name, n, tuple(props)) for name, n, props in elements),
        comments=tuple(comments),
        body_offset=body_offset,
    )
