"""Scenes from the ScanNet npy exports, in the two layouts that tools write:

"all" layout (full-resolution export of every mesh vertex):

    <scene>_vert_all.npy       float32 (N, 6) x y z r g b: axis-aligned metres, colours 0..255
    <scene>_sem_label_all.npy  uint32 (N,) NYU40 class id, 0 = unannotated (optional)
    <scene>_ins_label_all.npy  uint32 (N,) instance id (objectId + 1), 0 = none (optional)

The rows are the vertices of `<scene>_vh_clean_2.ply` in mesh order (that mesh is not axis
aligned; the export applied the scene's rigid axis alignment to xyz). When that mesh (or a
`<scene>_vh_clean_2.labels*.ply` with the same vertices) lies beside the export, its faces are
attached to the scene, so the pipeline can use ScanNet-compatible mesh supervoxels: the
decimated vertices alone are too sparse at 2 cm for good point-cloud supervoxels.

"votenet" layout (votenet's and mmdetection3d's `batch_load_scannet_data.py`):

    <scene>_vert.npy                (N, 6) x y z r g b, colours 0..255
    <scene>_sem_label.npy           (N,) NYU40 class id, 0 = unannotated
    <scene>_ins_label.npy           (N,) instance id, 0 = none
    <scene>_axis_align_matrix.npy   (4, 4) ScanNet's axisAlignment (mmdetection3d only)

votenet writes axis-aligned xyz of a random 50,000-vertex subsample; mmdetection3d writes every
vertex unaligned and the alignment beside it, which this reader then applies
(x' = M @ [x y z 1]). Other files of those tools (`_bbox.npy`, ...) are not read.

In both layouts the label files are optional for unlabelled scans, but they come as a pair: one
without the other, or either with another length than the vertices, is refused by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from occuseg_core.errors import OccusegError
from occuseg_core.types import Scene


@dataclass(frozen=True)
class ExportLayout:
    """File name suffixes of one npy export layout (see the module docstring)."""

    name: str
    vertices: str
    semantic: str
    instance: str


EXPORT_LAYOUTS = (
    ExportLayout("all", "_vert_all.npy", "_sem_label_all.npy", "_ins_label_all.npy"),
    ExportLayout("votenet", "_vert.npy", "_sem_label.npy", "_ins_label.npy"),
)
VERTICES_SUFFIXES = tuple(layout.vertices for layout in EXPORT_LAYOUTS)
VERTICES_SUFFIX = EXPORT_LAYOUTS[0].vertices  # the full-resolution layout's
AXIS_ALIGN_SUFFIX = "_axis_align_matrix.npy"


def export_layout(path: str | Path) -> ExportLayout | None:
    """The layout whose vertex file `path` names (by its suffix), or None."""
    name = Path(path).name
    for layout in EXPORT_LAYOUTS:
        if name.endswith(layout.vertices) and name != layout.vertices:
            return layout
    return None


def export_scene_name(path: str | Path) -> str:
    """`<scene>` of a vertex file `<scene>_vert_all.npy` or `<scene>_vert.npy`."""
    layout = export_layout(path)
    if layout is None:
        raise OccusegError(f"{path}: not a ScanNet export vertex file")
    return Path(path).name[: -len(layout.vertices)]


def export_vertex_files(folder: str | Path) -> list[Path]:
    """Every vertex file of either layout in `folder`, sorted by name."""
    folder = Path(folder)
    found = {p for suffix in VERTICES_SUFFIXES for p in folder.glob("*" + suffix)}
    return sorted(p for p in found if p.is_file() and export_layout(p) is not None)


def find_scannet_export(path: str | Path) -> Path:
    """The vertex file (`<scene>_vert_all.npy` or `<scene>_vert.npy`) named by `path`.

    Args:
        path: the vertex file itself, or a folder holding exactly one.

    Raises:
        OccusegError: missing path, not a vertex file of either layout, or a folder with none
            or several of them.
    """
    path = Path(path)
    if path.is_dir():
        found = export_vertex_files(path)
        if len(found) != 1:
            names = [p.name for p in found]
            raise OccusegError(
                f"{path}: expected exactly one *{VERTICES_SUFFIX} or *_vert.npy file in the"
                f" folder, found {len(found)} {names[:6]}{' ...' if len(names) > 6 else ''}"
            )
        return found[0]
    if not path.is_file():
        raise OccusegError(f"{path}: no such file")
    if export_layout(path) is None:
        raise OccusegError(
            f"{path}: not a ScanNet export (name must end in {' or '.join(VERTICES_SUFFIXES)})"
        )
    return path


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise OccusegError(f"{path}: not a readable .npy file ({error})") from None


def _load_labels(path: Path, n: int) -> np.ndarray:
    labels = _load_npy(path)
    if labels.shape != (n,) or labels.dtype.kind not in "iu":
        raise OccusegError(
            f"{path}: expected ({n},) integer labels, one per row of the vertex file; got"
            f" {labels.shape} {labels.dtype}"
        )
    if labels.size and labels.min() < 0:
        raise OccusegError(f"{path}: labels must be >= 0; got {labels.min()}")
    return labels.astype(np.int64)


def _label_pair(
    folder: Path, scene_name: str, layout: ExportLayout, n: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    semantic_path = folder / (scene_name + layout.semantic)
    instance_path = folder / (scene_name + layout.instance)
    present = [semantic_path.is_file(), instance_path.is_file()]
    if not any(present):
        return None, None
    if not all(present):
        have, lack = (semantic_path, instance_path) if present[0] else (instance_path,
                                                                       semantic_path)  # fmt: skip
        raise OccusegError(f"{lack}: no such file, but {have.name} is there (labels come as a"
                           " semantic / instance pair)")  # fmt: skip
    return _load_labels(semantic_path, n), _load_labels(instance_path, n)


def _axis_alignment(folder: Path, scene_name: str) -> np.ndarray | None:
    path = folder / (scene_name + AXIS_ALIGN_SUFFIX)
    if not path.is_file():
        return None
    matrix = _load_npy(path)
    if matrix.shape != (4, 4) or matrix.dtype.kind not in "iuf" or not np.all(np.isfinite(matrix)):
        raise OccusegError(f"{path}: expected a finite (4, 4) matrix; got {matrix.shape}"
                           f" {matrix.dtype}")  # fmt: skip
    return matrix.astype(np.float64)


def find_export_mesh(vertices_path: str | Path, n: int) -> tuple[Path, np.ndarray] | None:
    """The scan's own mesh beside an export, as `read_scannet_export` attaches its faces.

    Args:
        vertices_path: the export's vertex file (`<scene>_vert_all.npy` or `<scene>_vert.npy`).
        n: its number of vertices.

    Returns:
        (the mesh file, its (F, 3) faces) for the first of `<scene>_vh_clean_2.ply`,
        `<scene>_vh_clean_2.labels*.ply` (sorted) that exists with n vertices and faces; else None.
    """
    from occuseg_core.io.ply import read_ply

    folder, scene_name = Path(vertices_path).parent, export_scene_name(vertices_path)
    candidates = [folder / f"{scene_name}_vh_clean_2.ply"]
    candidates += sorted(folder.glob(f"{scene_name}_vh_clean_2.labels*.ply"))
    for mesh_path in candidates:
        if mesh_path.is_file():
            mesh = read_ply(mesh_path)
            if mesh.num_points == n and mesh.faces is not None:
                return mesh_path, mesh.faces
    return None


def read_scannet_export(path: str | Path, *, with_mesh_faces: bool = True) -> Scene:
    """Reads one scene of a ScanNet npy export, either layout (see the module docstring).

    Args:
        path: `<scene>_vert_all.npy` or `<scene>_vert.npy`, or a folder holding exactly one
            such file; the label files (and an mmdetection3d axis alignment) beside it are read
            when present.
        with_mesh_faces: attach the faces of `<scene>_vh_clean_2[.labels*].ply` when present
            and it has the same number of vertices (see the module docstring and
            `find_export_mesh`, which says which file that was).

    Returns:
        Scene named `<scene>` with axis-aligned xyz, colours / 255 and, when the files exist,
        NYU40 semantic ids and instance ids (int64; 0 = unannotated).

    Raises:
        OccusegError: see `find_scannet_export`; unreadable .npy, vertices not (N, 6) numbers,
            colours outside 0..255, one label file without the other, label files of the wrong
            shape, a bad alignment matrix, or contents a Scene rejects.
    """
    vertices_path = find_scannet_export(path)
    layout = export_layout(vertices_path)
    scene_name = export_scene_name(vertices_path)
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
    semantic, instance = _label_pair(folder, scene_name, layout, n)
    xyz = vertices[:, :3]
    matrix = _axis_alignment(folder, scene_name)
    if matrix is not None:
        xyz = (xyz.astype(np.float64) @ matrix[:3, :3].T + matrix[:3, 3]).astype(np.float32)
    mesh = find_export_mesh(vertices_path, n) if with_mesh_faces else None
    try:
        return Scene(
            xyz=xyz, colors=rgb / 255.0, semantic=semantic, instance=instance,
            faces=None if mesh is None else mesh[1], name=scene_name,
        )  # fmt: skip
    except ValueError as error:
        raise OccusegError(f"{vertices_path}: {error}") from None
