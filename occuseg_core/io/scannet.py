"""Scenes from the ScanNet npy export (as made by mmdetection3d's ScanNet preparation):

    <scene>_vert_all.npy       float32 (N, 6) x y z r g b: axis-aligned metres, colours 0..255
    <scene>_sem_label_all.npy  uint32 (N,) NYU40 class id, 0 = unannotated (optional)
    <scene>_ins_label_all.npy  uint32 (N,) instance id (objectId + 1), 0 = none (optional)

The rows are the vertices of `<scene>_vh_clean_2.ply` in mesh order (that mesh is not axis
aligned; the export applied the scene's rigid axis alignment to xyz). When that mesh (or a
`<scene>_vh_clean_2.labels*.ply` with the same vertices) lies beside the export, its faces are
attached to the scene, so the pipeline can use ScanNet-compatible mesh supervoxels: the
decimated vertices alone are too sparse at 2 cm for good point-cloud supervoxels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from occuseg_core.errors import OccusegError
from occuseg_core.types import Scene

VERTICES_SUFFIX = "_vert_all.npy"
SEMANTIC_SUFFIX = "_sem_label_all.npy"
INSTANCE_SUFFIX = "_ins_label_all.npy"


def find_scannet_export(path: str | Path) -> Path:
    """The `<scene>_vert_all.npy` file named by `path`.

    Args:
        path: the `_vert_all.npy` file itself, or a folder holding exactly one.

    Raises:
        OccusegError: missing path, not a `_vert_all.npy` file, or a folder with none or
            several of them.
    """
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*" + VERTICES_SUFFIX))
        if len(found) != 1:
            names = [p.name for p in found]
            raise OccusegError(
                f"{path}: expected exactly one *{VERTICES_SUFFIX} file in the folder, found"
                f" {len(found)} {names}"
            )
        return found[0]
    if not path.is_file():
        raise OccusegError(f"{path}: no such file")
    if not path.name.endswith(VERTICES_SUFFIX) or path.name == VERTICES_SUFFIX:
        raise OccusegError(f"{path}: not a ScanNet export (name must end in {VERTICES_SUFFIX})")
    return path


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise OccusegError(f"{path}: not a readable .npy file ({error})") from None


def _load_labels(path: Path, n: int) -> np.ndarray | None:
    if not path.is_file():
        return None
    labels = _load_npy(path)
    if labels.shape != (n,) or labels.dtype.kind not in "iu":
        raise OccusegError(
            f"{path}: expected ({n},) integer labels; got {labels.shape} {labels.dtype}"
        )
    return labels.astype(np.int64)


def _sibling_mesh_faces(folder: Path, scene_name: str, n: int) -> np.ndarray | None:
    """Faces of the scan's own mesh beside the export, if one with n vertices exists."""
    from occuseg_core.io.ply import read_ply

    candidates = [folder / f"{scene_name}_vh_clean_2.ply"]
    candidates += sorted(folder.glob(f"{scene_name}_vh_clean_2.labels*.ply"))
    for mesh_path in candidates:
        if mesh_path.is_file():
            mesh = read_ply(mesh_path)
            if mesh.num_points == n and mesh.faces is not None:
                return mesh.faces
    return None


def read_scannet_export(path: str | Path, *, with_mesh_faces: bool = True) -> Scene:
    """Reads one scene of the ScanNet npy export.

    Args:
        path: `<scene>_vert_all.npy`, or a folder holding exactly one such file; the label
            files beside it are read when present.
        with_mesh_faces: attach the faces of `<scene>_vh_clean_2[.labels*].ply` when present
            and it has the same number of vertices (see the module docstring).

    Returns:
        Scene named `<scene>` with axis-aligned xyz, colours / 255 and, when the files exist,
        NYU40 semantic ids and instance ids (int64; 0 = unannotated).

    Raises:
        OccusegError: see `find_scannet_export`; unreadable .npy, vertices not (N, 6) numbers,
            colours outside 0..255, label files of the wrong shape, or contents a Scene rejects.
    """
    vertices_path = find_scannet_export(path)
    scene_name = vertices_path.name[: -len(VERTICES_SUFFIX)]
    vertices = _load_npy(vertices_path)
    if vertices.ndim != 2 or vertices.shape[1] != 6 or vertices.dtype.kind not in "iuf":
        raise OccusegError(
            f"{vertices_path}: expected (N, 6) x y z r g b numbers; got"
            f" {vertices.shape} {vertices.dtype}"
        )
    rgb = vertices[:, 3:6].astype(np.float32)
    if rgb.size and not (np.all(rgb >= 0.0) and np.all(rgb <= 255.0)):
        raise OccusegError(f"{vertices_path}: colours must lie in 0..255")
    folder, n = vertices_path.parent, len(vertices)
    try:
        return Scene(
            xyz=vertices[:, :3], colors=rgb / 255.0,
            semantic=_load_labels(folder / (scene_name + SEMANTIC_SUFFIX), n),
            instance=_load_labels(folder / (scene_name + INSTANCE_SUFFIX), n),
            faces=_sibling_mesh_faces(folder, scene_name, n) if with_mesh_faces else None,
            name=scene_name,
        )  # fmt: skip
    except ValueError as error:
        raise OccusegError(f"{vertices_path}: {error}") from None
