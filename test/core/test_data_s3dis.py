"""S3DIS reader: tiny Stanford3dDataset_v1.2_Aligned_Version trees in tmp_path, the release's
known defects (NUL byte, duplicate wall file, stairs), splits, and every corrupt-file case."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from occuseg_core.classes import S3DIS13
from occuseg_core.data.s3dis import (
    RELEASE_FOLDER,
    S3DISRooms,
    read_annotation_points,
    split_areas,
)
from occuseg_core.errors import OccusegError


def points_text(rows: list[tuple]) -> str:
    return "".join(" ".join(str(v) for v in row) + "\n" for row in rows)


def write_room(area_dir: Path, room: str, objects: dict[str, list[tuple]]) -> Path:
    annotations = area_dir / room / "Annotations"
    annotations.mkdir(parents=True)
    for name, rows in objects.items():
        (annotations / name).write_text(points_text(rows))
    # the room file holds the same points, unlabelled; the reader must not need it
    (area_dir / room / f"{room}.txt").write_text("not read\n")
    return area_dir / room


def one_object_room(area: int) -> dict[str, list[tuple]]:
    return {"floor_1.txt": [(area, 0.0, 0.0, 100, 100, 100), (area, 1.0, 0.0, 100, 100, 100)]}


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """Areas 1-6, one room each; Area_1 has a second room with every labelling detail."""
    root = tmp_path / RELEASE_FOLDER
    for area in range(1, 7):
        write_room(root / f"Area_{area}", "office_1", one_object_room(area))
    write_room(root / "Area_1", "conferenceRoom_1", {
        "chair_10.txt": [(0.5, 0.5, 0.5, 1, 2, 3)],
        "chair_2.txt": [(0.1, 0.2, 0.3, 4, 5, 6), (0.2, 0.2, 0.3, 7, 8, 9)],
        "ceiling_1.txt": [(0.0, 0.0, 3.0, 255, 255, 255)],
        "stairs_1.txt": [(1.0, 1.0, 0.2, 50, 50, 50)],
        "board_1.txt": [(2.0, 0.0, 1.5, 0, 0, 0)],
    })  # fmt: skip
    (root / "Area_1" / ".DS_Store").write_text("junk")
    (root / "Area_1" / "Icon\r").write_text("")
    return root


def test_room_labels_follow_the_class_table_and_the_object_files(release: Path) -> None:
    """Files sort by class then number: board_1, ceiling_1, chair_2, chair_10, stairs_1.
    Semantic ids are S3DIS13 positions + 1 (board 12, ceiling 1, chair 9); stairs count as
    clutter (13). Instances number the files 1..5."""
    rooms = S3DISRooms(release, "fold1-val")
    assert rooms.scene_names == ("Area_1_conferenceRoom_1", "Area_1_office_1")
    scene = rooms[0]
    assert S3DIS13.names[11] == "board" and S3DIS13.names[8] == "chair"
    assert scene.semantic.tolist() == [12, 1, 9, 9, 9, 13]
    assert scene.instance.tolist() == [1, 2, 3, 3, 4, 5]
    np.testing.assert_allclose(scene.xyz[2:5], [(0.1, 0.2, 0.3), (0.2, 0.2, 0.3), (0.5, 0.5, 0.5)])
    np.testing.assert_array_equal(np.round(scene.colors[2:5] * 255), [(4, 5, 6), (7, 8, 9),
                                                                       (1, 2, 3)])  # fmt: skip
    assert scene.faces is None and scene.name == "Area_1_conferenceRoom_1"


@pytest.mark.parametrize(
    ("split", "areas"),
    [
        ("area5-train", (1, 2, 3, 4, 6)),
        ("area5-val", (5,)),
        ("fold1-train", (2, 3, 4, 5, 6)),
        ("fold6-val", (6,)),
        ("all", (1, 2, 3, 4, 5, 6)),
    ],
)
def test_splits_hold_out_one_area(release: Path, split: str, areas: tuple[int, ...]) -> None:
    assert split_areas(split) == areas
    rooms = S3DISRooms(release.parent, split)  # the folder holding the release works too
    assert sorted({int(name.split("_")[1]) for name in rooms.scene_names}) == list(areas)


@pytest.mark.parametrize("split", ["area7-val", "fold0-train", "area5", "train"])
def test_unknown_split_lists_the_forms(release: Path, split: str) -> None:
    with pytest.raises(OccusegError, match="fold<k>-train"):
        S3DISRooms(release, split)


def test_nul_byte_of_area5_hallway6_is_read_as_a_space(tmp_path: Path) -> None:
    """Area_5/hallway_6/Annotations/ceiling_1.txt line 180389 reads "185<NUL>187 182"."""
    path = tmp_path / "ceiling_1.txt"
    path.write_bytes(b"22.383 6.858 3.050 155 155 165\n22.350 6.692 3.048 185\x00187 182\n")
    points = read_annotation_points(path)
    np.testing.assert_allclose(points[1], [22.350, 6.692, 3.048, 185, 187, 182])


def test_crlf_blank_lines_and_extra_spaces_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "wall_1.txt"
    path.write_bytes(b"1 2 3 4 5 6\r\n\r\n  7 8 9 10 11 12  \r\n")
    assert read_annotation_points(path).tolist() == [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]]


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"1 2 3 4 5 6\n1 2 3 4 5\n", r"line 2 \('1 2 3 4 5'\) is not six numbers"),
        (b"1 2 3 4 5 6\n1 2 3 4 x 6\n", r"line 2 .* is not six numbers"),
        (b"1 2 3 4 5 6 7\n", r"line 1 .* is not six numbers"),
        (b"1 2 3 4 5 nan\n", r"line 1 .* is not six numbers"),
        (b"1 2 3 4 5 256\n", r"colours must lie in 0\.\.255"),
    ],
)
def test_malformed_annotation_names_file_and_line(tmp_path: Path, content: bytes, error: str):
    path = tmp_path / "table_1.txt"
    path.write_bytes(content)
    with pytest.raises(OccusegError, match=rf"table_1\.txt: {error}"):
        read_annotation_points(path)


def test_duplicate_copy_and_empty_files_are_skipped_with_a_warning(release: Path) -> None:
    """Area_5/office_36 of the release holds wall_3.txt and its copy `wall_3 (1).txt`."""
    annotations = release / "Area_5" / "office_1" / "Annotations"
    (annotations / "wall_3.txt").write_text(points_text([(5, 5, 5, 1, 1, 1)]))
    (annotations / "wall_3 (1).txt").write_text(points_text([(5, 5, 5, 1, 1, 1)]))
    (annotations / "door_1.txt").write_text("")
    with pytest.warns(UserWarning) as caught:
        scene = S3DISRooms(release, "area5-val")[0]
    messages = " ".join(str(w.message) for w in caught)
    assert "wall_3 (1).txt: skipped" in messages and "door_1.txt: empty" in messages
    assert scene.num_points == 3 and scene.semantic.tolist() == [2, 2, 3]


def test_unknown_class_names_the_file(release: Path) -> None:
    annotations = release / "Area_5" / "office_1" / "Annotations"
    (annotations / "robot_1.txt").write_text(points_text([(5, 5, 5, 1, 1, 1)]))
    with pytest.raises(OccusegError, match=r"robot_1\.txt: unknown S3DIS class 'robot'"):
        S3DISRooms(release, "area5-val")[0]


def test_partial_release_names_what_is_missing(release: Path) -> None:
    import shutil

    shutil.rmtree(release / "Area_3")
    assert len(S3DISRooms(release, "area5-val")) == 1  # Area 5 alone is enough for val
    with pytest.raises(OccusegError, match=r"Area_3: area folder not found"):
        S3DISRooms(release, "area5-train")
    shutil.rmtree(release / "Area_5" / "office_1" / "Annotations")
    with pytest.raises(OccusegError, match=r"Area_5/office_1/Annotations: annotation folder"):
        S3DISRooms(release, "area5-val")


def test_room_without_points_and_missing_release_are_errors(release: Path, tmp_path: Path):
    (release / "Area_6" / "office_1" / "Annotations" / "floor_1.txt").write_text("\n")
    with pytest.warns(UserWarning, match="empty"):
        with pytest.raises(OccusegError, match="no annotated points"):
            S3DISRooms(release, "fold6-val")[0]
    with pytest.raises(OccusegError, match="no Area_1..Area_6 folders"):
        S3DISRooms(tmp_path / "nothing", "all")
