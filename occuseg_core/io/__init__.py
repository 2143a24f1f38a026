"""Reading and writing scenes: PLY, PCD, NPZ and the ScanNet npy export.

`read_scene` / `write_scene` pick the format from the path; the per-format functions are
exported too for their options (ascii PLY, instance colours, compressed PCD, ...).
"""

from __future__ import annotations

from pathlib import Path

from occuseg_core.errors import OccusegError
from occuseg_core.io.npz import read_npz, write_npz
from occuseg_core.io.pcd import read_pcd, write_pcd
from occuseg_core.io.ply import (
    read_ply,
    read_ply_vertex_properties,
    read_ply_with_properties,
    write_ply,
)
from occuseg_core.io.scannet import VERTICES_SUFFIXES, export_layout, read_scannet_export
from occuseg_core.types import Scene

READABLE = (
    ".ply",
    ".pcd",
    ".npz",
    *(f"*{s}" for s in VERTICES_SUFFIXES),
    "a folder with one of those .npy",
)
WRITABLE = (".ply", ".pcd", ".npz")

__all__ = [
    "READABLE", "WRITABLE", "read_npz", "read_pcd", "read_ply", "read_ply_vertex_properties",
    "read_ply_with_properties",
    "read_scannet_export", "read_scene", "write_npz", "write_pcd", "write_ply", "write_scene",
]  # fmt: skip


def read_scene(path: str | Path) -> Scene:
    """Reads a scene, choosing the reader from the path.

    Args:
        path: a .ply, .pcd or .npz file (suffix case ignored), a ScanNet export vertex file
            (`<scene>_vert_all.npy` or `<scene>_vert.npy`) or a folder holding exactly one.

    Returns:
        The scene (see read_ply, read_pcd, read_npz, read_scannet_export).

    Raises:
        OccusegError: missing path, unsupported suffix (the message lists the supported ones),
            or any problem the format's reader reports.
    """
    path = Path(path)
    if path.is_dir() or export_layout(path) is not None:
        return read_scannet_export(path)
    suffix = path.suffix.lower()
    readers = {".ply": read_ply, ".pcd": read_pcd, ".npz": read_npz}
    if suffix not in readers:
        raise OccusegError(f"{path}: unsupported scene file; supported: {', '.join(READABLE)}")
    if not path.is_file():
        raise OccusegError(f"{path}: no such file")
    return readers[suffix](path)


def write_scene(scene: Scene, path: str | Path) -> None:
    """Writes a scene atomically, choosing the format from the suffix (defaults of each writer:
    binary PLY, binary PCD, compressed NPZ).

    Args:
        scene: the scene.
        path: destination ending in .ply, .pcd or .npz (case ignored).

    Raises:
        OccusegError: unsupported suffix (the message lists the supported ones), or the file
            cannot be written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".ply":
        write_ply(path, scene)
    elif suffix == ".pcd":
        write_pcd(path, scene)
    elif suffix == ".npz":
        try:
            write_npz(scene, path)
        except OSError as error:
            raise OccusegError(f"{path}: cannot write ({error.strerror or error})") from None
    else:
        what = suffix or "files without a suffix"
        raise OccusegError(f"{path}: cannot write {what}; supported: {', '.join(WRITABLE)}")
