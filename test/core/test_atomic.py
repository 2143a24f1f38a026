"""`atomic_destination`: every writer's temp file + rename (checkpoints, scans, reports, bags)."""

from __future__ import annotations

import pytest

from occuseg_core.atomic import atomic_destination


def test_the_file_appears_whole_when_the_block_ends(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with atomic_destination(path) as tmp:
        tmp.write_bytes(b"new content")
        assert path.read_bytes() == b"old"  # readers still see the old file meanwhile
        assert tmp.parent == tmp_path and tmp.name.startswith(".out.bin.")
    assert path.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_an_error_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic_destination(path, fsync=True) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("disk on fire")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_fsync_and_two_writers_do_not_share_a_temp(tmp_path):
    path = tmp_path / "model.pt"
    with atomic_destination(path, fsync=True) as first, atomic_destination(path) as second:
        assert first != second
        first.write_bytes(b"1")
        second.write_bytes(b"2")
    assert path.read_bytes() == b"1"  # the outer block ends last: its file is the one kept


def test_a_missing_folder_raises_and_creates_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_destination(tmp_path / "no" / "out.bin") as tmp:
            tmp.write_bytes(b"x")
    assert list(tmp_path.iterdir()) == []
