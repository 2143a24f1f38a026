"""`occuseg prepare` and the reader table: tiny S3DIS and ScanNet releases converted to NPZ dataset
folders, read back with SceneDataset; overwrite rules, atomicity and one-line errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from occuseg_core.cli import main
from occuseg_core.data.dataset import SceneDataset, read_index, write_dataset_index
from occuseg_core.data.readers import READERS, make_reader, prepare_dataset
from occuseg_core.data.s3dis import S3DISRooms
from occuseg_core.data.scannet import ScanNetScans
from occuseg_core.errors import OccusegError
from occuseg_core.io.npz import write_npz
from occuseg_core.io.ply import write_ply
from occuseg_core.types import Scene


@pytest.fixture
def s3dis(tmp_path: Path) -> Path:
    """Six areas with one or two rooms of two objects each (3 points)."""
    root = tmp_path / "Stanford3dDataset_v1.2_Aligned_Version"
    for area in range(1, 7):
        for room in ("office_1", "hallway_2")[: 1 + (area == 5)]:
            annotations = root / f"Area_{area}" / room / "Annotations"
            annotations.mkdir(parents=True)
            (annotations / "floor_1.txt").write_text(f"{area} 0 0 10 20 30\n{area} 1 0 10 20 30\n")
            (annotations / "chair_1.txt").write_text(f"{area} 0 0.5 200 0 0\n")
    return root


@pytest.fixture
def scannet(tmp_path: Path) -> Path:
    """Two labelled scans (train, val): 3 vertices, 1 face, one chair object on segment 7."""
    root = tmp_path / "scannet"
    for name in ("scene0000_00", "scene0001_00"):
        scan = root / "scans" / name
        scan.mkdir(parents=True)
        mesh = Scene(xyz=np.eye(3), colors=np.full((3, 3), 9, np.uint8), faces=[[0, 1, 2]])
        alpha = {"alpha": np.full(3, 255, np.uint8)}
        write_ply(scan / f"{name}_vh_clean_2.ply", mesh, vertex_properties=alpha)
        segs = {"segIndices": [7, 7, 8]}
        (scan / f"{name}_vh_clean_2.0.010000.segs.json").write_text(json.dumps(segs))
        groups = {"segGroups": [{"objectId": 4, "label": "chair", "segments": [7]}]}
        (scan / f"{name}.aggregation.json").write_text(json.dumps(groups))
        (scan / f"{name}.txt").write_text("axisAlignment = 1 0 0 0 0 1 0 0 0 0 1 2 0 0 0 1\n")
    (root / "scannetv2-labels.combined.tsv").write_text("raw_category\tnyu40id\nchair\t5\n")
    (root / "scannetv2_train.txt").write_text("scene0000_00\n")
    (root / "scannetv2_val.txt").write_text("scene0001_00\n")
    return root


def assert_same_scene(a: Scene, b: Scene) -> None:
    assert a.name == b.name
    np.testing.assert_allclose(a.xyz, b.xyz, atol=1e-6)
    np.testing.assert_allclose(a.colors, b.colors, atol=0.5 / 255)
    np.testing.assert_array_equal(a.semantic, b.semantic)
    np.testing.assert_array_equal(a.instance, b.instance)
    assert (a.faces is None) == (b.faces is None)


def test_prepare_s3dis_folds_reads_back_equal(s3dis: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "prepared"
    argv = ["prepare", "--dataset", "s3dis", "--data-root", str(s3dis), "--out", str(out),
            "--splits", "fold1-train", "fold1-val", "area5-val", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    summary = f"wrote s3dis to {out} (2 area5-val, 6 fold1-train, 1 fold1-val)"
    assert capsys.readouterr().out.strip() == summary
    index = read_index(out)
    assert index["class_table"] == "s3dis13" and index["source"]["dataset"] == "s3dis"
    assert {k: len(v) for k, v in index["splits"].items()} == {
        "area5-val": 2, "fold1-train": 6, "fold1-val": 1}  # fmt: skip
    for split in ("fold1-train", "area5-val"):
        prepared, raw = SceneDataset(out, split), S3DISRooms(s3dis, split)
        assert prepared.scene_names == tuple(sorted(raw.scene_names))
        for name, scene in zip(raw.scene_names, (raw[i] for i in range(len(raw))), strict=True):
            assert_same_scene(prepared[prepared.scene_names.index(name)], scene)
    # Area 5 rooms are in both fold1-train and area5-val: stored once, hard-linked
    shared = "Area_5_office_1.npz"
    assert (out / "fold1-train" / shared).samefile(out / "area5-val" / shared)


def test_prepare_scannet_default_splits_keep_faces(scannet: Path, tmp_path: Path) -> None:
    out = prepare_dataset("scannet", scannet, tmp_path / "out", progress=False)
    assert read_index(out)["class_table"] == "scannet20"
    scene = SceneDataset(out, "val")[0]
    assert scene.name == "scene0001_00" and scene.semantic.tolist() == [5, 5, 0]
    assert scene.instance.tolist() == [5, 5, 0] and scene.faces.tolist() == [[0, 1, 2]]
    np.testing.assert_allclose(scene.xyz[:, 2], [2, 2, 3])  # axisAlignment shifts z by 2
    assert len(SceneDataset(out, "train")) == 1
    umask = os.umask(0o022)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask  # not mkdtemp's owner-only 0o700


def test_split_file_option(scannet: Path, tmp_path: Path) -> None:
    listed = tmp_path / "both.txt"
    listed.write_text("scene0001_00\nscene0000_00\n")
    out = tmp_path / "out"
    argv = ["prepare", "--dataset", "scannet", "--data-root", str(scannet), "--out", str(out),
            "--splits", "mine", "--split-file", f"mine={listed}", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert read_index(out)["splits"] == {"mine": ["scene0000_00", "scene0001_00"]}


def test_refuses_to_overwrite_without_flag(s3dis: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    argv = ["prepare", "--dataset", "s3dis", "--data-root", str(s3dis), "--out", str(out),
            "--splits", "fold2-val", "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(out) in err and "--overwrite" in err
    assert (out / "keep.txt").read_text() == "old"
    assert main(argv + ["--overwrite"]) == 0
    assert not (out / "keep.txt").exists() and len(SceneDataset(out, "fold2-val")) == 1


def test_corrupt_release_leaves_nothing_and_names_the_file(s3dis, tmp_path, capsys) -> None:
    bad = s3dis / "Area_6" / "office_1" / "Annotations" / "chair_1.txt"
    bad.write_text("6 0 0.5 200 0\n")
    out = tmp_path / "out"
    argv = ["prepare", "--dataset", "s3dis", "--data-root", str(s3dis), "--out", str(out),
            "--splits", "fold1-train", "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{bad}: line 1" in err
    assert not out.exists() and not list(tmp_path.glob(".out.tmp-*"))


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--dataset", "s3dis", "--splits", "area9-val"], "unknown S3DIS split 'area9-val'"),
        (["--dataset", "s3dis", "--split-file", "x"], "wants SPLIT=PATH"),
        (["--dataset", "s3dis", "--split-file", "area5-val=x.txt"], "s3dis takes no split file"),
        (["--dataset", "scannet", "--split-file", "test=x.txt"], "splits not prepared: ['test']"),
        (["--dataset", "s3dis", "--splits", "all", "all"], "splits listed twice"),
        (["--dataset", "s3dis", "--splits", "../up"], "cannot be a folder name"),
    ],
)
def test_bad_arguments_give_one_line_errors(s3dis, tmp_path, capsys, argv, error) -> None:
    full = ["prepare", "--data-root", str(s3dis), "--out", str(tmp_path / "o"), *argv]
    assert main(full) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and error in err
    assert not (tmp_path / "o").exists()


def test_reader_table_and_factory(s3dis: Path, scannet: Path, tmp_path: Path) -> None:
    assert list(READERS) == ["scannet", "s3dis", "scenenn", "synthetic"]
    assert isinstance(make_reader("scannet", scannet, "train"), ScanNetScans)
    assert make_reader("s3dis", s3dis, "area5-val").scene_names == (
        "Area_5_hallway_2", "Area_5_office_1")  # fmt: skip
    synth = tmp_path / "synth"
    (synth / "train").mkdir(parents=True)
    write_npz(Scene(xyz=np.zeros((2, 3)), colors=np.zeros((2, 3)), name="s0"),
              synth / "train" / "s0.npz")  # fmt: skip
    write_dataset_index(synth)
    reader = make_reader("synthetic", synth, "train")
    assert reader.scene_names == ("s0",) and reader[0].num_points == 2
    with pytest.raises(OccusegError, match="unknown dataset 'kitti'"):
        make_reader("kitti", s3dis, "train")
    with pytest.raises(OccusegError, match="cannot prepare 'synthetic'"):
        prepare_dataset("synthetic", synth, tmp_path / "x")


def test_cli_dataset_choices_match_the_reader_table() -> None:
    """The CLI keeps its own copies of the dataset names (building the parser imports no
    reader); they must name exactly what the readers provide."""
    from occuseg_core.commands import eval as eval_command
    from occuseg_core.commands import prepare as prepare_command
    from occuseg_core.data.readers import PREPARABLE

    assert prepare_command._DATASETS == PREPARABLE
    assert eval_command.DATASETS == tuple(READERS)


@pytest.mark.parametrize(
    "dataset",
    [
        "scannet",
        "scenenn",
        "s3dis",
    ],
)  # fmt: skip
def test_named_config_matches_what_prepare_writes(dataset: str) -> None:
    """`occuseg train --config <dataset>` must find the split folders `prepare` writes by
    default, and predict the reader's class table."""
    from occuseg_core.config import load_config

    config, reader = load_config(dataset), READERS[dataset]
    assert config.model.class_table == reader.CLASS_TABLE
    assert (config.data.train_split, config.data.val_split) == reader.DEFAULT_SPLITS
