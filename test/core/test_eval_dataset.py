"""`occuseg eval --dataset`: a checkpoint over a split prints the paper's tables and writes JSON
and the Fig. 4 PNG; the numbers match scoring the same predictions through `segment` + `eval
--pred/--gt`."""

import json

import numpy as np
import pytest

from occuseg_core.cli import main
from occuseg_core.testing import save_random_checkpoint

# NYU40 ids 0..40 -> is it one of the 18 ScanNet instance classes (all benchmark classes but
# wall 1 and floor 2), written out here rather than taken from the class table under test
SCANNET_INSTANCE_CLASSES = np.isin(
    np.arange(41), [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 24, 28, 33, 34, 36, 39]
)


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


def test_true_log_occupancy_by_hand():
    """Voxels of instance-class objects get log(their object's voxel count); walls, floors,
    unlabelled voxels and 'instances' of background classes keep the prediction."""
    from types import SimpleNamespace

    from occuseg_core.classes import SCANNET20
    from occuseg_core.engine.evaluate import true_log_occupancy

    grid = SimpleNamespace(
        semantic=np.array([5, 5, 5, 7, 7, 1, 0, 5]),  # chair x3, table x2, wall, none, chair
        instance=np.array([4, 4, 4, 2, 2, 9, 0, 0]),  # the last chair voxel has no instance
    )
    predicted = np.arange(8, dtype=np.float32).reshape(8, 1) / 10
    out = true_log_occupancy(SimpleNamespace(classes=SCANNET20), grid, predicted)
    assert out.shape == (8, 1) and out.dtype == np.float32
    expected = [np.log(3)] * 3 + [np.log(2)] * 2 + [0.5, 0.6, 0.7]
    np.testing.assert_allclose(out.ravel(), expected, rtol=1e-6)


def test_oracle_occupancy_merges_with_the_true_sizes(setup, monkeypatch):
    """The oracle variant hands the merging exp(occupancy) = each object's true voxel count,
    counted here from the voxelized scene; the plain variant hands it the network's."""
    from occuseg_core.data.dataset import SceneDataset
    from occuseg_core.data.voxelize import voxelize
    from occuseg_core.engine.evaluate import ORACLE_OCCUPANCY, evaluate_split
    from occuseg_core.inference import Segmenter

    root, checkpoint = setup
    scene = SceneDataset(root / "data", "val")[0]
    segmenter = Segmenter.from_checkpoint(checkpoint, device="cpu")
    seen, cluster = [], segmenter.cluster

    def recording_cluster(grid, predictions, *args):
        seen.append(predictions.log_occupancy.reshape(-1).copy())
        return cluster(grid, predictions, *args)

    monkeypatch.setattr(segmenter, "cluster", recording_cluster)
    evaluation = evaluate_split(segmenter, [scene], ["none", ORACLE_OCCUPANCY], progress=False)
    assert set(evaluation.predictions) == {"none", ORACLE_OCCUPANCY}
    plain, oracle = seen[-2], seen[-1]  # the first call is the warm-up's
    grid = voxelize(scene, segmenter.voxel_size_m)
    objects = SCANNET_INSTANCE_CLASSES[grid.semantic] & (grid.instance > 0)
    assert objects.sum() > 100
    for instance_id in np.unique(grid.instance[objects]):
        members = objects & (grid.instance == instance_id)
        np.testing.assert_allclose(np.exp(oracle[members]), members.sum(), rtol=1e-4)
    np.testing.assert_array_equal(oracle[~objects], plain[~objects])
    assert not np.allclose(oracle[objects], plain[objects])


def test_oracle_occupancy_row_on_the_command_line(setup, tmp_path, capsys):
    root, checkpoint = setup
    argv = ["eval", "--dataset", "synthetic", "--data-root", str(root / "data"), "--split", "val",
            "--checkpoint", str(checkpoint), "--device", "cpu", "--ablation", "oracle_occupancy",
            "--json", str(tmp_path / "r.json")]  # fmt: skip
    assert main(argv) == 0
    assert "true occupancy (oracle)" in capsys.readouterr().out
    report = json.loads((tmp_path / "r.json").read_text())
    assert set(report["table6"]) == {"none", "oracle_occupancy"}
