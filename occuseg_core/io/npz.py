"""Scenes as NPZ: occuseg's own lossless format (datasets, intermediate results).

Keys (all but xyz and colors optional):
    xyz       (N, 3) float32  metres
    colors    (N, 3) uint8    RGB 0..255
    normals   (N, 3) float32  unit normals
    semantic  (N,)   int32    dataset class id (NYU40 for ScanNet/synthetic), 0 = unannotated
    instance  (N,)   int32    instance id, 0 = none
    faces     (M, 3) int32    triangle vertex indices (meshes)
    name      ()     str      scene name
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from occuseg_core.atomic import atomic_destination
from occuseg_core.errors import OccusegError
from occuseg_core.types import Scene


def write_npz(scene: Scene, path: str | Path, *, compressed: bool = True) -> None:
    """Writes a scene to `path` (.npz) atomically (temp file + rename)."""
    path = Path(path)
    arrays = {
        "xyz": scene.xyz.astype(np.float32),
        "colors": np.clip(np.round(scene.colors * 255.0), 0, 255).astype(np.uint8),
        "name": np.array(scene.name),
    }
    if scene.normals is not None:
        arrays["normals"] = scene.normals.astype(np.float32)
    if scene.semantic is not None:
        arrays["semantic"] = scene.semantic.astype(np.int32)
    if scene.instance is not None:
        arrays["instance"] = scene.instance.astype(np.int32)
    if scene.faces is not None:
        arrays["faces"] = scene.faces.astype(np.int32)
    with atomic_destination(path) as tmp, open(tmp, "wb") as f:
        (np.savez_compressed if compressed else np.savez)(f, **arrays)


def read_npz(path: str | Path) -> Scene:
    """Reads a scene written by `write_npz`.

    Raises:
        OccusegError: missing file, not an NPZ, missing `xyz`/`colors`, or invalid contents.
    """
    path = Path(path)
    if not path.is_file():
        raise OccusegError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise OccusegError(f"{path}: not a readable NPZ file ({error})") from None
    missing = [key for key in ("xyz", "colors") if key not in arrays]
    if missing:
        raise OccusegError(f"{path}: NPZ scene lacks {missing} (has {sorted(arrays)})")
    name = str(arrays["name"]) if "name" in arrays else path.stem
    try:
        return Scene(
            xyz=arrays["xyz"], colors=arrays["colors"], normals=arrays.get("normals"),
            semantic=arrays.get("semantic"), instance=arrays.get("instance"),
            faces=arrays.get("faces"), name=name,
        )  # fmt: skip
    except ValueError as error:
        raise OccusegError(f"{path}: {error}") from None
