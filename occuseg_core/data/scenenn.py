"""SceneNN scenes as labelled `Scene`s, read from the release's annotated meshes.

Layout (the instance-level release, http://www.scenenn.net, one folder per three-digit id):

    ROOT/<id>/<id>.ply   reconstructed mesh: x y z, colours, faces, and a per-vertex integer
                         `label` property, the id of the object the vertex belongs to
    ROOT/<id>/<id>.xml   <annotation> with one <label id=".." nyu_class=".." text=".." ...> per
                         object (other attributes, e.g. bounding boxes, are ignored)

`ROOT/<id>.ply` + `ROOT/<id>.xml` side by side are accepted too.

Labels: a vertex whose `label` is an object of the XML gets `semantic` = the NYU40 id of the
object's `nyu_class` and an `instance` id 1..K (objects numbered in ascending label id);
everything else (label 0, ids missing from the XML, unknown classes) is 0/0. The paper's Table 4
evaluates ten classes of these NYU40 ids (the `scenenn10` class table: wall, floor, cabinet, bed,
chair, sofa, table, desk, television, prop = otherprop); the others are ignored by training.

Uncertainties (we had no SceneNN file to check against; what is known comes from the release's
README and public code that reads it): the spelling of `nyu_class` values. They are matched to
NYU40 names ignoring case, spaces, "_" and "-" ("night_stand" = "night stand"), with the
aliases in `NYU40_ALIASES` ("prop" = otherprop, "tv" = television, ...) and plain numbers 1..40
read as ids; unmatched names are left unannotated with a warning naming the file, so a
spelling we did not foresee shows up instead of silently vanishing. Splits: JSIS3D's SceneNN
train/test scene lists are not published with the release, so splits come from list files:
ROOT/<split>.txt (one id a line) or `split_file`; "all" is every scene of ROOT.
"""

from __future__ import annotations

import re
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from occuseg_core.classes import NYU40_NAMES
from occuseg_core.data.scannet import ALL_SPLIT, read_scene_list
from occuseg_core.data.scene_reader import SceneReader
from occuseg_core.errors import OccusegError
from occuseg_core.io.ply import read_ply_with_properties
from occuseg_core.types import Scene

LABEL_PROPERTY = "label"
NYU40_ALIASES: dict[str, int] = {
    "prop": 40, "furniture": 39, "structure": 38, "tv": 25, "fridge": 24, "refridgerator": 24,
    "nightstand": 32, "bookcase": 10, "whiteboard": 30, "bathtub": 36,
}  # fmt: skip
"""Extra spellings (squashed: lower case, no spaces, "_" or "-") -> NYU40 id."""


def _squash(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name.strip().lower())


_NYU40_BY_NAME: dict[str, int] = {_squash(n): i for i, n in NYU40_NAMES.items()} | NYU40_ALIASES


def nyu40_id(nyu_class: str | None) -> int:
    """The NYU40 id of a SceneNN `nyu_class` value.

    Args:
        nyu_class: a NYU40 class name in any spelling the module docstring lists, or "1".."40".

    Returns:
        1..40, or 0 when the name is empty or unknown.
    """
    if not nyu_class:
        return 0
    text = nyu_class.strip()
    if text.isdigit():
        return int(text) if 1 <= int(text) <= 40 else 0
    return _NYU40_BY_NAME.get(_squash(text), 0)


def read_scenenn_objects(path: str | Path) -> dict[int, int]:
    """The objects of a SceneNN annotation XML.

    Args:
        path: `<id>.xml`.

    Returns:
        {label id: NYU40 id (0 when the nyu_class is unknown)}; unknown classes are reported
        with one warning naming the file.

    Raises:
        OccusegError: unreadable or malformed XML, or a <label> without an integer id, or a
            duplicate id.
    """
    path = Path(path)
    if not path.is_file():
        raise OccusegError(f"{path}: no such file")
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as error:
        raise OccusegError(f"{path}: not a readable XML annotation ({error})") from None
    objects, unknown = {}, set()
    for element in root.iter("label"):
        try:
            label_id = int(element.get("id", ""))
        except ValueError:
            raise OccusegError(f'{path}: <label> with id {element.get("id")!r}; need an integer'
                               ) from None  # fmt: skip
        if label_id in objects:
            raise OccusegError(f"{path}: label id {label_id} is defined twice")
        nyu_class = element.get("nyu_class", "")
        objects[label_id] = nyu40_id(nyu_class)
        if objects[label_id] == 0:
            unknown.add(nyu_class)
    if unknown:
        warnings.warn(
            f"{path}: nyu_class {sorted(unknown)} not NYU40 classes; those objects are left"
            " unannotated",
            stacklevel=2,
        )
    return objects


def scenenn_vertex_labels(
    vertex_label: np.ndarray, objects: dict[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertex NYU40 ids and instance ids from the mesh's `label` and the XML objects.

    Args:
        vertex_label: (N,) integer object id of each vertex.
        objects: {label id: NYU40 id}; ids with NYU40 id 0 count as unannotated.

    Returns:
        (semantic, instance): (N,) int64; instance 1..K numbers the annotated objects in
        ascending label id; both 0 where unannotated.
    """
    vertex_label = np.asarray(vertex_label).astype(np.int64)
    ids = np.array(sorted(k for k, v in objects.items() if v > 0), dtype=np.int64)
    if ids.size == 0:
        return np.zeros(vertex_label.shape, np.int64), np.zeros(vertex_label.shape, np.int64)
    classes = np.array([objects[k] for k in ids.tolist()], dtype=np.int64)
    slot = np.minimum(np.searchsorted(ids, vertex_label), ids.size - 1)
    found = ids[slot] == vertex_label
    return np.where(found, classes[slot], 0), np.where(found, slot + 1, 0)


def scene_files(root: Path, name: str) -> tuple[Path, Path]:
    """(ply, xml) of scene `name`: ROOT/<name>/<name>.ply or ROOT/<name>.ply, and the .xml."""
    folder = root / name if (root / name).is_dir() else root
    return folder / f"{name}.ply", folder / f"{name}.xml"


def read_scenenn_scene(ply_path: str | Path, xml_path: str | Path, name: str) -> Scene:
    """One SceneNN scene as a labelled mesh Scene (see the module docstring).

    Raises:
        OccusegError: a missing or corrupt file, or a mesh without a `label` vertex property.
    """
    ply_path = Path(ply_path)
    objects = read_scenenn_objects(xml_path)
    mesh, properties = read_ply_with_properties(ply_path)
    vertex_label = properties.get(LABEL_PROPERTY)
    if vertex_label is None or vertex_label.dtype.kind not in "iu":
        raise OccusegError(f"{ply_path}: no integer per-vertex {LABEL_PROPERTY!r} property")
    semantic, instance = scenenn_vertex_labels(vertex_label, objects)
    try:
        return mesh.replace(semantic=semantic, instance=instance, name=name)
    except ValueError as error:
        raise OccusegError(f"{ply_path}: {error}") from None


def _all_scene_names(root: Path) -> tuple[str, ...]:
    in_folders = {p.name for p in root.iterdir() if p.is_dir() and (p / f"{p.name}.ply").is_file()}
    names = tuple(sorted(in_folders | {p.stem for p in root.glob("*.ply")}))
    if not names:
        raise OccusegError(f"{root}: no SceneNN scenes (<id>/<id>.ply) found")
    return names


class SceneNNScenes(SceneReader):
    """One split of SceneNN (see the module docstring for layout, labels and splits).

    Args:
        root: the release folder holding `<id>/<id>.ply` and `<id>/<id>.xml`.
        split: a list name (ROOT/<split>.txt) or "all".
        split_file: list of scene ids to use instead of ROOT/<split>.txt.

    Raises:
        OccusegError: missing folder or split list, or a listed scene without its .ply or .xml.
            The files are read on indexing.
    """

    CLASS_TABLE = "scenenn10"
    LABEL_SPACE = "nyu40"
    DEFAULT_SPLITS = ("train", "val")

    def __init__(self, root: str | Path, split: str, split_file: str | Path | None = None) -> None:
        self.root, self.split = Path(root), split
        if not self.root.is_dir():
            raise OccusegError(f"{self.root}: SceneNN folder not found")
        if split_file is not None:
            names = read_scene_list(split_file)
        elif split == ALL_SPLIT:
            names = _all_scene_names(self.root)
        else:
            path = self.root / f"{split}.txt"
            if not path.is_file():
                raise OccusegError(f"{path}: split list not found (one scene id a line; pass a"
                                   " split file or use split 'all')")  # fmt: skip
            names = read_scene_list(path)
        self.scene_names = names
        self._files = tuple(scene_files(self.root, name) for name in names)
        for (ply, xml), name in zip(self._files, names, strict=True):
            for path in (ply, xml):
                if not path.is_file():
                    raise OccusegError(f"{path}: no such file (scene {name!r} of {split!r})")

    def _read(self, index: int) -> Scene:
        ply, xml = self._files[index]
        return read_scenenn_scene(ply, xml, self.scene_names[index])
