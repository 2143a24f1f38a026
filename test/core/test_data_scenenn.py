"""SceneNN reader: a six-vertex mesh with a per-vertex `label` property and its XML annotation,
the NYU40 name matching, splits from list files, and corrupt or partial scenes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from occuseg_core.data.scenenn import SceneNNScenes, nyu40_id, read_scenenn_objects
from occuseg_core.errors import OccusegError
from occuseg_core.io.ply import write_ply
from occuseg_core.types import Scene

VERTEX_LABELS = [0, 3, 3, 7, 9, 12]
XML = """<?xml version="1.0" encoding="UTF-8"?>
<annotation>
  <label id="3" color="120 45 200" nyu_class="chair" text="office chair" aabbox="0 0 0 1 1 1" />
  <label id="7" color="10 45 20" nyu_class="prop" text="mug" aabbox="0 0 0 1 1 1" />
  <label id="9" color="1 2 3" nyu_class="spaceship" text="toy" aabbox="0 0 0 1 1 1" />
  <label id="12" color="4 5 6" nyu_class="wall" text="wall" aabbox="0 0 0 1 1 1" />
</annotation>
"""


def write_scene(folder: Path, name: str, labels=VERTEX_LABELS, xml: str = XML) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    n = len(labels)
    mesh = Scene(
        xyz=np.arange(3 * n, dtype=np.float32).reshape(n, 3),
        colors=np.full((n, 3), 200, np.uint8),
        faces=np.array([[0, 1, 2], [3, 4, 5]]),
        name=name,
    )
    extra = {"alpha": np.full(n, 255, np.uint8), "label": np.asarray(labels, np.uint16)}
    write_ply(folder / f"{name}.ply", mesh, vertex_properties=extra)
    (folder / f"{name}.xml").write_text(xml)


@pytest.fixture
def release(tmp_path: Path) -> Path:
    root = tmp_path / "scenenn"
    write_scene(root / "005", "005")
    write_scene(root / "011", "011")
    (root / "train.txt").write_text("011\n")
    (root / "val.txt").write_text("005\n")
    return root


@pytest.mark.parametrize(
    ("name", "nyu40"),
    [
        ("wall", 1), ("Chair", 5), ("night_stand", 32), ("night stand", 32), ("nightstand", 32),
        ("shower-curtain", 28), ("otherprop", 40), ("prop", 40), ("tv", 25), ("television", 25),
        ("refridgerator", 24), ("14", 14), ("41", 0), ("", 0), (None, 0), ("spaceship", 0),
    ],
)  # fmt: skip
def test_nyu_class_names_map_to_nyu40_ids(name: str | None, nyu40: int) -> None:
    assert nyu40_id(name) == nyu40


def test_scene_labels_come_from_the_xml_objects(release: Path) -> None:
    """Vertex labels 0 3 3 7 9 12; objects 3 chair (5), 7 prop (40), 9 unknown, 12 wall (1).
    The annotated objects 3 < 7 < 12 become instances 1, 2, 3; label 0 and the unknown class
    stay 0/0."""
    with pytest.warns(UserWarning, match=r"005\.xml: nyu_class \['spaceship'\]"):
        scene = SceneNNScenes(release, "val")[0]
    assert scene.semantic.tolist() == [0, 5, 5, 40, 0, 1]
    assert scene.instance.tolist() == [0, 1, 1, 2, 0, 3]
    assert scene.name == "005" and scene.faces.tolist() == [[0, 1, 2], [3, 4, 5]]
    np.testing.assert_allclose(scene.colors, 200 / 255)


def test_vertex_label_missing_from_the_xml_is_unannotated(tmp_path: Path) -> None:
    write_scene(tmp_path, "076", labels=[3, 3, 3, 44, 44, 3], xml=XML.replace("spaceship", "bed"))
    scene = SceneNNScenes(tmp_path, "all")[0]
    assert scene.semantic.tolist() == [5, 5, 5, 0, 0, 5]
    assert scene.instance.tolist() == [1, 1, 1, 0, 0, 1]


def test_splits_from_lists_all_and_split_file(release: Path, tmp_path: Path) -> None:
    assert SceneNNScenes(release, "train").scene_names == ("011",)
    assert SceneNNScenes(release, "all").scene_names == ("005", "011")
    listed = tmp_path / "mine.txt"
    listed.write_text("011\n005\n")
    assert SceneNNScenes(release, "whatever", split_file=listed).scene_names == ("011", "005")
    with pytest.raises(OccusegError, match=r"test\.txt: split list not found"):
        SceneNNScenes(release, "test")


def test_flat_layout_is_accepted(tmp_path: Path) -> None:
    write_scene(tmp_path, "123", xml=XML.replace("spaceship", "bed"))
    scans = SceneNNScenes(tmp_path, "all")
    assert scans.scene_names == ("123",) and scans[0].semantic.tolist() == [0, 5, 5, 40, 4, 1]


@pytest.mark.parametrize(
    ("damage", "error"),
    [
        ("xml_missing", r"005/005\.xml: no such file"),
        ("xml_truncated", r"005\.xml: not a readable XML annotation"),
        ("xml_bad_id", r"005\.xml: <label> with id 'three'"),
        ("xml_duplicate_id", r"005\.xml: label id 3 is defined twice"),
        ("ply_without_label", r"005\.ply: no integer per-vertex 'label' property"),
        ("ply_truncated", r"005\.ply"),
    ],
)
@pytest.mark.filterwarnings("ignore:.*nyu_class:UserWarning")
def test_corrupt_or_partial_scene_names_the_file(release: Path, damage: str, error: str):
    folder = release / "005"
    xml, ply = folder / "005.xml", folder / "005.ply"
    if damage == "xml_missing":
        xml.unlink()
    elif damage == "xml_truncated":
        xml.write_text(XML[:120])
    elif damage == "xml_bad_id":
        xml.write_text(XML.replace('id="3"', 'id="three"'))
    elif damage == "xml_duplicate_id":
        xml.write_text(XML.replace('id="7"', 'id="3"'))
    elif damage == "ply_without_label":
        write_ply(ply, Scene(xyz=np.zeros((6, 3)), colors=np.zeros((6, 3)), name="005"))
    else:
        ply.write_bytes(ply.read_bytes()[:-20])
    with pytest.raises(OccusegError, match=error):
        SceneNNScenes(release, "val")[0]


def test_objects_of_the_xml(tmp_path: Path) -> None:
    path = tmp_path / "a.xml"
    path.write_text(XML.replace("spaceship", "Night_Stand"))
    assert read_scenenn_objects(path) == {3: 5, 7: 40, 9: 32, 12: 1}
