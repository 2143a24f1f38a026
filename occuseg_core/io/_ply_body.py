"""The PLY container format, part 2: decoding the body of ascii, binary_little_endian and
binary_big_endian files into per-property arrays.

Binary elements made only of scalars are one `np.frombuffer` with a structured dtype; elements
with lists whose lengths are all equal (the usual triangle mesh) are read the same way after
checking every length, and only variable-length lists fall back to a per-record loop. Ascii
bodies are converted to float64 in one go and sliced the same way. Every problem raises
`OccusegError` naming the file.
"""

from __future__ import annotations

import struct

import numpy as np

from occuseg_core.errors import OccusegError
from occuseg_core.io._ply_header import FORMATS, PlyElement, PlyHeader, RaggedList

_STRUCT_CODES = {
    "i1": "b",
    "u1": "B",
    "i2": "h",
    "u2": "H",
    "i4": "i",
    "u4": "I",
    "f4": "f",
    "f8": "d",
}


def parse_ply_body(data: bytes, header: PlyHeader, where: str) -> dict[str, dict[str, object]]:
    """Decodes every element of a PLY file.

    Args:
        data: the whole file.
        header: its parsed header.
        where: file name used in error messages.

    Returns:
        {element name: {property name: (count,) array in native byte order, or RaggedList}}.

    Raises:
        OccusegError: truncated body, a non-number in an ascii body, or a non-integer value
            for an integer property.
    """
    if header.format == "ascii":
        return _AsciiBody(data[header.body_offset :], where).read(header.elements)
    order = FORMATS[header.format]
    offset, out = header.body_offset, {}
    for element in header.elements:
        out[element.name], offset = _read_binary_element(data, offset, element, order, where)
    return out


def _truncated(where: str, element: PlyElement) -> OccusegError:
    return OccusegError(
        f"{where}: truncated or corrupt PLY data in element {element.name!r}"
        f" ({element.count} records declared)"
    )


def _fixed_dtype(element: PlyElement, counts: list[int], order: str) -> np.dtype:
    fields, lists = [], iter(counts)
    for i, prop in enumerate(element.properties):
        if prop.is_list:
            fields.append((f"count{i}", order + prop.count_dtype))
            fields.append((f"list{i}", order + prop.dtype, (next(lists),)))
        else:
            fields.append((f"scalar{i}", order + prop.dtype))
    return np.dtype(fields)


def _first_record_counts(data: bytes, offset: int, element: PlyElement, order: str) -> list[int]:
    counts = []
    for prop in element.properties:
        if prop.is_list:
            (count,) = struct.unpack_from(order + _STRUCT_CODES[prop.count_dtype], data, offset)
            counts.append(max(int(count), 0))  # a negative length fails in the slow path
            offset += np.dtype(prop.count_dtype).itemsize + count * np.dtype(prop.dtype).itemsize
        else:
            offset += np.dtype(prop.dtype).itemsize
    return counts


def _read_binary_element(
    data: bytes, offset: int, element: PlyElement, order: str, where: str
) -> tuple[dict[str, object], int]:
    if element.count == 0:
        return _empty_element(element), offset
    try:
        counts = _first_record_counts(data, offset, element, order)
    except struct.error:
        raise _truncated(where, element) from None
    dtype = _fixed_dtype(element, counts, order)
    end = offset + element.count * dtype.itemsize
    if end <= len(data):
        records = np.frombuffer(data, dtype, element.count, offset)
        lists = [i for i, p in enumerate(element.properties) if p.is_list]
        if all(np.all(records[f"count{i}"] == c) for i, c in zip(lists, counts, strict=True)):
            return _columns_from_records(records, element), end
    elif not counts:
        raise _truncated(where, element)
    try:
        return _read_binary_loop(data, offset, element, order)
    except struct.error:
        raise _truncated(where, element) from None


def _empty_element(element: PlyElement) -> dict[str, object]:
    empty = {}
    for p in element.properties:
        values = np.empty(0, np.dtype(p.dtype))
        empty[p.name] = RaggedList(np.empty(0, np.int64), values) if p.is_list else values
    return empty


def _columns_from_records(records: np.ndarray, element: PlyElement) -> dict[str, object]:
    columns = {}
    for i, prop in enumerate(element.properties):
        native = np.dtype(prop.dtype)
        if prop.is_list:
            values = records[f"list{i}"].astype(native).reshape(-1)
            counts = np.full(len(records), records.dtype[f"list{i}"].shape[0], np.int64)
            columns[prop.name] = RaggedList(counts, values)
        else:
            columns[prop.name] = records[f"scalar{i}"].astype(native)
    return columns


def _read_binary_loop(
    data: bytes, offset: int, element: PlyElement, order: str
) -> tuple[dict[str, object], int]:
    """Per-record decoding for lists of varying length (slow path)."""
    props = element.properties
    scalars: list[list] = [[] for _ in props]
    counts: list[list[int]] = [[] for _ in props]
    for _ in range(element.count):
        for i, prop in enumerate(props):
            if prop.is_list:
                (n,) = struct.unpack_from(order + _STRUCT_CODES[prop.count_dtype], data, offset)
                if n < 0:
                    raise struct.error(f"negative list length {n}")
                offset += np.dtype(prop.count_dtype).itemsize
                code = f"{order}{n}{_STRUCT_CODES[prop.dtype]}"
                scalars[i].extend(struct.unpack_from(code, data, offset))
                counts[i].append(n)
                offset += n * np.dtype(prop.dtype).itemsize
            else:
                scalars[i].append(
                    struct.unpack_from(order + _STRUCT_CODES[prop.dtype], data, offset)[0]
                )
                offset += np.dtype(prop.dtype).itemsize
    columns = {}
    for i, prop in enumerate(props):
        values = np.array(scalars[i], dtype=np.dtype(prop.dtype))
        columns[prop.name] = (
            RaggedList(np.array(counts[i], np.int64), values) if prop.is_list else values
        )
    return columns, offset


class _AsciiBody:
    """Cursor over the whitespace-separated numbers of an ascii PLY body."""

    def __init__(self, body: bytes, where: str) -> None:
        self.where = where
        try:
            self.values = np.array(body.split(), dtype=np.float64)
        except ValueError as error:
            raise OccusegError(f"{where}: non-numeric value in ascii PLY body ({error})") from None
        self.pos = 0

    def read(self, elements: tuple[PlyElement, ...]) -> dict[str, dict[str, object]]:
        return {element.name: self._element(element) for element in elements}

    def _cast(self, values: np.ndarray, dtype: str, element: PlyElement) -> np.ndarray:
        if dtype[0] != "f" and not np.array_equal(values, np.round(values)):
            raise OccusegError(
                f"{self.where}: non-integer value for an integer property of element"
                f" {element.name!r}"
            )
        return values.astype(np.dtype(dtype))

    def _first_record_layout(self, element: PlyElement) -> list[int]:
        counts, pos = [], self.pos
        for prop in element.properties:
            if prop.is_list:
                if pos >= len(self.values):
                    raise _truncated(self.where, element)
                counts.append(max(int(self.values[pos]), 0))  # negative: fails in the loop
                pos += 1 + counts[-1]
            else:
                pos += 1
        return counts

    def _element(self, element: PlyElement) -> dict[str, object]:
        if element.count == 0:
            return _empty_element(element)
        counts = self._first_record_layout(element)
        width = len(element.properties) + sum(counts)
        block = self.values[self.pos : self.pos + element.count * width]
        if len(block) == element.count * width:
            table = block.reshape(element.count, width)
            if self._lists_match(table, element, counts):
                self.pos += len(block)
                return self._columns_from_table(table, element, counts)
        elif not counts:
            raise _truncated(self.where, element)
        return self._element_loop(element)

    def _list_columns(self, element: PlyElement, counts: list[int]) -> list[int]:
        columns, col, lists = [], 0, iter(counts)
        for prop in element.properties:
            columns.append(col)
            col += 1 + next(lists) if prop.is_list else 1
        return columns

    def _lists_match(self, table: np.ndarray, element: PlyElement, counts: list[int]) -> bool:
        starts = self._list_columns(element, counts)
        lists = [s for s, p in zip(starts, element.properties, strict=True) if p.is_list]
        return all(np.all(table[:, s] == c) for s, c in zip(lists, counts, strict=True))

    def _columns_from_table(
        self, table: np.ndarray, element: PlyElement, counts: list[int]
    ) -> dict[str, object]:
        columns, lists = {}, iter(counts)
        for prop, col in zip(element.properties, self._list_columns(element, counts), strict=True):
            if prop.is_list:
                n = next(lists)
                values = self._cast(
                    table[:, col + 1 : col + 1 + n].reshape(-1), prop.dtype, element
                )
                columns[prop.name] = RaggedList(np.full(len(table), n, np.int64), values)
            else:
                columns[prop.name] = self._cast(table[:, col], prop.dtype, element)
        return columns

    def _element_loop(self, element: PlyElement) -> dict[str, object]:
        """Per-record decoding for lists of varying length (slow path)."""
        values, pos = self.values, self.pos
        taken: list[list[np.ndarray]] = [[] for _ in element.properties]
        counts: list[list[int]] = [[] for _ in element.properties]
        for _ in range(element.count):
            for i, prop in enumerate(element.properties):
                n = 1
                if prop.is_list:
                    if pos >= len(values) or values[pos] < 0 or values[pos] != int(values[pos]):
                        raise _truncated(self.where, element)
                    n, pos = int(values[pos]), pos + 1
                if pos + n > len(values):
                    raise _truncated(self.where, element)
                taken[i].append(values[pos : pos + n])
                counts[i].append(n)
                pos += n
        self.pos = pos
        columns = {}
        for i, prop in enumerate(element.properties):
            flat = self._cast(np.concatenate(taken[i]), prop.dtype, element)
            columns[prop.name] = (
                RaggedList(np.array(counts[i], np.int64), flat) if prop.is_list else flat
            )
        return columns
