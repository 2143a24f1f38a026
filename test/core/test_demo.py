"""`occuseg demo` (what `make demo` runs): the table, the timings and every output file."""

import json

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


def test_bundled_model_loads():
    """The package ships its default model (occuseg_core/models/default.pt, <= 20 MB)."""
    from occuseg_core.inference import BUNDLED_MODEL, Segmenter

    assert BUNDLED_MODEL.is_file() and BUNDLED_MODEL.stat().st_size <= 20 * 2**20
    segmenter = Segmenter.from_checkpoint(device="cpu")
    assert segmenter.classes.name == "scannet20"
