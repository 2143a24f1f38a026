"""Deterministic CDR bytes: serialized ROS 2 messages with their alignment padding zeroed.

rclpy's `serialize_message` (Fast CDR, plain CDR as ROS 2 uses it) aligns every primitive to
its own size (8 at most) by skipping bytes it never writes, so those bytes hold whatever the
buffer held before: the same message serializes to different bytes from one run to the next.
`zero_padding` walks serialized bytes along the message type (the `SLOT_TYPES` of the generated
Python class) and sets every skipped byte to 0; `serialize_zeroed` does both steps. Wide strings
(`wstring`) are not supported (no message occuseg writes has one).
"""

from __future__ import annotations

import functools
import importlib
import struct

from rclpy.serialization import serialize_message
from rosidl_parser.definition import (
    AbstractNestedType,
    AbstractString,
    Array,
    BasicType,
    NamespacedType,
)

ENCAPSULATION_BYTES = 4
"""The representation header before the CDR body; alignment counts from its end."""

PRIMITIVE_BYTES = {
    "boolean": 1, "octet": 1, "char": 1, "int8": 1, "uint8": 1,
    "int16": 2, "uint16": 2, "wchar": 2,
    "int32": 4, "uint32": 4, "float": 4,
    "int64": 8, "uint64": 8, "double": 8,
}  # fmt: skip


def serialize_zeroed(msg) -> bytes:
    """`rclpy.serialization.serialize_message(msg)` with the padding bytes zeroed."""
    return zero_padding(serialize_message(msg), type(msg))


def zero_padding(data: bytes, msg_type: type) -> bytes:
    """Sets the alignment padding of one serialized message to 0.

    Args:
        data: the serialized message: a 4-byte encapsulation header (CDR, either byte order)
            and the body.
        msg_type: the generated message class `data` was serialized from.

    Returns:
        `data` with every padding byte 0 (the same length; the decoded message is unchanged).

    Raises:
        ValueError: `data` is not a CDR serialization of `msg_type` (it ends early or has
            more than the final alignment's bytes left over), or the type has a wstring.
    """
    if len(data) < ENCAPSULATION_BYTES or data[0] != 0 or data[1] not in (0, 1):
        raise ValueError(f"not a plain CDR serialization (header {bytes(data[:4]).hex()})")
    walker = _PaddingWalker(bytearray(data), "<" if data[1] == 1 else ">")
    walker.struct(msg_type)
    left = len(data) - walker.pos
    if left > 3:  # a serializer may pad the end to 4 bytes; more is not this type
        raise ValueError(f"{left} bytes left after a {msg_type.__name__}: not that type")
    walker.zero(walker.pos, len(data))
    return bytes(walker.buffer)


def _message_class(slot_type: NamespacedType) -> type:
    return _class_named(tuple(slot_type.namespaces), slot_type.name)


@functools.cache  # once per type, not once per nested element (every Point of every marker)
def _class_named(namespaces: tuple[str, ...], name: str) -> type:
    return getattr(importlib.import_module(".".join(namespaces)), name)


class _PaddingWalker:
    """A read position in serialized bytes that zeroes the bytes alignment skips."""

    def __init__(self, buffer: bytearray, byte_order: str) -> None:
        self.buffer = buffer
        self.byte_order = byte_order
        self.pos = ENCAPSULATION_BYTES

    def zero(self, start: int, end: int) -> None:
        self.buffer[start:end] = bytes(end - start)

    def skip(self, count: int) -> None:
        if self.pos + count > len(self.buffer):
            raise ValueError(f"serialized message ends at byte {len(self.buffer)}, inside a value")
        self.pos += count

    def align(self, size: int) -> None:
        misaligned = (self.pos - ENCAPSULATION_BYTES) % size
        if misaligned:
            start = self.pos
            self.skip(size - misaligned)
            self.zero(start, self.pos)

    def count(self) -> int:
        """Reads a uint32 length (of a sequence or a string, with its terminating NUL)."""
        self.align(4)
        self.skip(4)
        return struct.unpack_from(self.byte_order + "I", self.buffer, self.pos - 4)[0]

    def struct(self, msg_type: type) -> None:
        for slot_type in msg_type.SLOT_TYPES:
            self.value(slot_type)

    def value(self, slot_type) -> None:
        if isinstance(slot_type, BasicType):
            self.values(slot_type, 1)
        elif isinstance(slot_type, AbstractString):
            self.skip(self.count())
        elif isinstance(slot_type, NamespacedType):
            self.struct(_message_class(slot_type))
        elif isinstance(slot_type, AbstractNestedType):
            length = slot_type.size if isinstance(slot_type, Array) else self.count()
            self.values(slot_type.value_type, length)
        else:
            raise ValueError(f"unsupported type in CDR padding walk: {slot_type}")

    def values(self, value_type, length: int) -> None:
        if isinstance(value_type, BasicType):
            size = PRIMITIVE_BYTES[value_type.typename]
            # aligned once (even when empty, as Fast CDR does): equal sizes need no more
            self.align(size)
            self.skip(size * length)
            return
        for _ in range(length):
            self.value(value_type)
