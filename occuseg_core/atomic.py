"""Files that appear whole or not at all: `atomic_destination` (no dependencies, so every writer
can use it, down to the supervoxel verb that starts without torch or numba)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_destination(path: str | Path, *, fsync: bool = False) -> Iterator[Path]:
    """Yields a temp path beside `path` to write; when the block ends without an error it is
    renamed over `path` (readers see the old file or the new one, never a part), otherwise
    removed. The temp name is unique per process and call, hidden (a leading dot).

    Args:
        path: destination; its folder must exist.
        fsync: flush the temp file to disk before the rename (checkpoints: a power cut after
            the rename then leaves the new file, not an empty one).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb") as written:
                os.fsync(written.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
