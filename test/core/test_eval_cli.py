"""`occuseg eval --pred DIR --gt DIR`: round trip on a tiny submission and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from occuseg_core.cli import main
from occuseg_core.eval import ScenePredictions, evaluate_scannet, write_scannet_submission

V = 600


def ground_truth() -> np.ndarray:
    """chair 0..199 (5001), chair 200..399 (5002), table 400..599 (7003)."""
    gt = np.zeros(V, np.int64)
    gt[:200], gt[200:400], gt[400:] = 5001, 5002, 7003
    return gt


@pytest.fixture
def submission(tmp_path):
    """Scene a: chair A found (0.9), a chair on the table (FP, 0.8), chair B found (0.7), the
    table found (0.6). Scene b: gt only (no prediction file)."""
    gt = ground_truth()
    (tmp_path / "gt").mkdir()
    for name in ("scene_a", "scene_b"):
        (tmp_path / "gt" / f"{name}.txt").write_text("".join(f"{v}\n" for v in gt))
    masks = np.stack([gt == 5001, gt == 7003, gt == 5002, gt == 7003])
    pred = ScenePredictions(masks, np.array([5, 5, 5, 7]), np.array([0.9, 0.8, 0.7, 0.6]))
    write_scannet_submission(tmp_path / "pred", "scene_a", pred.masks, pred.label_ids, pred.scores)
    return tmp_path, pred, gt


def test_round_trip_prints_table_and_writes_json(submission, capsys):
    """Chair AP = 19/24 (see test_eval_instance_ap), table 1: mean (19/24 + 1) / 2 = 43/48.
    scene_b has no prediction file and is skipped, as the official script does."""
    tmp, pred, gt = submission
    out = tmp / "result.json"
    rc = main(["eval", "--pred", str(tmp / "pred"), "--gt", str(tmp / "gt"), "--json", str(out)])
    captured = capsys.readouterr()
    assert rc == 0
    assert "| AP |" in captured.out and "| mAP | mAP@0.5 | mAP@0.25 |" in captured.out
    assert "1 ground-truth scenes have no prediction file" in captured.err
    data = json.loads(out.read_text())
    expected = evaluate_scannet({"scene_a": pred}, {"scene_a": gt})
    assert data["mean"]["ap"] == pytest.approx(43 / 48) == expected.mean_ap
    assert data["classes"]["chair"]["ap50"] == pytest.approx(19 / 24)
    assert data["skipped_scenes"] == ["scene_b"] and data["num_scenes"] == 1


def test_missing_empty_counts_the_scene(submission, capsys):
    """With --missing empty, scene_b's 2 chairs and table are misses: chair recall halves."""
    tmp, _, _ = submission
    out = tmp / "r.json"
    argv = ["eval", "--pred", str(tmp / "pred"), "--gt", str(tmp / "gt"), "--json", str(out)]
    assert main(argv + ["--missing", "empty"]) == 0
    assert json.loads(out.read_text())["classes"]["table"]["ap"] == pytest.approx(0.5)
    assert main(argv + ["--missing", "error"]) == 2
    assert "ground-truth scene scene_b has no prediction" in capsys.readouterr().err


def run_error(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("occuseg eval: error:")
    return err


def test_errors_are_one_line(submission, capsys):
    tmp, _, _ = submission
    pred, gt = str(tmp / "pred"), str(tmp / "gt")
    assert "not found" in run_error(["eval", "--pred", str(tmp / "no"), "--gt", gt], capsys)
    assert "give --pred DIR and --gt DIR" in run_error(["eval", "--pred", pred], capsys)
    (tmp / "pred" / "scene_a.txt").write_text("predicted_masks/scene_a_0.txt 5\n")
    assert "line 1" in run_error(["eval", "--pred", pred, "--gt", gt], capsys)
    (tmp / "pred" / "scene_a.txt").write_text("predicted_masks/scene_a_0.txt 5 0.9\n")
    (tmp / "gt" / "scene_a.txt").write_text("0\n" * (V + 1))
    assert f"has {V} lines" in run_error(["eval", "--pred", pred, "--gt", gt], capsys)
    (tmp / "gt" / "scene_a.txt").unlink()
    assert "has no ground-truth file" in run_error(["eval", "--pred", pred, "--gt", gt], capsys)


def test_dataset_mode_argument_errors(tmp_path, capsys):
    """The dataset mode itself is tested in test_eval_dataset.py; here its argument checks."""
    base = ["eval", "--dataset", "scannet"]
    assert "needs --data-root" in run_error(base, capsys)
    full = base + ["--data-root", str(tmp_path / "nowhere"), "--split", "val"]
    assert "nowhere" in run_error(full, capsys)
    mixed = ["eval", "--pred", str(tmp_path), "--gt", str(tmp_path), "--dataset", "s3dis"]
    assert "not both" in run_error(mixed, capsys)


def test_class_agnostic_submission(submission, capsys):
    """Every object one class: chair A (0.9), the 'chair' on the table (0.8) and chair B (0.7)
    are true positives, the table's second prediction (0.6) a false positive below them all:
    precision is 1 up to full recall, AP = 1 at every threshold."""
    tmp, _, _ = submission
    out = tmp / "agnostic.json"
    argv = ["eval", "--pred", str(tmp / "pred"), "--gt", str(tmp / "gt"), "--class-agnostic",
            "--json", str(out)]  # fmt: skip
    assert main(argv) == 0
    data = json.loads(out.read_text())
    assert list(data["classes"]) == ["object"] and data["mean"]["ap"] == pytest.approx(1.0)
    assert "| object |" in capsys.readouterr().out


def test_class_agnostic_is_refused_for_other_protocols(tmp_path, capsys):
    argv = ["eval", "--dataset", "s3dis", "--data-root", str(tmp_path), "--split", "area5-val",
            "--class-agnostic"]  # fmt: skip
    assert main(argv) == 2
    assert "--class-agnostic scores the ScanNet protocol" in capsys.readouterr().err
