"""`occuseg segment` and `occuseg bench`: outputs, and bad inputs that leave nothing behind."""

import json

import numpy as np
import pytest
import torch

from occuseg_core import Scene
from occuseg_core.cli import main
from occuseg_core.io import read_ply_vertex_properties, write_scene


@pytest.fixture(scope="module")
def room_ply(tmp_path_factory):
    from occuseg_core.data.synthetic import generate_scene

    path = tmp_path_factory.mktemp("scans") / "my room.ply"  # a space: names are sanitised
    write_scene(generate_scene(2).replace(semantic=None, instance=None, name="my room"), path)
    return path


def test_segment_writes_every_output(tmp_path, random_checkpoint, room_ply, capsys):
    from occuseg_core.eval.scannet_submission import read_scannet_prediction

    out = tmp_path / "out"
    assert (
        main(["segment", str(room_ply), "--checkpoint", str(random_checkpoint), "--out", str(out)])
        == 0
    )
    summary = json.loads((out / "my_room.json").read_text())
    ids = np.load(out / "my_room_instance_ids.npy")
    semantic = np.load(out / "my_room_semantic_ids.npy")
    assert summary["num_points"] == ids.size == semantic.size
    assert summary["num_instances"] == len(summary["instances"]) == ids.max() + 1
    assert summary["input"] == str(room_ply.resolve())
    assert set(summary["timings_s"]) == {
        "voxelize",
        "network",
        "supervoxels",
        "clustering",
        "total",
    }
    properties = read_ply_vertex_properties(out / "my_room_instances.ply")
    np.testing.assert_array_equal(properties["instance_id"], ids)
    prediction = read_scannet_prediction(out / "scannet" / "my_room.txt", ids.size)
    assert prediction.masks.shape[0] == summary["num_instances"]
    for k, record in enumerate(summary["instances"]):
        np.testing.assert_array_equal(prediction.masks[k], ids == k)
        assert prediction.label_ids[k] == record["class_id"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folder left
    assert "instances" in capsys.readouterr().out


def _nan_pcd(path):
    path.write_text(
        "VERSION .7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 2\nHEIGHT 1\n"
        "VIEWPOINT 0 0 0 1 0 0 0\nPOINTS 2\nDATA ascii\nnan nan nan\nnan nan nan\n"
    )
    return path


def _assert_fails_cleanly(argv, out, capsys, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()
    assert not list(out.parent.glob(".occuseg-segment-*"))


def test_bad_inputs_leave_nothing(tmp_path, random_checkpoint, room_ply, capsys):
    out = tmp_path / "out"
    base = ["--checkpoint", str(random_checkpoint), "--out", str(out), "--no-progress"]
    _assert_fails_cleanly(
        ["segment", str(tmp_path / "nope.ply"), *base], out, capsys, "no such file"
    )
    (tmp_path / "cloud.xyz").write_text("0 0 0\n")
    _assert_fails_cleanly(
        ["segment", str(tmp_path / "cloud.xyz"), *base], out, capsys, "unsupported"
    )
    nan_scene = _nan_pcd(tmp_path / "nan.pcd")
    _assert_fails_cleanly(["segment", str(nan_scene), *base], out, capsys, "finite")
    wrong = tmp_path / "wrong.pt"
    torch.save({"weights": 1}, wrong)
    argv = ["segment", str(room_ply), "--checkpoint", str(wrong), "--out", str(out)]
    _assert_fails_cleanly(argv, out, capsys, "not an occuseg checkpoint")


def test_existing_outputs_survive_a_failed_run(tmp_path, random_checkpoint, room_ply, capsys):
    out = tmp_path / "out"
    main(["segment", str(room_ply), "--checkpoint", str(random_checkpoint), "--out", str(out)])
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    argv = [
        "segment",
        str(room_ply),
        str(tmp_path / "gone.ply"),
        "--checkpoint",
        str(random_checkpoint),
        "--out",
        str(out),
    ]
    assert main(argv) == 2
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


def test_bench_reports_every_stage(tmp_path, random_checkpoint, room_ply, capsys):
    report_path = tmp_path / "bench.json"
    argv = [
        "bench",
        str(room_ply),
        "--checkpoint",
        str(random_checkpoint),
        "--repeat",
        "1",
        "--json",
        str(report_path),
    ]
    assert main(argv) == 0
    report = json.loads(report_path.read_text())
    (row,) = report["scenes"]
    assert row["scene"] == "my room" and row["points"] > 0
    for stage in ("voxelize", "network", "supervoxels", "clustering"):
        assert 0 < row[f"{stage}_s"] <= row["total_s"]
    assert report["clustering_1000_supervoxels_5000_edges_ms"] > 0
    header, _, cells = capsys.readouterr().out.splitlines()[:3]
    table = dict(zip(header.split(" | "), cells.split(" | "), strict=True))
    for stage in ("voxelize", "network", "supervoxels", "clustering", "total"):
        assert table[f"{stage} ms"] == f"{row[f'{stage}_s'] * 1e3:.0f}"  # a number, in ms


def test_empty_scene_file_is_a_clear_error(tmp_path, random_checkpoint, capsys):
    empty = tmp_path / "empty.ply"
    empty.write_text(
        "ply\nformat ascii 1.0\nelement vertex 0\nproperty float x\nproperty float y\n"
        "property float z\nend_header\n"
    )
    out = tmp_path / "out"
    argv = ["segment", str(empty), "--checkpoint", str(random_checkpoint), "--out", str(out)]
    _assert_fails_cleanly(argv, out, capsys, "empty")


def test_scene_type_still_rejects_nan():
    with pytest.raises(ValueError):
        Scene(np.full((2, 3), np.nan), np.zeros((2, 3)))
