"""`occuseg demo` (what `make demo` runs): the table, the timings and every output file."""

import json

import pytest

from occuseg_core.cli import main


def test_demo_with_a_checkpoint_writes_everything(tmp_path, random_checkpoint, capsys):
    out = tmp_path / "demo_out"
    assert main(["demo", "--out", str(out), "--checkpoint", str(random_checkpoint)]) == 0
    printed = capsys.readouterr().out
    for text in ("id  class", "timings: voxelize", "against this room's ground truth", "wrote"):
        assert text in printed
    summary = json.loads((out / "demo_room_7.json").read_text())
    assert summary["input"] == str((out / "demo_room_7_input.ply").resolve())
    for name in ("demo_room_7_input.ply", "demo_room_7_instances.ply", "demo_room_7.png",
                 "demo_room_7_instance_ids.npy", "scannet/demo_room_7.txt"):  # fmt: skip
        assert (out / name).is_file(), name
    assert (out / "demo_room_7.png").read_bytes()[:4] == b"\x89PNG"


def test_bundled_models_load_by_name_and_the_default_is_real(tmp_path, monkeypatch):
    """The package ships two models (occuseg_core/models/<name>.pt, <= 20 MB each): "real"
    (the default of the library, the CLI and the nodes) and "synthetic"; a file of the same
    name in the working directory is reached as ./name."""
    from occuseg_core.engine.checkpoint import load_checkpoint
    from occuseg_core.errors import OccusegError
    from occuseg_core.inference import BUNDLED_MODELS, DEFAULT_MODEL, Segmenter, resolve_checkpoint

    assert DEFAULT_MODEL == "real" and set(BUNDLED_MODELS) == {"real", "synthetic"}
    for name, path in BUNDLED_MODELS.items():
        assert path.is_file() and path.stat().st_size <= 20 * 2**20, name
        assert (path.parent / f"MODEL_CARD_{name}.md").is_file(), name
        segmenter = Segmenter.from_checkpoint(name, device="cpu")
        assert segmenter.classes.name == "scannet20"
        assert segmenter.model_label == f"bundled model {name!r}"
    assert resolve_checkpoint(None) == resolve_checkpoint("") == resolve_checkpoint("real")
    real = load_checkpoint(BUNDLED_MODELS["real"])
    synthetic = load_checkpoint(BUNDLED_MODELS["synthetic"])
    assert real["config"].data.sources and not synthetic["config"].data.sources
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OccusegError, match="does not exist"):
        Segmenter.from_checkpoint("./real", device="cpu")


def test_demo_segments_the_scan_it_writes(tmp_path, random_checkpoint, monkeypatch):
    """`occuseg segment OUT/demo_room_7_input.ply` gives the demo's instances: the demo
    segments the scan as written (8-bit colours), not the generated room's float colours."""
    import numpy as np

    from occuseg_core.inference import Segmenter
    from occuseg_core.io import read_scene

    seen = []
    original = Segmenter.segment
    monkeypatch.setattr(Segmenter, "segment", lambda self, s: seen.append(s) or original(self, s))
    out = tmp_path / "demo_out"
    assert main(["demo", "--out", str(out), "--checkpoint", str(random_checkpoint)]) == 0
    scan = read_scene(out / "demo_room_7_input.ply")
    assert seen
    for scene in seen:
        np.testing.assert_array_equal(scene.xyz, scan.xyz)
        np.testing.assert_array_equal(scene.colors, scan.colors)
    argv = ["segment", str(out / "demo_room_7_input.ply"), "--out", str(tmp_path / "again")]
    assert main([*argv, "--checkpoint", str(random_checkpoint)]) == 0
    np.testing.assert_array_equal(
        np.load(tmp_path / "again" / "demo_room_7_input_instance_ids.npy"),
        np.load(out / "demo_room_7_instance_ids.npy"),
    )
