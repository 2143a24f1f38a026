"""The input side of `occuseg bag`: what an MCAP bag holds, and the messages of one topic.

A bag written to its end has a summary section (channels, schemas, message counts, a chunk
index), which `inspect_bag` reads when it is intact. A bag without one (a recorder that was
killed, a writer that skips it) or with a damaged end (a truncated copy) is scanned record by
record from the start instead, up to the first record that cannot be read: the messages before
it are the bag's readable part, which `open_topic` hands out only when asked to (`salvage`).
Every problem is an `OccusegError` of one line naming the file.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import zstandard
from mcap.exceptions import EndOfFile, InvalidMagic, McapError
from mcap.reader import make_reader
from mcap.records import Channel, Message, Schema
from mcap.stream_reader import StreamReader

from occuseg_core.errors import OccusegError

POINTCLOUD2_TYPES = ("sensor_msgs/msg/PointCloud2", "sensor_msgs/PointCloud2")
READ_ERRORS = (McapError, struct.error, EOFError, ValueError, RuntimeError, zstandard.ZstdError)
"""What mcap raises on bytes that are not a readable record (lz4 raises RuntimeError)."""
MAX_LISTED_TOPICS = 12


@dataclass(frozen=True)
class BagTopic:
    """One topic of a bag.

    Attributes:
        name: the topic, e.g. "/points".
        type: its schema name, e.g. "sensor_msgs/msg/PointCloud2" ("" without a schema).
        encoding: its message encoding ("cdr" for ROS 2).
        channel_ids: the MCAP channels that carry it.
        messages: how many messages it has (readable ones in a scanned bag); None if unknown.
    """

    name: str
    type: str
    encoding: str
    channel_ids: tuple[int, ...]
    messages: int | None


@dataclass(frozen=True)
class BagContents:
    """What `inspect_bag` found.

    Attributes:
        path: the bag file.
        size: its size, bytes.
        topics: topic name -> `BagTopic`.
        indexed: messages can be read through the summary's chunk index (in log-time order);
            otherwise they are scanned in file order.
        damage: why a scan stopped before the end of the file (truncated or corrupt), with the
            byte offset up to which records were readable; None when the whole file was read.
    """

    path: Path
    size: int
    topics: dict[str, BagTopic]
    indexed: bool
    damage: str | None


def inspect_bag(path: str | Path) -> BagContents:
    """Topics, message counts and damage of an MCAP bag (see the module docstring).

    Raises:
        OccusegError: the file cannot be opened or is not an MCAP file.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            if f.read(8) != b"\x89MCAP0\r\n":
                raise OccusegError(f"{path}: not an MCAP file (no MCAP magic at its start)")
            f.seek(0)
            summary = _intact_summary(f)
            if summary is not None and summary.channels:
                counts = summary.statistics.channel_message_counts if summary.statistics else None
                topics = _topics(summary.channels, summary.schemas, counts)
                return BagContents(path, f.seek(0, 2), topics, bool(summary.chunk_indexes), None)
            f.seek(0)
            return _scan(f, path)
    except OSError as error:
        raise OccusegError(f"{path}: cannot read ({error.strerror or error})") from None


def _intact_summary(f):
    """The summary section, or None when the bag has none or its end is unreadable."""
    try:
        return make_reader(f).get_summary()
    except READ_ERRORS:
        return None


def _scan(f, path: Path) -> BagContents:
    size = f.seek(0, 2)
    f.seek(0)
    schemas, channels, counts = {}, {}, Counter()
    readable_to, damage = 0, None
    try:
        for record in StreamReader(f).records:
            if isinstance(record, Schema):
                schemas[record.id] = record
            elif isinstance(record, Channel):
                channels[record.id] = record
            elif isinstance(record, Message):
                counts[record.channel_id] += 1
            readable_to = f.tell()
    except InvalidMagic:
        raise OccusegError(f"{path}: not an MCAP file (bad magic)") from None
    except READ_ERRORS as error:
        damage = f"readable only up to byte {readable_to} of {size} ({_reason(error)})"
    return BagContents(path, size, _topics(channels, schemas, counts), False, damage)


def _reason(error: Exception) -> str:
    if isinstance(error, (EndOfFile, EOFError, struct.error)):
        return "truncated: the file ends inside a record"
    return f"corrupt: {type(error).__name__}: {' '.join(str(error).split())}"


def _topics(channels: dict, schemas: dict, counts: dict[int, int] | None) -> dict[str, BagTopic]:
    topics: dict[str, BagTopic] = {}
    for channel_id, channel in sorted(channels.items()):
        schema = schemas.get(channel.schema_id)
        known = topics.get(channel.topic)
        ids = (*known.channel_ids, channel_id) if known else (channel_id,)
        total = None if counts is None else sum(counts.get(i, 0) for i in ids)
        topics[channel.topic] = BagTopic(channel.topic, schema.name if schema else "",
                                         channel.message_encoding, ids, total)  # fmt: skip
    return topics


def describe_topics(contents: BagContents) -> str:
    """The bag's topics as "/a (type, N messages), ..." for messages."""
    if not contents.topics:
        return "the bag has no topics"
    items = [f"{t.name} ({t.type or 'no schema'}"
             + ("" if t.messages is None else f", {t.messages} messages") + ")"
             for t in list(contents.topics.values())[:MAX_LISTED_TOPICS]]  # fmt: skip
    more = len(contents.topics) - MAX_LISTED_TOPICS
    return "the bag has " + ", ".join(items) + (f" and {more} more" if more > 0 else "")


def open_topic(path: str | Path, topic: str, *, salvage: bool = False) -> tuple[BagContents, str]:
    """Checks that a bag can be segmented on `topic`, before anything is written.

    Args:
        path: the MCAP bag.
        topic: a PointCloud2 topic; "points" stands for "/points" when only that exists.
        salvage: accept a truncated or damaged bag (its readable part is segmented).

    Returns:
        The bag's contents and the topic's name as the bag spells it.

    Raises:
        OccusegError: not an MCAP file; no such topic (the message lists the bag's topics); a
            topic that is not CDR PointCloud2; a damaged bag without `salvage`.
    """
    contents = inspect_bag(path)
    found = next((t for t in (topic, "/" + topic.lstrip("/")) if t in contents.topics), None)
    note = f"; the bag is damaged, {contents.damage}" if contents.damage else ""
    if found is None:
        raise OccusegError(f"{path}: no topic {topic!r}; {describe_topics(contents)}{note}")
    info = contents.topics[found]
    if (info.type and info.type not in POINTCLOUD2_TYPES) or info.encoding != "cdr":
        clouds = [t.name for t in contents.topics.values() if t.type in POINTCLOUD2_TYPES]
        raise OccusegError(
            f"{path}: topic {found!r} carries {info.type or 'schemaless'} {info.encoding}"
            " messages, not CDR sensor_msgs/msg/PointCloud2; PointCloud2 topics in the bag:"
            f" {', '.join(clouds) or 'none'}"
        )
    if contents.damage and not salvage:
        readable = ""
        if info.messages is not None:
            readable = f"; {info.messages} messages on {found} can be read before it"
        raise OccusegError(f"{path}: damaged MCAP bag, {contents.damage}{readable}; rerun"
                           " with --salvage to segment the readable part")  # fmt: skip
    return contents, found


def iter_topic(contents: BagContents, topic: str) -> Iterator[Message]:
    """The messages of `topic`: in log-time order through the index, else in file order up to
    the damage `inspect_bag` found.

    Raises:
        OccusegError: a record cannot be read where `inspect_bag` found none damaged.
    """
    with open(contents.path, "rb") as f:
        try:
            if contents.indexed:
                for _, _, message in make_reader(f).iter_messages(topics=[topic]):
                    yield message
                return
            ids = set(contents.topics[topic].channel_ids)
            for record in StreamReader(f).records:
                if isinstance(record, Message) and record.channel_id in ids:
                    yield record
        except READ_ERRORS as error:
            if contents.damage is None:
                where = contents.path
                raise OccusegError(f"{where}: damaged MCAP bag ({_reason(error)})") from None
