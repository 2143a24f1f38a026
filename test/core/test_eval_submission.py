"""ScanNet submission files: writer/reader round trip, atomic writes, and the errors for
malformed files (each names the file and the problem)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from occuseg_core.errors import OccusegError
from occuseg_core.eval import (
    ScenePredictions,
    encode_ground_truth,
    evaluate_scannet,
    read_id_file,
    read_scannet_prediction,
    read_scannet_submission,
    write_scannet_submission,
)
from occuseg_core.eval.scannet_submission import MASK_FOLDER


def write_gt(folder: Path, name: str, gt: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.txt").write_text("".join(f"{int(v)}\n" for v in gt))


def test_write_from_instance_ids_layout(tmp_path):
    """ids [0, 0, -1, 1, 1] -> two masks 11000 and 00011, lines `predicted_masks/s_k.txt l c`."""
    path = write_scannet_submission(
        tmp_path, "s", np.array([0, 0, -1, 1, 1]), np.array([5, 7]), np.array([0.75, 0.1])
    )
    assert path == tmp_path / "s.txt"
    assert path.read_text().splitlines() == [
        f"{MASK_FOLDER}/s_0.txt 5 0.75",
        f"{MASK_FOLDER}/s_1.txt 7 0.1",
    ]
    assert (tmp_path / MASK_FOLDER / "s_0.txt").read_text() == "1\n1\n0\n0\n0\n"
    assert (tmp_path / MASK_FOLDER / "s_1.txt").read_text() == "0\n0\n0\n1\n1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [MASK_FOLDER, "s.txt"]  # no temp left


def test_round_trip_is_exact(tmp_path, rng):
    """Overlapping masks and arbitrary float scores survive write -> read unchanged."""
    masks = rng.random((6, 300)) < 0.3
    labels = rng.choice([3, 5, 39], 6)
    scores = rng.random(6)
    write_scannet_submission(tmp_path / "pred", "scene0001_00", masks, labels, scores)
    pred = read_scannet_prediction(tmp_path / "pred" / "scene0001_00.txt", 300)
    np.testing.assert_array_equal(pred.masks, masks)
    np.testing.assert_array_equal(pred.label_ids, labels)
    np.testing.assert_array_equal(pred.scores, scores)


def test_rewrite_removes_stale_masks_only_of_that_scene(tmp_path):
    write_scannet_submission(tmp_path, "a", np.array([0, 1, 2]), np.array([5, 5, 5]), np.ones(3))
    write_scannet_submission(tmp_path, "a_1", np.array([0]), np.array([5]), np.ones(1))
    write_scannet_submission(tmp_path, "a", np.array([0, -1, -1]), np.array([5]), np.ones(1))
    names = sorted(p.name for p in (tmp_path / MASK_FOLDER).iterdir())
    assert names == ["a_0.txt", "a_1_0.txt"]


def test_writer_leaves_nothing_on_error(tmp_path):
    with pytest.raises(OccusegError):
        write_scannet_submission(tmp_path, "s", np.array([0, 3]), np.array([5]), np.ones(1))
    with pytest.raises(OccusegError, match="scene name"):
        write_scannet_submission(tmp_path, "bad name", np.array([0]), np.array([5]), np.ones(1))
    with pytest.raises(OccusegError, match="NaN"):
        write_scannet_submission(tmp_path, "s", np.array([0]), np.array([5]), np.array([np.nan]))
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert leftovers == []


def test_empty_scene_writes_empty_file(tmp_path):
    write_scannet_submission(tmp_path, "s", np.full(4, -1), np.zeros(0, int), np.zeros(0))
    assert (tmp_path / "s.txt").read_text() == ""
    assert read_scannet_prediction(tmp_path / "s.txt", 4).num_instances == 0


def test_read_id_file_generic_and_fast_paths(tmp_path):
    (tmp_path / "a.txt").write_text("0\n1\n1\n0")  # no final newline
    (tmp_path / "b.txt").write_text("5001\n0\n12\n")
    np.testing.assert_array_equal(read_id_file(tmp_path / "a.txt"), [0, 1, 1, 0])
    np.testing.assert_array_equal(read_id_file(tmp_path / "b.txt"), [5001, 0, 12])
    (tmp_path / "c.txt").write_text("1\nx\n")
    with pytest.raises(OccusegError, match="c.txt"):
        read_id_file(tmp_path / "c.txt")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("predicted_masks/s_0.txt 5", "expected '<mask path> <label id> <confidence>'"),
        ("predicted_masks/s_0.txt five 0.5", "must be numbers"),
        ("/abs/s_0.txt 5 0.5", "must be relative"),
        ("../outside.txt 5 0.5", "outside the prediction folder"),
        ("predicted_masks/nope.txt 5 0.5", "not found"),
        ("predicted_masks/s_0.txt 5 nan", "finite"),
    ],
)
def test_malformed_prediction_lines(tmp_path, line, message):
    write_scannet_submission(tmp_path, "s", np.array([0, 0]), np.array([5]), np.ones(1))
    (tmp_path / "s.txt").write_text(line + "\n")
    with pytest.raises(OccusegError, match=message):
        read_scannet_prediction(tmp_path / "s.txt", 2)


def test_duplicate_mask_and_wrong_length(tmp_path):
    write_scannet_submission(tmp_path, "s", np.array([0, 0, 0]), np.array([5]), np.ones(1))
    with pytest.raises(OccusegError, match="has 3 lines but the ground truth of s has 4"):
        read_scannet_prediction(tmp_path / "s.txt", 4)
    line = f"{MASK_FOLDER}/s_0.txt 5 1.0\n"
    (tmp_path / "s.txt").write_text(line * 2)
    with pytest.raises(OccusegError, match="listed twice"):
        read_scannet_prediction(tmp_path / "s.txt", 3)


def test_submission_folder_rules(tmp_path):
    """Official rules: every prediction file needs ground truth; gt scenes without predictions
    are read (the evaluator skips them by default); the result file is not a prediction."""
    gt = np.array([5001] * 150 + [0] * 50)
    write_gt(tmp_path / "gt", "a", gt)
    write_gt(tmp_path / "gt", "b", gt)
    pred_dir = tmp_path / "pred"
    with pytest.raises(OccusegError, match="prediction folder not found"):
        read_scannet_submission(pred_dir, tmp_path / "gt")
    pred_dir.mkdir()
    with pytest.raises(OccusegError, match="no prediction files"):
        read_scannet_submission(pred_dir, tmp_path / "gt")
    (pred_dir / "semantic_instance_evaluation.txt").write_text("class,ap\n")
    write_scannet_submission(pred_dir, "a", (gt > 0).astype(int) - 1, np.array([5]), np.ones(1))
    preds, gts = read_scannet_submission(pred_dir, tmp_path / "gt")
    assert sorted(preds) == ["a"] and sorted(gts) == ["a", "b"]
    write_scannet_submission(pred_dir, "c", np.zeros(3, int), np.array([5]), np.ones(1))
    with pytest.raises(OccusegError, match="c.txt has no ground-truth file"):
        read_scannet_submission(pred_dir, tmp_path / "gt")


def test_real_scan_round_trip_matches_in_memory(tmp_path, scannet_scene_dir):
    """Ground truth written as gt file + submission (each instance a mask, conf 1): reading
    it back gives the same result as the in-memory evaluation, AP = 1 for present classes."""
    sem = np.load(scannet_scene_dir / "scene0000_00_sem_label_all.npy").astype(np.int64)
    ins = np.load(scannet_scene_dir / "scene0000_00_ins_label_all.npy").astype(np.int64)
    gt = encode_ground_truth(sem, ins)
    ids = np.unique(gt[gt > 0])
    index = np.searchsorted(ids, gt)
    per_vertex = np.where(gt > 0, index, -1)
    write_gt(tmp_path / "gt", "scene0000_00", gt)
    write_scannet_submission(
        tmp_path / "pred", "scene0000_00", per_vertex, ids // 1000, np.ones(ids.size)
    )
    preds, gts = read_scannet_submission(tmp_path / "pred", tmp_path / "gt")
    from_files = evaluate_scannet(preds, gts)
    in_memory = evaluate_scannet(
        {
            "scene0000_00": ScenePredictions.from_instance_ids(
                per_vertex, ids // 1000, np.ones(ids.size)
            )
        },
        {"scene0000_00": gt},
    )
    np.testing.assert_array_equal(from_files.ap_per_threshold, in_memory.ap_per_threshold)
    assert from_files.mean_ap == 1.0
