"""File plumbing shared by the scene readers and writers: whole-file reads that fail with an
`OccusegError` naming the file, and atomic writes (temp file + rename) so a crash or a full disk
never leaves a half-written scene where a good one was expected.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from occuseg_core.atomic import atomic_destination
from occuseg_core.errors import OccusegError


def read_file_bytes(path: str | Path) -> tuple[Path, bytes]:
    """Reads a whole file.

    Args:
        path: file to read.

    Returns:
        (the path as a `Path`, the file contents).

    Raises:
        OccusegError: the file does not exist, is not a regular file, or cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise OccusegError(f"{path}: no such file")
    try:
        return path, path.read_bytes()
    except OSError as error:
        raise OccusegError(f"{path}: cannot read ({error.strerror or error})") from None


def read_json(path: Path, unreadable: str = "not readable JSON") -> object:
    """Parses a JSON file.

    Args:
        path: file to read.
        unreadable: what the error says of a file that cannot be read or parsed.

    Raises:
        OccusegError: "<path>: no such file", or "<path>: <unreadable> (<reason>)".
    """
    try:
        return json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        what = "no such file" if isinstance(error, FileNotFoundError) else unreadable
        raise OccusegError(f"{path}: {what} ({error})") from None


def write_file_atomically(path: str | Path, chunks: Iterable[bytes]) -> None:
    """Writes `chunks` to `path` through a sibling temp file renamed over `path` at the end.

    Args:
        path: destination; its folder must exist.
        chunks: byte strings written in order.

    Raises:
        OccusegError: the folder does not exist or the file cannot be written.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise OccusegError(f"{path}: folder {path.parent} does not exist")
    try:
        with atomic_destination(path) as tmp, open(tmp, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
    except OSError as error:
        raise OccusegError(f"{path}: cannot write ({error.strerror or error})") from None


def format_ascii_table(table: np.ndarray, formats: list[str] | str) -> bytes:
    """Rows of numbers as text lines, one printf format per column (or one for all).

    Args:
        table: (R, C) numbers; float64 holds every PLY/PCD value we write exactly.
        formats: C printf formats, or one for every column ("%.9g" round-trips float32).

    Returns:
        R lines of C space-separated values, each ending in a newline.
    """
    buffer = io.BytesIO()
    np.savetxt(buffer, table, fmt=formats, delimiter=" ")
    return buffer.getvalue()
