"""`occuseg segment` with several inputs and with meshes: outputs named after the input files,
name clashes found before segmenting, finished scenes kept when another fails, and the choice of
supervoxels made explicit (`--supervoxels`, one line per scene)."""

import numpy as np
import pytest

from occuseg_core import Scene
from occuseg_core.cli import main
from occuseg_core.inference import Segmenter
from occuseg_core.io import write_ply, write_scene


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    from occuseg_core.data.synthetic import generate_scene

    return generate_scene(2).replace(semantic=None, instance=None, name="demo_room_7")


@pytest.fixture
def segment_calls(monkeypatch):
    """For each scan Segmenter.segment is called with, whether mesh supervoxels were used (the
    warm-up box after loading the model is left out)."""
    calls = []
    original = Segmenter.supervoxels

    def spy(self, scene, grid):
        if scene.name != "warmup":
            calls.append(
                scene.faces is not None and len(scene.faces) > 0 and self.options.use_mesh
            )
        return original(self, scene, grid)

    monkeypatch.setattr(Segmenter, "supervoxels", spy)
    return calls


def _segment(random_checkpoint, out, *inputs_and_options):
    argv = ["segment", *map(str, inputs_and_options), "--out", str(out), "--no-progress"]
    return main([*argv, "--checkpoint", str(random_checkpoint)])


def test_outputs_are_named_after_the_input_file(tmp_path, random_checkpoint, room, capsys):
    """room.ply holds a scene named demo_room_7: its files are room_*, and the run says so."""
    write_scene(room, tmp_path / "room.ply")
    out = tmp_path / "out"
    assert _segment(random_checkpoint, out, tmp_path / "room.ply") == 0
    assert (out / "room.json").is_file() and (out / "scannet" / "room.txt").is_file()
    assert not list(out.glob("demo_room_7*"))
    assert f"room.ply -> {out / 'room'}_*: scene 'demo_room_7'" in capsys.readouterr().out


def test_clashing_names_fail_before_anything_is_segmented(
    tmp_path, random_checkpoint, room, segment_calls, capsys
):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        write_scene(room, tmp_path / folder / "room.ply")
    out = tmp_path / "out"
    assert _segment(random_checkpoint, out, tmp_path / "a/room.ply", tmp_path / "b/room.ply") == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "a/room.ply and " in line and "b/room.ply would both write room_*" in line
    assert segment_calls == [] and not out.exists()


def test_a_failing_scan_keeps_the_scenes_that_finished(tmp_path, random_checkpoint, room, capsys):
    write_scene(room, tmp_path / "first.ply")
    write_scene(room, tmp_path / "third.ply")
    (tmp_path / "second.pcd").write_text(
        "VERSION .7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 1\nHEIGHT 1\n"
        "VIEWPOINT 0 0 0 1 0 0 0\nPOINTS 1\nDATA ascii\nnan nan nan\n"
    )
    out = tmp_path / "out"
    scans = [tmp_path / name for name in ("first.ply", "second.pcd", "third.ply")]
    assert _segment(random_checkpoint, out, *scans) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "second.pcd" in line and "2 of 3 scans written" in line
    assert sorted(p.name for p in out.glob("*.json")) == ["first.json", "third.json"]
    assert not list(tmp_path.glob(".occuseg-segment-*"))


def _export_with_mesh(folder):
    """A 30 x 30 grid floor (2 cm steps) as a ScanNet export, with its mesh beside it."""
    u, v = np.meshgrid(np.arange(30), np.arange(30), indexing="ij")
    xyz = np.c_[u.ravel() * 0.02, v.ravel() * 0.02, np.zeros(u.size)].astype(np.float32)
    corner = (u[:-1, :-1] * 30 + v[:-1, :-1]).ravel()
    faces = np.r_[
        np.c_[corner, corner + 30, corner + 1], np.c_[corner + 1, corner + 30, corner + 31]
    ]
    np.save(folder / "scene9_00_vert_all.npy", np.c_[xyz, np.full((len(xyz), 3), 120.0)])
    write_ply(
        folder / "scene9_00_vh_clean_2.ply", Scene(xyz, np.zeros((len(xyz), 3)), faces=faces)
    )
    return folder / "scene9_00_vert_all.npy"


@pytest.mark.parametrize(
    ("option", "mesh", "said"),
    [
        ([], True, "mesh supervoxels: the faces of scene9_00_vh_clean_2.ply beside the export"),
        (["--supervoxels", "points"], False, "point-cloud supervoxels (--supervoxels points)"),
    ],
)
def test_the_mesh_beside_an_export_is_an_explicit_choice(
    tmp_path, random_checkpoint, segment_calls, capsys, option, mesh, said
):
    export = _export_with_mesh(tmp_path)
    assert _segment(random_checkpoint, tmp_path / "out", export, *option) == 0
    assert segment_calls == [mesh]
    assert said in capsys.readouterr().out


def test_mesh_supervoxels_need_faces(tmp_path, random_checkpoint, room, capsys):
    write_scene(room, tmp_path / "room.ply")
    out = tmp_path / "out"
    assert _segment(random_checkpoint, out, tmp_path / "room.ply", "--supervoxels", "mesh") == 2
    assert "--supervoxels mesh needs faces; the scan has no faces" in capsys.readouterr().err
