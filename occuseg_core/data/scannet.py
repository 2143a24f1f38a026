"""ScanNet v2 scans as labelled `Scene`s, read from the original release or from the npy export.

Release layout (ScanNet's download script; ROOT is the folder given to the reader):

    ROOT/scans/<scene>/<scene>_vh_clean_2.ply                 mesh: x y z red green blue, faces
    ROOT/scans/<scene>/<scene>_vh_clean_2.0.010000.segs.json  {"segIndices": [segment per vertex]}
    ROOT/scans/<scene>/<scene>.aggregation.json               {"segGroups": [{"objectId", "label",
                                                               "segments"}, ...]}
    ROOT/scans/<scene>/<scene>.txt                            "axisAlignment = <16 numbers>", ...
    ROOT/scans_test/<scene>/...                               test scans: mesh and .txt, no labels
    ROOT/scannetv2-labels.combined.tsv                        raw category -> NYU40 id
    ROOT/scannetv2_{train,val,test}.txt                       official split lists

The split lists are not part of the scan download: ScanNet publishes them in its code repository
(Tasks/Benchmark/scannetv2_train.txt, _val.txt, _test.txt); copy them into ROOT or pass
`split_file`. Split "all" means every folder in ROOT/scans.

Labels: `semantic` is the NYU40 id of the object's raw category (column `nyu40id` of the tsv,
keyed by `raw_category`), `instance` is objectId + 1, both 0 where no object covers a vertex
(objects of categories missing from the tsv are skipped). Objects are painted in file order
through their mesh segments, so a segment claimed twice belongs to the later object. xyz is
axis aligned: M @ [x y z 1] with M the 4x4 row-major axisAlignment (identity when the .txt has
none). Mesh faces are kept, for mesh supervoxels. The benchmark's 20 semantic / 18 instance
classes are picked from the NYU40 ids later, by the `scannet20` class table.

Export layouts (see `occuseg_core.io.scannet`): ROOT/<scene>_vert_all.npy, _sem_label_all.npy,
_ins_label_all.npy (every vertex), or votenet's / mmdetection3d's ROOT/<scene>_vert.npy,
_sem_label.npy, _ins_label.npy (+ _axis_align_matrix.npy); both axis aligned when read. Split
lists: ROOT/scannetv2_<split>.txt or ROOT/<split>.txt (as `../shared/data/scannet_rooms` has
train.txt and val.txt), or `split_file`; "all" = every export in ROOT.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from occuseg_core.data.scene_reader import SceneReader
from occuseg_core.errors import OccusegError
from occuseg_core.io._files import read_json
from occuseg_core.io.ply import read_ply
from occuseg_core.io.scannet import (
    VERTICES_SUFFIXES,
    export_scene_name,
    export_vertex_files,
    read_scannet_export,
)
from occuseg_core.types import Scene

LABEL_MAP_NAME = "scannetv2-labels.combined.tsv"
MESH_SUFFIX = "_vh_clean_2.ply"
SEGMENTS_SUFFIX = "_vh_clean_2.0.010000.segs.json"
AGGREGATION_SUFFIX = ".aggregation.json"
SPLIT_LIST_PATTERN = "scannetv2_{split}.txt"
ALL_SPLIT = "all"


def read_scene_list(path: str | Path) -> tuple[str, ...]:
    """Scene names from a split list: one a line; blank lines and `#` comments are skipped.

    Args:
        path: text file, e.g. ScanNet's scannetv2_val.txt.

    Returns:
        The names in file order, without duplicates.

    Raises:
        OccusegError: unreadable file, no names, a duplicate, or a name that is not a plain
            file name (contains a path separator or starts with a dot).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise OccusegError(f"{path}: cannot read split list ({error})") from None
    names = [name for name in (line.split("#", 1)[0].strip() for line in lines) if name]
    for k, name in enumerate(names):
        if Path(name).name != name or name.startswith(".") or "\\" in name:
            raise OccusegError(f"{path}: {name!r} is not a scene name")
        if name in names[:k]:
            raise OccusegError(f"{path}: scene {name!r} is listed twice")
    if not names:
        raise OccusegError(f"{path}: split list is empty")
    return tuple(names)


def read_label_map(
    path: str | Path, key_column: str = "raw_category", value_column: str = "nyu40id"
) -> dict[str, int]:
    """ScanNet's label table: raw category -> NYU40 id.

    Args:
        path: scannetv2-labels.combined.tsv (tab separated, header row).
        key_column: column holding the aggregation's `label` strings.
        value_column: integer column to map to.

    Returns:
        {raw category: id}; rows with an empty id are left out.

    Raises:
        OccusegError: unreadable file, missing column, or a non-integer id (line named).
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f, delimiter="\t"))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise OccusegError(f"{path}: cannot read label table ({error})") from None
    header = rows[0] if rows else []
    missing = [c for c in (key_column, value_column) if c not in header]
    if missing:
        raise OccusegError(f"{path}: label table lacks column(s) {missing} (has {header[:8]})")
    key_at, value_at = header.index(key_column), header.index(value_column)
    table = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) <= max(key_at, value_at) or not row[value_at].strip():
            continue
        if not row[value_at].strip().isdigit():
            raise OccusegError(f"{path}: line {line}: {value_column} {row[value_at]!r} is not"
                               " an integer")  # fmt: skip
        table[row[key_at]] = int(row[value_at])
    return table


def read_axis_alignment(path: str | Path) -> np.ndarray:
    """The scene's axis alignment from its metadata `<scene>.txt`.

    Args:
        path: the .txt file with `key = value` lines.

    Returns:
        (4, 4) float64 row-major matrix M (aligned [x y z 1] = M @ [x y z 1]); identity when the
        file has no `axisAlignment` line.

    Raises:
        OccusegError: unreadable file, or an axisAlignment that is not 16 numbers.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as error:
        raise OccusegError(f"{path}: cannot read ({error.strerror or error})") from None
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() != "axisAlignment":
            continue
        try:
            matrix = np.array([float(word) for word in value.split()], np.float64).reshape(4, 4)
        except ValueError:  # not numbers, or not 16 of them
            matrix = np.full((4, 4), np.nan)
        if not np.all(np.isfinite(matrix)):
            raise OccusegError(f"{path}: axisAlignment must be 16 numbers; got {value.strip()!r}")
        return matrix
    return np.eye(4)


def read_segment_ids(path: str | Path, num_vertices: int) -> np.ndarray:
    """Per-vertex mesh segment ids from a `.segs.json` file.

    Args:
        path: the segments file.
        num_vertices: vertex count of the mesh it belongs to.

    Returns:
        (num_vertices,) int64 segment ids (>= 0).

    Raises:
        OccusegError: unreadable JSON, no `segIndices` list, wrong length, or bad ids.
    """
    path = Path(path)
    data = read_json(path)
    seg = data.get("segIndices") if isinstance(data, dict) else None
    if not isinstance(seg, list):
        raise OccusegError(f'{path}: no "segIndices" list')
    if len(seg) != num_vertices:
        raise OccusegError(f"{path}: {len(seg)} segment ids for a mesh of {num_vertices} vertices")
    try:
        ids = np.array(seg, dtype=np.int64).reshape(num_vertices)
    except (ValueError, TypeError, OverflowError):
        raise OccusegError(f'{path}: "segIndices" must be integers') from None
    if ids.size and ids.min() < 0:
        raise OccusegError(f'{path}: "segIndices" must be >= 0; got {ids.min()}')
    return ids


class ObjectGroup(NamedTuple):
    """One object of an aggregation file: `objectId` (0-based; instance id = object_id + 1),
    raw category `label` (a key of the label table), (S,) int64 mesh `segments`."""

    object_id: int
    label: str
    segments: np.ndarray


def read_object_groups(path: str | Path) -> list[ObjectGroup]:
    """The objects (`segGroups`) of an `.aggregation.json` file, in file order.

    Raises:
        OccusegError: unreadable JSON, no `segGroups` list, or a group without an integer
            objectId >= 0, a string label and a list of integer segments (index named).
    """
    path = Path(path)
    data = read_json(path)
    groups = data.get("segGroups") if isinstance(data, dict) else None
    if not isinstance(groups, list):
        raise OccusegError(f'{path}: no "segGroups" list')
    out = []
    for k, group in enumerate(groups):
        try:
            object_id, label = group["objectId"], group["label"]
            segments = np.array(group["segments"], dtype=np.int64).reshape(-1)
            if type(object_id) is not int or object_id < 0 or not isinstance(label, str):
                raise ValueError
        except (KeyError, TypeError, ValueError, OverflowError):
            raise OccusegError(
                f'{path}: segGroups[{k}] needs an integer "objectId" >= 0, a string "label" and'
                ' a list of integer "segments"'
            ) from None
        out.append(ObjectGroup(object_id, label, segments))
    return out


def vertex_labels(
    segment_ids: np.ndarray, groups: Sequence[ObjectGroup], label_map: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertex NYU40 ids and instance ids from the objects' segments.

    Args:
        segment_ids: (N,) int64 segment id of each vertex.
        groups: objects in file order; a later object wins a segment claimed twice.
        label_map: raw category -> NYU40 id; objects of other categories stay unannotated.

    Returns:
        (semantic, instance): (N,) int64 NYU40 id and objectId + 1, both 0 = unannotated.
    """
    segment_ids = np.asarray(segment_ids, dtype=np.int64)
    size = int(segment_ids.max(initial=-1)) + 1
    owner = np.full(size + 1, -1, dtype=np.int64)  # last slot: a sink for unknown segments
    kept = [g for g in groups if label_map.get(g.label, 0) > 0]
    for k, group in enumerate(kept):
        segments = group.segments[(group.segments >= 0) & (group.segments < size)]
        owner[segments] = k
    semantic_of = np.array([label_map[g.label] for g in kept] + [0], dtype=np.int64)
    instance_of = np.array([g.object_id + 1 for g in kept] + [0], dtype=np.int64)
    group = owner[segment_ids]  # -1 picks the trailing 0 of the tables above
    return semantic_of[group], instance_of[group]


def read_scannet_scan(
    scene_dir: str | Path, label_map: dict[str, int] | None = None, name: str | None = None
) -> Scene:
    """One scan folder of the release as an axis-aligned Scene (see the module docstring).

    Args:
        scene_dir: ROOT/scans/<scene> (or scans_test/<scene>).
        label_map: raw category -> NYU40 id; None reads no labels (test scans).
        name: scene name, default the folder name.

    Returns:
        Scene with xyz in metres (axis aligned), colours, faces, and NYU40 `semantic` /
        `instance` labels when `label_map` is given.

    Raises:
        OccusegError: a missing or corrupt file of the scan (named).
    """
    scene_dir = Path(scene_dir)
    name = name or scene_dir.name
    mesh = read_ply(scene_dir / f"{name}{MESH_SUFFIX}")
    txt = scene_dir / f"{name}.txt"
    if not txt.is_file():
        raise OccusegError(f"{txt}: no such file (the scan's metadata with its axisAlignment)")
    matrix = read_axis_alignment(txt)
    xyz = mesh.xyz.astype(np.float64) @ matrix[:3, :3].T + matrix[:3, 3]
    normals = None if mesh.normals is None else mesh.normals @ matrix[:3, :3].T.astype(np.float32)
    semantic = instance = None
    if label_map is not None:
        segment_ids = read_segment_ids(scene_dir / f"{name}{SEGMENTS_SUFFIX}", mesh.num_points)
        groups = read_object_groups(scene_dir / f"{name}{AGGREGATION_SUFFIX}")
        semantic, instance = vertex_labels(segment_ids, groups, label_map)
    try:
        return Scene(
            xyz=xyz, colors=mesh.colors, normals=normals, semantic=semantic, instance=instance,
            faces=mesh.faces, name=name,
        )  # fmt: skip
    except ValueError as error:
        raise OccusegError(f"{scene_dir}: {error}") from None


class ScanNetScans(SceneReader):
    """One split of ScanNet v2, from the release or the npy export (see the module docstring).

    Args:
        root: the release folder (holding scans/) or a folder of npy exports
            (`<scene>_vert_all.npy` or `<scene>_vert.npy` with their label files).
        split: "train", "val", "test" (read from ROOT/scannetv2_<split>.txt, or for an export
            folder ROOT/<split>.txt, or `split_file`), or "all".
        split_file: a list of scene names to use instead of ROOT/scannetv2_<split>.txt.
        label_map_file: the label table, default ROOT/scannetv2-labels.combined.tsv.

    Raises:
        OccusegError: root is neither layout, the split list or label table is missing, or a
            listed scene has no folder (or export file). Scene files are read on indexing.
    """

    CLASS_TABLE = "scannet20"
    LABEL_SPACE = "nyu40"
    DEFAULT_SPLITS = ("train", "val")

    def __init__(
        self, root: str | Path, split: str, split_file: str | Path | None = None,
        label_map_file: str | Path | None = None,
    ) -> None:  # fmt: skip
        self.root, self.split = Path(root), split
        if not self.root.is_dir():
            raise OccusegError(f"{self.root}: ScanNet folder not found")
        self.is_export = not (self.root / "scans").is_dir()
        self._exports: dict[str, list[Path]] = {}
        if self.is_export:
            for path in export_vertex_files(self.root):
                self._exports.setdefault(export_scene_name(path), []).append(path)
            if not self._exports:
                raise OccusegError(
                    f"{self.root}: not a ScanNet release (no scans/ folder) nor an npy export (no"
                    f" {' or '.join('*' + s for s in VERTICES_SUFFIXES)} files)"
                )
        self.scene_names = self._list_scenes(split_file)
        self._paths = tuple(self._locate(name) for name in self.scene_names)
        self.label_map: dict[str, int] | None = None
        if not self.is_export and any(p.parent.name == "scans" for p in self._paths):
            table = Path(label_map_file) if label_map_file else self.root / LABEL_MAP_NAME
            if not table.is_file():
                raise OccusegError(f"{table}: ScanNet label table not found (it ships with the"
                                   " release; pass its path otherwise)")  # fmt: skip
            self.label_map = read_label_map(table)

    def _list_scenes(self, split_file: str | Path | None) -> tuple[str, ...]:
        if split_file is not None:
            return read_scene_list(split_file)
        if self.split == ALL_SPLIT and self.is_export:
            return tuple(sorted(self._exports))
        if self.split == ALL_SPLIT:
            names = tuple(sorted(p.name for p in (self.root / "scans").iterdir() if p.is_dir()))
            if not names:
                raise OccusegError(f"{self.root / 'scans'}: no scan folders")
            return names
        path = self.root / SPLIT_LIST_PATTERN.format(split=self.split)
        short = self.root / f"{self.split}.txt"
        if not path.is_file() and self.is_export and short.is_file():
            return read_scene_list(short)
        if not path.is_file():
            also = f" (nor {short.name})" if self.is_export else ""
            raise OccusegError(
                f"{path}: split list not found{also}; copy ScanNet's Tasks/Benchmark/"
                f"{path.name} into the data root or pass a split file"
            )
        return read_scene_list(path)

    def _locate(self, name: str) -> Path:
        if self.is_export:
            paths = self._exports.get(name, [])
            if len(paths) > 1:
                raise OccusegError(f"{self.root}: scene {name!r} is exported twice"
                                   f" ({', '.join(p.name for p in paths)}); keep one")  # fmt: skip
            if not paths:
                expected = " or ".join(name + s for s in VERTICES_SUFFIXES)
                raise OccusegError(f"{self.root / (name + VERTICES_SUFFIXES[0])}: no such file"
                                   f" ({expected}; scene {name!r} of {self.split!r})")  # fmt: skip
            return paths[0]
        for folder in ("scans", "scans_test"):
            if (self.root / folder / name).is_dir():
                return self.root / folder / name
        raise OccusegError(f"{self.root / 'scans' / name}: scan folder not found (scene {name!r}"
                           f" of split {self.split!r}; not in scans_test/ either)")  # fmt: skip

    def _read(self, index: int) -> Scene:
        path = self._paths[index]
        if self.is_export:
            return read_scannet_export(path)
        labels = self.label_map if path.parent.name == "scans" else None
        return read_scannet_scan(path, labels, name=self.scene_names[index])
