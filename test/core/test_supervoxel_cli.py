"""`occuseg supervoxels`: the segs.json it writes (ScanNet's keys, read back), its default name,
point mode, and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from occuseg_core.cli import main
from occuseg_core.io import write_npz, write_ply
from occuseg_core.supervoxel import MeshSupervoxelConfig, segment_mesh
from occuseg_core.types import Scene


def wavy_mesh(rng: np.random.Generator) -> Scene:
    """A 12 x 10 grid surface with a crease and noise: 120 vertices, 198 triangles."""
    x, y = np.meshgrid(np.arange(12) * 0.05, np.arange(10) * 0.05, indexing="ij")
    z = 0.3 * np.abs(x - 0.3) + rng.normal(0, 0.003, x.shape)
    xyz = np.stack([x, y, z], -1).reshape(-1, 3)
    faces = []
    for i in range(11):
        for j in range(9):
            a, b, c, d = i * 10 + j, (i + 1) * 10 + j, (i + 1) * 10 + j + 1, i * 10 + j + 1
            faces += [(a, b, c), (a, c, d)]
    colors = np.full((len(xyz), 3), 0.5, dtype=np.float32)
    return Scene(xyz=xyz, colors=colors, faces=np.array(faces), name="scene0042_00_vh_clean_2")


def test_mesh_mode_writes_scannet_segs_json(tmp_path, rng):
    scene = wavy_mesh(rng)
    ply = tmp_path / "mesh.ply"
    write_ply(ply, scene)
    out = tmp_path / "mesh.segs.json"
    assert main(["supervoxels", str(ply), "--out", str(out), "--kthresh", "0.05",
                 "--min-verts", "5"]) == 0  # fmt: skip
    document = json.loads(out.read_text())
    assert set(document) == {"params", "sceneId", "segIndices"}
    assert document["params"] == {"kThresh": 0.05, "segMinVerts": 5}
    assert document["sceneId"] == "scene0042_00"
    expected = segment_mesh(scene.xyz, scene.faces, MeshSupervoxelConfig(0.05, 5))
    assert document["segIndices"] == expected.tolist()
    assert 1 < len(set(document["segIndices"])) < len(scene.xyz)


def test_default_output_is_scannets_name_in_the_working_directory(tmp_path, rng, monkeypatch):
    """ScanNet names the output `<input without suffix>.<kThresh, 6 decimals>.segs.json`; it
    goes to the working directory, and the input's (data) folder is left as it was."""
    data, work = tmp_path / "data", tmp_path / "work"
    data.mkdir()
    work.mkdir()
    ply = data / "scene0042_00_vh_clean_2.ply"
    write_ply(ply, wavy_mesh(rng))
    monkeypatch.chdir(work)
    assert main(["supervoxels", str(ply)]) == 0
    assert [p.name for p in data.iterdir()] == [ply.name]
    document = json.loads((work / "scene0042_00_vh_clean_2.0.010000.segs.json").read_text())
    assert document["params"] == {"kThresh": 0.01, "segMinVerts": 20}
    assert len(document["segIndices"]) == 120


def test_point_mode_for_clouds(tmp_path, rng):
    """No faces -> voxels: every point gets its voxel's supervoxel id 0..K-1."""
    xyz = (
        np.stack(np.meshgrid(np.arange(20), np.arange(20), [0]), -1).reshape(-1, 3) + 0.5
    ) * 0.02
    colors = np.where(xyz[:, :1] < 0.2, 0.1, 0.9).repeat(3, axis=1)
    npz = tmp_path / "cloud.npz"
    write_npz(Scene(xyz=xyz, colors=colors.astype(np.float32), name="cloud"), npz)
    out = tmp_path / "cloud.segs.json"
    assert main(["supervoxels", str(npz), "--out", str(out), "--min-verts", "0"]) == 0
    document = json.loads(out.read_text())
    assert document["params"]["mode"] == "points" and document["sceneId"] == "cloud"
    seg = np.array(document["segIndices"])
    assert seg.shape == (400,) and set(seg.tolist()) == {0, 1}
    assert np.array_equal(seg, (xyz[:, 0] >= 0.2).astype(int))


def test_errors_are_one_line(tmp_path, capsys):
    npz = tmp_path / "cloud.npz"
    write_npz(Scene(xyz=np.zeros((3, 3)), colors=np.zeros((3, 3)), name="cloud"), npz)
    assert main(["supervoxels", str(npz), "--mode", "mesh"]) == 2
    assert main(["supervoxels", str(tmp_path / "missing.ply")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and "no faces" in lines[0] and "missing.ply" in lines[1]


@pytest.mark.parametrize("flag", [["--kthresh", "-1"], ["--min-verts", "-3"]])
def test_bad_parameters_are_user_errors(tmp_path, rng, flag):
    ply = tmp_path / "mesh.ply"
    write_ply(ply, wavy_mesh(rng))
    assert main(["supervoxels", str(ply), *flag]) == 2
