"""Dataset folders: writing synthetic datasets atomically, reading splits, every error case, and
the `occuseg synth` command."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import occuseg_core.data.dataset as dataset_module
from occuseg_core.cli import main
from occuseg_core.data.dataset import (
    FORMAT_VERSION,
    INDEX_NAME,
    SceneDataset,
    split_counts,
    write_dataset_index,
    write_synthetic_dataset,
)
from occuseg_core.data.synthetic import SynthConfig, generate_scene
from occuseg_core.errors import OccusegError
from occuseg_core.io.npz import write_npz
from occuseg_core.types import Scene

SMALL = SynthConfig(room_types=("bathroom",), bathroom_size_m=(2.4, 2.6))
"""Small rooms keep the writes quick."""


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data") / "synth"
    write_synthetic_dataset(root, 5, seed=3, val_fraction=0.4, config=SMALL, progress=False)
    return root


def tiny_scene(name: str, offset: float = 0.0) -> Scene:
    xyz = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=np.float32) + offset
    return Scene(xyz, np.full((3, 3), 0.5, np.float32), semantic=np.array([1, 2, 5]),
                 instance=np.array([1, 2, 3]), name=name)  # fmt: skip


# --- writing and reading -------------------------------------------------------------------


def test_index_lists_splits_seeds_and_config(written: Path) -> None:
    """5 scenes with val fraction 0.4: round(2.0) = 2 val, 3 train; every scene file exists."""
    info = json.loads((written / INDEX_NAME).read_text())
    assert info["format"] == "occuseg-dataset" and info["format_version"] == FORMAT_VERSION
    assert info["class_table"] == "scannet20" and info["seed"] == 3
    assert info["generator"]["name"] == "occuseg.synthetic"
    assert SynthConfig.from_dict(info["generator"]["config"]) == SMALL
    train, val = info["splits"]["train"], info["splits"]["val"]
    assert (len(train), len(val)) == (3, 2)
    assert sorted(train + val) == [f"synth_{i:05d}" for i in range(5)]
    for split, names in info["splits"].items():
        assert sorted(p.stem for p in (written / split).glob("*.npz")) == sorted(names)
    assert not list(written.parent.glob(".synth.*"))  # no temp folders left behind


def test_round_trip_reproduces_the_generated_scenes(written: Path) -> None:
    """Each stored scene equals generate_scene(its stored seed) (colours to 8 bits)."""
    info = json.loads((written / INDEX_NAME).read_text())
    for split in ("train", "val"):
        data = SceneDataset(written, split)
        assert len(data) == len(info["splits"][split]) and data.scene_names == tuple(
            info["splits"][split])  # fmt: skip
        for index, name in enumerate(data.scene_names):
            stored = data[index]
            fresh = generate_scene(info["scene_seeds"][name], SMALL, name=name)
            assert stored.name == name
            np.testing.assert_array_equal(stored.xyz, fresh.xyz)
            np.testing.assert_array_equal(stored.semantic, fresh.semantic)
            np.testing.assert_array_equal(stored.instance, fresh.instance)
            np.testing.assert_allclose(stored.colors, fresh.colors, atol=0.5 / 255 + 1e-6)
    assert data.class_table.name == "scannet20"
    assert [s.name for s in data] == list(data.scene_names)  # iteration
    assert data[-1].name == data.scene_names[-1]
    with pytest.raises(IndexError):
        data[len(data)]


def test_same_seed_gives_the_same_dataset(written: Path, tmp_path: Path) -> None:
    again = write_synthetic_dataset(tmp_path / "again", 5, 3, 0.4, SMALL, progress=False)
    assert (again / INDEX_NAME).read_text() == (written / INDEX_NAME).read_text()


@pytest.mark.parametrize(
    ("num_scenes", "fraction", "expected"),
    [(10, 0.2, (8, 2)), (1, 0.2, (1, 0)), (2, 0.1, (1, 1)), (5, 0.0, (5, 0)), (3, 0.9, (1, 2))],
)
def test_split_counts(num_scenes: int, fraction: float, expected: tuple[int, int]) -> None:
    """val = round(n f), at least 1 and at most n - 1 once f > 0 and n >= 2:
    10 x 0.2 = 2; 1 scene -> no val; 2 x 0.1 = 0.2 -> 0 -> 1; 3 x 0.9 = 2.7 -> 3 -> 2."""
    assert split_counts(num_scenes, fraction) == expected


def test_reads_a_prepared_folder_after_indexing(tmp_path: Path) -> None:
    """A folder of NPZ scenes laid out like ours (e.g. converted ScanNet) reads once indexed."""
    for split, names in (("train", ["b", "a"]), ("val", ["c"])):
        (tmp_path / split).mkdir()
        for name in names:
            write_npz(tiny_scene(name), tmp_path / split / f"{name}.npz")
    write_dataset_index(tmp_path)
    train = SceneDataset(tmp_path, "train")
    assert train.scene_names == ("a", "b") and len(SceneDataset(tmp_path, "val")) == 1
    np.testing.assert_array_equal(train[0].semantic, [1, 2, 5])


def test_index_without_split_lists_uses_the_folder(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    write_npz(tiny_scene("x"), tmp_path / "train" / "x.npz")
    index = {"format": "occuseg-dataset", "format_version": 1, "class_table": "scannet20"}
    (tmp_path / INDEX_NAME).write_text(json.dumps(index))
    assert SceneDataset(tmp_path, "train").scene_names == ("x",)


# --- errors --------------------------------------------------------------------------------


def make_dataset(root: Path, splits: dict[str, list[str]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for split, names in splits.items():
        (root / split).mkdir(exist_ok=True)
        for name in names:
            write_npz(tiny_scene(name), root / split / f"{name}.npz")
    index = {"format": "occuseg-dataset", "format_version": 1, "class_table": "scannet20",
             "splits": splits}  # fmt: skip
    (root / INDEX_NAME).write_text(json.dumps(index))
    return root


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(OccusegError, match="nowhere: dataset directory not found"):
        SceneDataset(tmp_path / "nowhere", "train")


def test_missing_index(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    with pytest.raises(OccusegError, match="dataset.json: dataset index not found"):
        SceneDataset(tmp_path, "train")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not a readable JSON"),
        ('{"format": "other"}', "not an occuseg-dataset index"),
        ('{"format": "occuseg-dataset", "format_version": 99, "class_table": "scannet20"}',
         "unsupported format_version 99"),
        ('{"format": "occuseg-dataset", "format_version": 1, "class_table": "coco"}',
         "unknown class table"),
        ('{"format": "occuseg-dataset", "format_version": 1, "class_table": "scannet20", '
         '"splits": {"train": ["../../etc/passwd"]}}', "must map split names"),
    ],
)  # fmt: skip
def test_invalid_index(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / INDEX_NAME).write_text(text)
    with pytest.raises(OccusegError, match=message):
        SceneDataset(tmp_path, "train")


def test_missing_split_folder(tmp_path: Path) -> None:
    make_dataset(tmp_path, {"train": ["a"]})
    with pytest.raises(
        OccusegError, match=r"val: split folder 'val' not found \(splits: \['train'\]"
    ):
        SceneDataset(tmp_path, "val")


def test_empty_split(tmp_path: Path) -> None:
    make_dataset(tmp_path, {"train": ["a"], "val": []})
    with pytest.raises(OccusegError, match="split 'val' is empty"):
        SceneDataset(tmp_path, "val")


def test_split_not_listed(tmp_path: Path) -> None:
    make_dataset(tmp_path, {"train": ["a"]})
    (tmp_path / "test").mkdir()
    with pytest.raises(OccusegError, match="split 'test' is not listed"):
        SceneDataset(tmp_path, "test")


def test_listed_scene_missing(tmp_path: Path) -> None:
    make_dataset(tmp_path, {"train": ["a", "b"]})
    (tmp_path / "train" / "b.npz").unlink()
    with pytest.raises(OccusegError, match=r"b\.npz: scene file missing \(1 of 2"):
        SceneDataset(tmp_path, "train")


def test_unreadable_scene_names_the_file(tmp_path: Path) -> None:
    make_dataset(tmp_path, {"train": ["a", "b"]})
    (tmp_path / "train" / "b.npz").write_bytes(b"this is not a zip file")
    data = SceneDataset(tmp_path, "train")
    assert data[0].name == "a"
    with pytest.raises(OccusegError, match=r"b\.npz: not a readable NPZ"):
        data[1]


def test_index_of_a_folder_without_scenes(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    with pytest.raises(OccusegError, match="no split folder with .npz scenes"):
        write_dataset_index(tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"num_scenes": 0}, "number of scenes must be >= 1"), ({"val_fraction": 1.0}, "val fraction"),
     ({"val_fraction": -0.1}, "val fraction"), ({"seed": -4}, "seed must be a non-negative")],
)  # fmt: skip
def test_bad_write_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    arguments = {"num_scenes": 2, "seed": 0, "val_fraction": 0.2} | kwargs
    with pytest.raises(OccusegError, match=message):
        write_synthetic_dataset(tmp_path / "d", config=SMALL, progress=False, **arguments)
    assert not (tmp_path / "d").exists()


def test_refuses_a_non_empty_target_unless_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "d"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(OccusegError, match="directory is not empty"):
        write_synthetic_dataset(target, 1, 0, config=SMALL, progress=False)
    assert (target / "notes.txt").read_text() == "keep me"
    write_synthetic_dataset(target, 1, 0, config=SMALL, progress=False, overwrite=True)
    assert not (target / "notes.txt").exists() and (target / INDEX_NAME).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]  # no temp or old folders left


def test_failure_leaves_no_half_written_dataset(tmp_path: Path, monkeypatch) -> None:
    """A crash on the second scene leaves neither the target nor a temp folder; with overwrite,
    the old dataset survives untouched."""
    calls = []

    def flaky(seed, config, name):
        calls.append(name)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return generate_scene(seed, config, name)

    monkeypatch.setattr(dataset_module, "generate_scene", flaky)
    with pytest.raises(RuntimeError, match="disk full"):
        write_synthetic_dataset(tmp_path / "new", 3, 0, config=SMALL, progress=False)
    assert list(tmp_path.iterdir()) == []
    old = make_dataset(tmp_path / "old", {"train": ["a"]})
    calls.clear()
    with pytest.raises(RuntimeError, match="disk full"):
        write_synthetic_dataset(old, 3, 0, config=SMALL, progress=False, overwrite=True)
    assert SceneDataset(old, "train").scene_names == ("a",)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]


# --- the command ---------------------------------------------------------------------------


def test_synth_command_writes_and_refuses_to_overwrite(tmp_path: Path, capsys) -> None:
    out = tmp_path / "ds"
    args = ["synth", "--out", str(out), "--scenes", "3", "--seed", "7", "--val-fraction", "0.34",
            "--room-types", "bathroom"]  # fmt: skip
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "wrote 3 scenes" in captured.out and "2 train, 1 val" in captured.out
    assert "synth" in captured.err  # the tqdm progress bar
    assert len(SceneDataset(out, "train")) == 2 and len(SceneDataset(out, "val")) == 1
    assert main(args) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("occuseg synth: error:") and "not empty" in error
    assert len(error.splitlines()) == 1
    assert main([*args, "--overwrite", "--no-progress"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--val-fraction", "1.5"], "val fraction"), (["--scenes", "0"], "number of scenes"),
     (["--room-types", "attic"], "unknown room types"), (["--seed", "-1"], "seed")],
)  # fmt: skip
def test_synth_command_rejects_bad_arguments(tmp_path: Path, capsys, extra, message) -> None:
    args = ["synth", "--out", str(tmp_path / "x"), "--scenes", "1", "--no-progress", *extra]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_config_of_written_dataset_is_the_one_used(tmp_path: Path) -> None:
    config = replace(SMALL, hard_case_prob=1.0)
    root = write_synthetic_dataset(tmp_path / "d", 1, 0, 0.0, config, progress=False)
    info = json.loads((root / INDEX_NAME).read_text())
    assert SynthConfig.from_dict(info["generator"]["config"]) == config
    assert info["splits"]["val"] == [] and (root / "val").is_dir()
