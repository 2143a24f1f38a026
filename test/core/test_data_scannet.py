"""ScanNet v2 reader: a six-vertex scan written in the release's file formats (hand-worked labels
and axis alignment), the npy export layout, every corrupt-file case, and the real scene0000_00."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from occuseg_core.data.scannet import (
    ScanNetScans,
    read_axis_alignment,
    read_label_map,
    read_scene_list,
)
from occuseg_core.errors import OccusegError

SCENE = "scene0042_00"
MESH_XYZ = [(1, 0, 0), (2, 0, 0), (1, 1, 0), (0, 0, 1), (0, 1, 1), (3, 3, 3)]
MESH_RGB = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (10, 20, 30), (40, 50, 60), (70, 80, 90)]
FACES = [(0, 1, 2), (3, 4, 5)]
SEGMENTS = [10, 10, 20, 20, 30, 40]
GROUPS = [  # objectId, raw category, segments
    (0, "chair", [10]),
    (1, "wall", [20, 30]),
    (2, "table", [30, 99]),  # claims segment 30 after the wall; segment 99 does not exist
    (3, "spaceship", [40]),  # not in the label table
]
TSV_ROWS = [("1", "wall", "1"), ("2", "chair", "5"), ("3", "table", "7"), ("4", "object", "")]
ALIGNMENT = "0 -1 0 10  1 0 0 0  0 0 1 -1  0 0 0 1"  # rotate +90 deg about z, then (10, 0, -1)
SCENE0000_ALIGNMENT = (  # scene0000_00.txt of the ScanNet v2 release
    "0.945519 0.325568 0.000000 -5.384390 -0.325568 0.945519 0.000000 -2.871780 "
    "0.000000 0.000000 1.000000 -0.064350 0.000000 0.000000 0.000000 1.000000"
)


def write_mesh(path: Path) -> None:
    """ASCII PLY with the vertex and face properties of a ScanNet _vh_clean_2.ply."""
    header = [
        "ply", "format ascii 1.0", "comment VCGLIB generated", f"element vertex {len(MESH_XYZ)}",
        "property float x", "property float y", "property float z", "property uchar red",
        "property uchar green", "property uchar blue", "property uchar alpha",
        f"element face {len(FACES)}", "property list uchar int vertex_indices", "end_header",
    ]  # fmt: skip
    rows = zip(MESH_XYZ, MESH_RGB, strict=True)
    vertices = [f"{x} {y} {z} {r} {g} {b} 255" for (x, y, z), (r, g, b) in rows]
    faces = [f"3 {a} {b} {c}" for a, b, c in FACES]
    path.write_text("\n".join(header + vertices + faces) + "\n")


def write_scan(folder: Path, name: str = SCENE, labels: bool = True) -> Path:
    scan = folder / name
    scan.mkdir(parents=True)
    write_mesh(scan / f"{name}_vh_clean_2.ply")
    (scan / f"{name}.txt").write_text(f"colorHeight = 968\naxisAlignment = {ALIGNMENT}\n")
    if labels:
        segs = {"params": {"kThresh": "0.0001"}, "sceneId": name, "segIndices": SEGMENTS}
        (scan / f"{name}_vh_clean_2.0.010000.segs.json").write_text(json.dumps(segs))
        groups = [{"id": i, "objectId": i, "segments": s, "label": label}
                  for i, label, s in GROUPS]  # fmt: skip
        aggregation = {"sceneId": f"scannet.{name}", "appId": "Aggregator.v2",
                       "segGroups": groups, "segmentsFile": "segs.json"}  # fmt: skip
        (scan / f"{name}.aggregation.json").write_text(json.dumps(aggregation))
    return scan


def write_label_table(path: Path, rows=TSV_ROWS) -> None:
    lines = ["id\traw_category\tcategory\tcount\tnyu40id\teigen13id\tnyuClass"]
    lines += [f"{i}\t{raw}\t{raw}\t1\t{nyu}\t1\t{raw}" for i, raw, nyu in rows]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def release(tmp_path: Path) -> Path:
    root = tmp_path / "scannet"
    write_scan(root / "scans", SCENE)
    write_scan(root / "scans", "scene0043_00")
    write_scan(root / "scans_test", "scene0707_00", labels=False)
    write_label_table(root / "scannetv2-labels.combined.tsv")
    (root / "scannetv2_train.txt").write_text(f"{SCENE}\n")
    (root / "scannetv2_val.txt").write_text("scene0043_00\n\n")
    (root / "scannetv2_test.txt").write_text("scene0707_00\n")
    return root


def test_scan_is_axis_aligned_with_tsv_labels_and_faces(release: Path) -> None:
    """M = [[0,-1,0,10],[1,0,0,0],[0,0,1,-1]]: (1,0,0) -> (10,1,-1), (0,1,1) -> (9,0,0), ...
    Segments 10 | 20 20 | 30 | 40: chair (id 5, objectId 0 -> instance 1) owns vertices 0-1, wall
    (1, instance 2) vertices 2-3; table (7, instance 3) claims segment 30 after the wall, so it
    wins vertex 4; "spaceship" is not in the tsv, so vertex 5 stays 0/0."""
    scans = ScanNetScans(release, "train")
    scene = scans[0]
    expected_xyz = [(10, 1, -1), (10, 2, -1), (9, 1, -1), (10, 0, 0), (9, 0, 0), (7, 3, 2)]
    np.testing.assert_allclose(scene.xyz, expected_xyz, atol=1e-6)
    assert scene.semantic.tolist() == [5, 5, 1, 1, 7, 0]
    assert scene.instance.tolist() == [1, 1, 2, 2, 3, 0]
    assert scene.faces.tolist() == [list(f) for f in FACES]
    np.testing.assert_array_equal(np.round(scene.colors * 255), MESH_RGB)
    assert scene.name == SCENE and scans.scene_names == (SCENE,)


def test_splits_come_from_the_official_lists_or_a_split_file(release: Path, tmp_path: Path):
    assert ScanNetScans(release, "val").scene_names == ("scene0043_00",)
    assert ScanNetScans(release, "all").scene_names == (SCENE, "scene0043_00")
    listed = tmp_path / "mine.txt"
    listed.write_text("# my split\nscene0043_00\nscene0042_00  # trailing comment\n")
    scans = ScanNetScans(release, "custom", split_file=listed)
    assert scans.scene_names == ("scene0043_00", SCENE) and len(scans) == 2
    assert scans[-1].name == SCENE
    with pytest.raises(IndexError):
        scans[2]
    with pytest.raises(TypeError):
        scans[0:1]


def test_test_split_reads_scans_test_without_labels(release: Path) -> None:
    scene = ScanNetScans(release, "test")[0]
    assert scene.name == "scene0707_00" and scene.semantic is None and scene.instance is None
    assert scene.faces.shape == (2, 3)


def test_missing_split_list_says_where_to_get_it(release: Path) -> None:
    (release / "scannetv2_val.txt").unlink()
    with pytest.raises(OccusegError, match=r"scannetv2_val.txt: split list not found.*Benchmark"):
        ScanNetScans(release, "val")


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        ("segs_missing", "_vh_clean_2.0.010000.segs.json: no such file"),
        ("segs_short", "5 segment ids for a mesh of 6 vertices"),
        ("aggregation_truncated", r"\.aggregation\.json: not readable JSON"),
        ("aggregation_bad_group", r"\.aggregation\.json: segGroups\[1\] needs"),
        ("alignment_15_numbers", r"scene0042_00\.txt: axisAlignment must be 16 numbers"),
        ("metadata_missing", r"scene0042_00\.txt: no such file"),
        ("mesh_truncated", r"_vh_clean_2\.ply"),
    ],
)
def test_corrupt_or_partial_scan_names_the_file(release: Path, damage: str, named: str) -> None:
    scan = release / "scans" / SCENE
    segs = scan / f"{SCENE}_vh_clean_2.0.010000.segs.json"
    aggregation = scan / f"{SCENE}.aggregation.json"
    if damage == "segs_missing":
        segs.unlink()
    elif damage == "segs_short":
        segs.write_text(json.dumps({"segIndices": SEGMENTS[:5]}))
    elif damage == "aggregation_truncated":
        aggregation.write_text(aggregation.read_text()[:40])
    elif damage == "aggregation_bad_group":
        data = json.loads(aggregation.read_text())
        del data["segGroups"][1]["label"]
        aggregation.write_text(json.dumps(data))
    elif damage == "alignment_15_numbers":
        (scan / f"{SCENE}.txt").write_text(f"axisAlignment = {ALIGNMENT.rsplit(' ', 1)[0]}\n")
    elif damage == "metadata_missing":
        (scan / f"{SCENE}.txt").unlink()
    else:
        mesh = scan / f"{SCENE}_vh_clean_2.ply"
        mesh.write_text(mesh.read_text()[:-30])
    scans = ScanNetScans(release, "train")  # files are read on indexing
    with pytest.raises(OccusegError, match=named):
        scans[0]


def test_missing_scan_folder_or_label_table_fails_at_construction(release: Path) -> None:
    (release / "scannetv2_train.txt").write_text(f"{SCENE}\nscene0099_00\n")
    with pytest.raises(OccusegError, match=r"scans/scene0099_00: scan folder not found"):
        ScanNetScans(release, "train")
    (release / "scannetv2-labels.combined.tsv").unlink()
    with pytest.raises(OccusegError, match="scannetv2-labels.combined.tsv: ScanNet label table"):
        ScanNetScans(release, "val")
    assert len(ScanNetScans(release, "test")) == 1  # unlabelled scans need no table


def test_axis_alignment_defaults_to_identity(tmp_path: Path) -> None:
    path = tmp_path / "scene.txt"
    path.write_text("colorHeight = 968\nsceneType = Bedroom\n")
    np.testing.assert_array_equal(read_axis_alignment(path), np.eye(4))
    path.write_text(f"axisAlignment = {ALIGNMENT}\n")
    assert read_axis_alignment(path)[0].tolist() == [0, -1, 0, 10]


def test_label_table_reads_nyu40_ids_and_names_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "labels.tsv"
    write_label_table(path)
    assert read_label_map(path) == {"wall": 1, "chair": 5, "table": 7}
    write_label_table(path, TSV_ROWS + [("5", "lamp", "x35")])
    with pytest.raises(OccusegError, match=r"labels.tsv: line 6: nyu40id 'x35'"):
        read_label_map(path)
    path.write_text("id\tcategory\n1\twall\n")
    with pytest.raises(OccusegError, match="lacks column"):
        read_label_map(path)


@pytest.mark.parametrize(
    ("text", "error"),
    [("", "empty"), ("a\nb\na\n", "'a' is listed twice"), ("../scene\n", "not a scene name")],
)
def test_bad_split_lists_are_refused(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "list.txt"
    path.write_text(text)
    with pytest.raises(OccusegError, match=error):
        read_scene_list(path)


def test_npy_export_layout(tmp_path: Path) -> None:
    vertices = np.array([[0, 0, 0, 0, 0, 0], [1, 0, 0, 255, 128, 0]], np.float32)
    np.save(tmp_path / "scene0001_00_vert_all.npy", vertices)
    np.save(tmp_path / "scene0001_00_sem_label_all.npy", np.array([5, 0], np.uint32))
    np.save(tmp_path / "scene0001_00_ins_label_all.npy", np.array([2, 0], np.uint32))
    (tmp_path / "scannetv2_val.txt").write_text("scene0001_00\n")
    for split in ("val", "all"):
        scene = ScanNetScans(tmp_path, split)[0]
        assert scene.name == "scene0001_00" and scene.semantic.tolist() == [5, 0]
        assert scene.instance.tolist() == [2, 0] and scene.colors[1, 1] == pytest.approx(128 / 255)
    with pytest.raises(OccusegError, match="scene0009_00_vert_all.npy: no such file"):
        ScanNetScans(tmp_path, "x", split_file=_write(tmp_path / "x.txt", "scene0009_00\n"))


def test_folder_that_is_no_scannet_layout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OccusegError, match="not a ScanNet release"):
        ScanNetScans(tmp_path, "train")


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_real_scan_matches_the_export(scannet_scene_dir: Path, tmp_path: Path) -> None:
    """scene0000_00 from its mesh + v1 annotation through our reader vs the mmdet3d export
    (v2 annotation): xyz must match exactly (same vertices, same alignment); labels agree where
    both annotate (v1 and v2 differ on about a quarter of the vertices, README)."""
    name = "scene0000_00"
    scan = tmp_path / "scans" / name
    scan.mkdir(parents=True)
    links = {
        f"{name}_vh_clean_2.ply": f"{name}_vh_clean_2.labels_v1.ply",
        f"{name}_vh_clean_2.0.010000.segs.json": f"{name}_vh_clean_2.0.010000.segs.json",
        f"{name}.aggregation.json": f"{name}.aggregation_v1.json",
    }
    for link, target in links.items():
        os.symlink(scannet_scene_dir / target, scan / link)
    (scan / f"{name}.txt").write_text(f"axisAlignment = {SCENE0000_ALIGNMENT}\n")
    os.symlink(scannet_scene_dir / "scannetv2-labels.combined.tsv",
               tmp_path / "scannetv2-labels.combined.tsv")  # fmt: skip
    scene = ScanNetScans(tmp_path, "all")[0]
    vertices = np.load(scannet_scene_dir / f"{name}_vert_all.npy")
    np.testing.assert_allclose(scene.xyz, vertices[:, :3], atol=1e-5)
    assert scene.faces.shape == (153587, 3)
    semantic = np.load(scannet_scene_dir / f"{name}_sem_label_all.npy").astype(np.int64)
    instance = np.load(scannet_scene_dir / f"{name}_ins_label_all.npy").astype(np.int64)
    both = (scene.semantic > 0) & (semantic > 0)
    assert both.mean() > 0.7
    assert (scene.semantic[both] == semantic[both]).mean() > 0.75  # measured 0.83
    majority = sum(np.unique(instance[both & (scene.instance == i)], return_counts=True)[1].max()
                   for i in np.unique(scene.instance[both]))  # fmt: skip
    assert majority / both.sum() > 0.85  # measured 0.91: v1 objects sit inside v2 objects
    assert np.array_equal(scene.semantic > 0, scene.instance > 0)
    # 55 segGroups; 4 carry v1 categories the v2 tsv lacks (3 x trashcan, dishrack)
    assert len(np.unique(scene.instance)) - 1 == 51


def _votenet_export(folder: Path, name: str, n: int = 3, labels: bool = True) -> np.ndarray:
    """A scan in votenet's layout: xyz in metres, colours 0..255, NYU40 / instance labels."""
    vertices = np.c_[np.arange(3 * n).reshape(n, 3), np.full((n, 3), 102.0)].astype(np.float32)
    np.save(folder / f"{name}_vert.npy", vertices)
    if labels:
        np.save(folder / f"{name}_sem_label.npy", np.arange(n, dtype=np.uint32) + 3)
        np.save(folder / f"{name}_ins_label.npy", np.arange(n, dtype=np.uint32) % 2)
    return vertices


def test_votenet_export_layout_with_its_split_lists(tmp_path: Path) -> None:
    """votenet's `<scene>_vert.npy` + label files, split lists train.txt / val.txt as
    ../shared/data/scannet_rooms has them; colour 102 / 255 = 0.4."""
    for name in ("scene0001_00", "scene0002_00", "scene0003_00"):
        _votenet_export(tmp_path, name)
    (tmp_path / "train.txt").write_text("scene0001_00\nscene0002_00\n")
    (tmp_path / "val.txt").write_text("scene0003_00\n")
    assert ScanNetScans(tmp_path, "train").scene_names == ("scene0001_00", "scene0002_00")
    assert ScanNetScans(tmp_path, "all").scene_names == ("scene0001_00", "scene0002_00",
                                                          "scene0003_00")  # fmt: skip
    scene = ScanNetScans(tmp_path, "val")[0]
    assert scene.name == "scene0003_00" and scene.faces is None
    np.testing.assert_array_equal(scene.xyz, np.arange(9).reshape(3, 3))
    np.testing.assert_allclose(scene.colors, 0.4)
    assert scene.semantic.tolist() == [3, 4, 5] and scene.instance.tolist() == [0, 1, 0]
    with pytest.raises(OccusegError, match=r"scannetv2_test.txt: split list not found \(nor"
                                           r" test.txt\)"):  # fmt: skip
        ScanNetScans(tmp_path, "test")


def test_mmdetection3d_export_is_axis_aligned_by_its_matrix(tmp_path: Path) -> None:
    """mmdetection3d writes unaligned vertices and `_axis_align_matrix.npy`: x' = M [x y z 1]
    (here a quarter turn about z and a shift by (10, 0, 1): (x, y, z) -> (10 - y, x, z + 1))."""
    _votenet_export(tmp_path, "scene0004_00")
    matrix = np.array([[0, -1, 0, 10], [1, 0, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1]], np.float64)
    np.save(tmp_path / "scene0004_00_axis_align_matrix.npy", matrix)
    scene = ScanNetScans(tmp_path, "all")[0]
    np.testing.assert_allclose(scene.xyz, [[9, 0, 3], [6, 3, 6], [3, 6, 9]])
    np.save(tmp_path / "scene0004_00_axis_align_matrix.npy", np.eye(3))
    with pytest.raises(OccusegError, match=r"axis_align_matrix.npy: expected a finite \(4, 4\)"):
        ScanNetScans(tmp_path, "all")[0]


def test_export_label_files_missing_or_mismatched_are_named(tmp_path: Path) -> None:
    _votenet_export(tmp_path, "scene0005_00")
    (tmp_path / "scene0005_00_ins_label.npy").unlink()
    with pytest.raises(OccusegError, match=r"scene0005_00_ins_label.npy: no such file, but"
                                           r" scene0005_00_sem_label.npy is there"):  # fmt: skip
        ScanNetScans(tmp_path, "all")[0]
    np.save(tmp_path / "scene0005_00_ins_label.npy", np.zeros(4, np.uint32))
    expected = r"_ins_label.npy: expected \(3,\) integer labels, one per row of the vertex file"
    with pytest.raises(OccusegError, match=expected + r"; got \(4,\)"):
        ScanNetScans(tmp_path, "all")[0]
    np.save(tmp_path / "scene0005_00_ins_label.npy", np.zeros(3, np.float32))
    with pytest.raises(OccusegError, match="integer labels"):
        ScanNetScans(tmp_path, "all")[0]
    (tmp_path / "scene0005_00_ins_label.npy").unlink()
    (tmp_path / "scene0005_00_sem_label.npy").unlink()
    assert ScanNetScans(tmp_path, "all")[0].semantic is None  # an unlabelled scan


def test_a_scene_exported_in_both_layouts_is_refused(tmp_path: Path) -> None:
    _votenet_export(tmp_path, "scene0006_00")
    np.save(tmp_path / "scene0006_00_vert_all.npy", np.zeros((2, 6), np.float32))
    with pytest.raises(OccusegError, match="scene 'scene0006_00' is exported twice"):
        ScanNetScans(tmp_path, "all")


def test_prepare_reads_the_votenet_layout(tmp_path: Path) -> None:
    from occuseg_core.data.dataset import SceneDataset
    from occuseg_core.data.readers import prepare_dataset

    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("scene0001_00", "scene0003_00"):
        _votenet_export(raw, name)
    (raw / "train.txt").write_text("scene0001_00\n")
    (raw / "val.txt").write_text("scene0003_00\n")
    out = prepare_dataset("scannet", raw, tmp_path / "prepared", progress=False)
    val = SceneDataset(out, "val")
    assert val.scene_names == ("scene0003_00",) and val[0].semantic.tolist() == [3, 4, 5]
    assert SceneDataset(out, "train").scene_names == ("scene0001_00",)


def test_real_rooms_read_in_the_votenet_layout(scannet_rooms_dir) -> None:
    """../shared/data/scannet_rooms: 11 training and 6 validation scans of 50,000 points."""
    root = scannet_rooms_dir
    val = ScanNetScans(root, "val")
    assert len(ScanNetScans(root, "train")) == 11 and len(val) == 6
    scene = val[0]
    assert scene.name == "scene0003_00" and scene.num_points == 50_000
    assert scene.semantic.max() <= 40 and (scene.instance > 0).mean() > 0.5
    assert 2.0 < float(np.ptp(scene.xyz[:, 2])) < 4.0  # axis aligned: z spans floor to ceiling
