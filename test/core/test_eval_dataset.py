"""`occuseg eval --dataset`: a checkpoint over a split prints the paper's tables and writes JSON
and the Fig. 4 PNG; the numbers match scoring the same predictions through `segment` + `eval
--pred/--gt`."""

import json

import pytest

from occuseg_core.cli import main
from occuseg_core.testing import save_random_checkpoint


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from occuseg_core.data.dataset import write_synthetic_dataset

    root = tmp_path_factory.mktemp("eval")
    write_synthetic_dataset(root / "data", num_scenes=3, seed=11, val_fraction=0.5, progress=False)
    return root, save_random_checkpoint(root / "random.pt")


def test_dataset_mode_prints_every_table(setup, capsys):
    root, checkpoint = setup
    argv = ["eval", "--dataset", "synthetic", "--data-root", str(root / "data"), "--split", "val",
            "--checkpoint", str(checkpoint), "--ablation", "all", "--device", "cpu",
            "--json", str(root / "report.json"), "--fig4", str(root / "fig4.png")]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    for text in ("Table 5", "Table 6", "w/o_occupancy", "mIoU", "R_c < 0.3", "bath"):
        assert text in out
    report = json.loads((root / "report.json").read_text())
    assert set(report["table6"]) == {"none", "no_feature", "no_spatial", "no_occupancy"}
    assert report["num_scenes"] == 2  # round(3 * 0.5) = 2 val scenes
    assert set(report["table5_mean_s"]) == {"voxelize", "network", "supervoxels", "clustering"}
    assert report["occupancy"]["num_instances"] > 0
    assert (root / "fig4.png").read_bytes()[:4] == b"\x89PNG"


def test_dataset_mode_agrees_with_segment_then_score(setup, capsys, tmp_path):
    """The same checkpoint through `segment` (ScanNet submission) and `eval --pred/--gt` gives
    the dataset mode's AP50."""
    from occuseg_core.data.dataset import SceneDataset
    from occuseg_core.eval import encode_ground_truth
    from occuseg_core.io import write_scene

    root, checkpoint = setup
    val = SceneDataset(root / "data", "val")
    gt_dir, scans = tmp_path / "gt", []
    gt_dir.mkdir()
    for scene in val:
        path = tmp_path / f"{scene.name}.npz"
        write_scene(scene, path)
        scans.append(str(path))
        ids = encode_ground_truth(scene.semantic, scene.instance)
        (gt_dir / f"{scene.name}.txt").write_text("\n".join(map(str, ids)) + "\n")
    base = ["--checkpoint", str(checkpoint), "--device", "cpu"]
    assert main(["segment", *scans, "--out", str(tmp_path / "out"), "--no-progress", *base]) == 0
    assert main(["eval", "--pred", str(tmp_path / "out" / "scannet"), "--gt", str(gt_dir),
                 "--json", str(tmp_path / "sub.json")]) == 0  # fmt: skip
    argv = ["eval", "--dataset", "synthetic", "--data-root", str(root / "data"), "--split", "val",
            "--json", str(tmp_path / "ds.json"), *base]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    submission = json.loads((tmp_path / "sub.json").read_text())
    dataset = json.loads((tmp_path / "ds.json").read_text())
    assert dataset["instance"]["none"]["mean"] == submission["mean"]


def test_class_table_mismatch_is_refused(setup, tmp_path, capsys):
    root, _ = setup
    other = save_random_checkpoint(tmp_path / "s3dis.pt", "s3dis")
    argv = ["eval", "--dataset", "synthetic", "--data-root", str(root / "data"), "--split", "val",
            "--checkpoint", str(other)]  # fmt: skip
    assert main(argv) == 2
    assert "s3dis13" in capsys.readouterr().err


def test_keep_points_and_max_scenes_narrow_the_evaluation(setup, tmp_path, capsys):
    """--max-scenes 1 --keep-points 0.5: one scene, thinned; flags refused without --dataset."""
    root, checkpoint = setup
    argv = ["eval", "--dataset", "synthetic", "--data-root", str(root / "data"), "--split", "val",
            "--checkpoint", str(checkpoint), "--device", "cpu", "--max-scenes", "1",
            "--keep-points", "0.5", "--json", str(tmp_path / "r.json")]  # fmt: skip
    assert main(argv) == 0
    assert "1 scenes, 0.5 of the points kept" in capsys.readouterr().out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["num_scenes"] == 1 and report["keep_points"] == 0.5
    assert main([*argv[:-4], "--keep-points", "1.5"]) == 2
    assert "kept fraction must be in (0, 1]" in capsys.readouterr().err
    assert main(["eval", "--pred", "p", "--gt", "g", "--keep-points", "0.5"]) == 2
    assert "--keep-points need --dataset" in capsys.readouterr().err
