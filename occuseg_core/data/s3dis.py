"""S3DIS rooms as labelled `Scene`s, read from the release's per-object annotation files.

Layout (Stanford3dDataset_v1.2_Aligned_Version, ROOT may be that folder or its parent):

    ROOT/Area_<k>/<room>/Annotations/<class>_<n>.txt   one object: lines "x y z r g b"
                                                       (metres; colours 0..255)

Each room becomes one Scene named `Area_<k>_<room>`: the concatenation of its annotation files
(sorted by class, then number), `semantic` = the class's 1-based position in the S3DIS13 table
(ceiling 1 ... clutter 13), `instance` = 1..K, one per annotation file. The room's own
`<room>.txt` is never read: it holds the same points without labels (and Area_3/hallway_2's copy
has a malformed line of its own).

Known defects of the real release, handled here:
- Area_5/hallway_6/Annotations/ceiling_1.txt line 180389 holds a NUL byte (0x00) where a space
  belongs ("185<NUL>187" for "185 187"). Every NUL byte is read as a space, which restores the
  line; any line that still does not hold exactly six numbers raises an error naming the file and
  line.
- Area_5/office_36/Annotations holds both `wall_3.txt` and a copy named `wall_3 (1).txt`. Files
  whose name is not `<class>_<number>.txt` are skipped with a warning, so the copy is not read
  twice.
- Some rooms have `stairs_<n>.txt` objects, a class outside the 13; they count as clutter (as in
  the usual 13-class protocol). Any other unknown class raises an error naming the file.
- Empty annotation files are skipped with a warning. Hidden files (.DS_Store) and non-folders in
  the area folders (macOS `Icon` files) are ignored.

Splits: `area<k>-train` / `area<k>-val` hold out area k (val = Area_k, train = the other five);
`fold<k>-train` / `fold<k>-val` are the same for 6-fold cross-validation (fold k = area k). The
paper's S3DIS numbers use area5 (Area 5 held out) and 6-fold; "all" is every area.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import numpy as np

from occuseg_core.classes import S3DIS13
from occuseg_core.data.scene_reader import SceneReader
from occuseg_core.errors import OccusegError
from occuseg_core.io._files import read_file_bytes
from occuseg_core.types import Scene

RELEASE_FOLDER = "Stanford3dDataset_v1.2_Aligned_Version"
AREAS: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
CLASS_IDS: dict[str, int] = {name: i + 1 for i, name in enumerate(S3DIS13.names)}
"""S3DIS class name -> semantic id (1..13, the S3DIS13 table's order)."""
CLASS_ALIASES: dict[str, str] = {"stairs": "clutter"}
"""Classes of the release outside the 13, and the class they are counted as."""
_OBJECT_FILE = re.compile(r"([A-Za-z]+)_(\d+)\.txt\Z")
_SPLIT = re.compile(r"(area|fold)([1-6])-(train|val)\Z")


def split_areas(split: str) -> tuple[int, ...]:
    """The areas of a split name.

    Args:
        split: "area<k>-train", "area<k>-val", "fold<k>-train", "fold<k>-val" (k = 1..6) or "all".

    Returns:
        Area numbers, ascending: val = (k,), train = the other five.

    Raises:
        OccusegError: unknown split name (the message lists the forms).
    """
    if split == "all":
        return AREAS
    match = _SPLIT.match(split)
    if not match:
        raise OccusegError(
            f"unknown S3DIS split {split!r}; use area<k>-train / area<k>-val or fold<k>-train /"
            " fold<k>-val with k = 1..6 (val = Area_k), or all"
        )
    held_out = int(match.group(2))
    return (held_out,) if match.group(3) == "val" else tuple(a for a in AREAS if a != held_out)


def find_release_root(root: str | Path) -> Path:
    """The folder holding Area_1..Area_6: `root`, or its Stanford3dDataset_v1.2_Aligned_Version.

    Raises:
        OccusegError: neither holds an Area_<k> folder.
    """
    root = Path(root)
    for candidate in (root, root / RELEASE_FOLDER):
        if candidate.is_dir() and any(candidate.glob("Area_[1-6]")):
            return candidate
    raise OccusegError(
        f"{root}: no Area_1..Area_6 folders here or in {RELEASE_FOLDER}/ (expected the S3DIS"
        " release, Stanford3dDataset_v1.2_Aligned_Version)"
    )


def list_rooms(release_root: Path, areas: tuple[int, ...]) -> list[Path]:
    """Room folders of the given areas, by area then room name.

    Raises:
        OccusegError: a missing area folder, or a room without an Annotations folder.
    """
    rooms = []
    for area in areas:
        area_dir = release_root / f"Area_{area}"
        if not area_dir.is_dir():
            raise OccusegError(f"{area_dir}: area folder not found (the split needs it)")
        for room in sorted(p for p in area_dir.iterdir() if p.is_dir()):
            if room.name.startswith("."):
                continue
            if not (room / "Annotations").is_dir():
                raise OccusegError(f"{room / 'Annotations'}: annotation folder not found")
            rooms.append(room)
    return rooms


def annotation_files(room: Path) -> list[tuple[Path, int]]:
    """A room's object files with their semantic ids, sorted by (class, number).

    Returns:
        [(path, semantic id 1..13)]; files not named `<class>_<number>.txt` are skipped with a
        warning (see the module docstring).

    Raises:
        OccusegError: a file of a class outside the 13 (and the aliases).
    """
    found = []
    for path in (room / "Annotations").glob("*.txt"):
        match = _OBJECT_FILE.match(path.name)
        if path.name.startswith("."):
            continue
        if not match:
            warnings.warn(f"{path}: skipped, not named <class>_<number>.txt", stacklevel=2)
            continue
        name = CLASS_ALIASES.get(match.group(1), match.group(1))
        if name not in CLASS_IDS:
            raise OccusegError(
                f"{path}: unknown S3DIS class {match.group(1)!r}; known: {sorted(CLASS_IDS)}"
            )
        found.append((match.group(1), int(match.group(2)), path, CLASS_IDS[name]))
    return [(path, class_id) for *_, path, class_id in sorted(found)]


def _first_bad_line(text: bytes) -> tuple[int, str]:
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        try:
            ok = not words or (len(words) == 6 and all(np.isfinite(float(w)) for w in words))
        except ValueError:
            ok = False
        if not ok:
            return number, line.decode("utf-8", errors="replace")[:80]
    return 0, ""


def read_annotation_points(path: str | Path) -> np.ndarray:
    """The points of one annotation file.

    Args:
        path: `<class>_<n>.txt` with lines "x y z r g b"; NUL bytes are read as spaces.

    Returns:
        (P, 6) float64 rows x y z (metres) r g b (0..255); (0, 6) for an empty file.

    Raises:
        OccusegError: unreadable file, a line without exactly six finite numbers (line
            named), or colours outside 0..255.
    """
    path, data = read_file_bytes(path)
    text = data.replace(b"\x00", b" ")
    if not text.strip():
        return np.empty((0, 6), np.float64)
    try:
        points = np.loadtxt(io.BytesIO(text), dtype=np.float64, ndmin=2, comments=None)
    except ValueError:
        points = None
    if points is None or points.shape[1] != 6 or not np.all(np.isfinite(points)):
        line, content = _first_bad_line(text)
        where = f"line {line} ({content!r})" if line else "a line"
        raise OccusegError(f"{path}: {where} is not six numbers x y z r g b")
    rgb = points[:, 3:]
    if rgb.min() < 0 or rgb.max() > 255:
        raise OccusegError(f"{path}: colours must lie in 0..255; got [{rgb.min()}, {rgb.max()}]")
    return points


def read_s3dis_room(room: str | Path, name: str | None = None) -> Scene:
    """One room as a labelled Scene (see the module docstring).

    Args:
        room: ROOT/Area_<k>/<room>.
        name: scene name, default `Area_<k>_<room>`.

    Returns:
        Scene with xyz (metres), colours, semantic ids 1..13 and instance ids 1..K.

    Raises:
        OccusegError: a corrupt annotation file (named), or a room without points.
    """
    room = Path(room)
    name = name or f"{room.parent.name}_{room.name}"
    chunks, semantic, instance = [], [], []
    for path, class_id in annotation_files(room):
        points = read_annotation_points(path)
        if len(points) == 0:
            warnings.warn(f"{path}: empty annotation file skipped", stacklevel=2)
            continue
        chunks.append(points)
        semantic.append(np.full(len(points), class_id, np.int64))
        instance.append(np.full(len(points), len(chunks), np.int64))
    if not chunks:
        raise OccusegError(f"{room / 'Annotations'}: no annotated points in the room")
    points = np.concatenate(chunks)
    try:
        return Scene(
            xyz=points[:, :3], colors=np.round(points[:, 3:]).astype(np.uint8),
            semantic=np.concatenate(semantic), instance=np.concatenate(instance), name=name,
        )  # fmt: skip
    except ValueError as error:
        raise OccusegError(f"{room}: {error}") from None


class S3DISRooms(SceneReader):
    """The rooms of one S3DIS split (see the module docstring for layout, labels and splits).

    Args:
        root: Stanford3dDataset_v1.2_Aligned_Version, or the folder holding it.
        split: "area5-train", "area5-val", "fold1-train" ... "fold6-val", or "all".

    Raises:
        OccusegError: unknown split, missing area folder, or a room without Annotations.
            Annotation files are read on indexing.
    """

    CLASS_TABLE = "s3dis13"
    LABEL_SPACE = "s3dis13"
    DEFAULT_SPLITS = ("area5-train", "area5-val")

    def __init__(self, root: str | Path, split: str) -> None:
        self.root, self.split = Path(root), split
        areas = split_areas(split)
        self.release_root = find_release_root(self.root)
        self._rooms = tuple(list_rooms(self.release_root, areas))
        if not self._rooms:
            raise OccusegError(f"{self.release_root}: no rooms in the areas of split {split!r}")
        self.scene_names = tuple(f"{r.parent.name}_{r.name}" for r in self._rooms)

    def _read(self, index: int) -> Scene:
        return read_s3dis_room(self._rooms[index], self.scene_names[index])
