"""S3DIS mPrec/mRec (ASIS / 3D-BoNet convention) and SceneNN AP50: hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from occuseg_core.eval import (
    SCENENN10,
    ScenePredictions,
    evaluate_precision_recall,
    evaluate_s3dis,
    evaluate_scenenn,
)

CHAIR, TABLE, SOFA = 9, 8, 10  # S3DIS13 ids


def scene():
    """30 points: chair A 0..9 (9001), chair B 10..19 (9002), table 20..29 (8003)."""
    gt = np.zeros(30, np.int64)
    gt[0:10], gt[10:20], gt[20:30] = 9001, 9002, 8003
    return gt


def preds(*items):
    masks = np.zeros((len(items), 30), bool)
    for k, (points, _) in enumerate(items):
        masks[k, list(points)] = True
    labels = np.array([label for _, label in items], dtype=np.int64)
    return ScenePredictions(masks, labels, np.ones(len(items)))


def test_precision_recall_hand_case():
    """Chair predictions: A exactly (IoU 1, TP); 5 pts of A + 5 of the table (IoU 5/15, FP);
    5 pts of B (IoU 5/10 = 0.5 >= 0.5, TP). Chair: prec 2/3, rec 2/2.
    Table has gt but no prediction: prec 0, rec 0. Sofa: a prediction but no gt: left out.
    mPrec = (2/3 + 0) / 2 = 1/3; mRec = (1 + 0) / 2 = 1/2."""
    p = preds(
        (range(0, 10), CHAIR),
        (list(range(0, 5)) + list(range(20, 25)), CHAIR),
        (range(10, 15), CHAIR),
        (range(25, 30), SOFA),
    )
    r = evaluate_precision_recall([p], [scene()], (CHAIR, TABLE, SOFA), ("chair", "table", "sofa"))
    np.testing.assert_allclose(r.precision[:2], [2 / 3, 0.0])
    np.testing.assert_allclose(r.recall[:2], [1.0, 0.0])
    assert math.isnan(r.precision[2]) and math.isnan(r.recall[2])
    assert r.mean_precision == pytest.approx(1 / 3) and r.mean_recall == pytest.approx(0.5)
    assert "| mPrec | mRec |" in r.to_markdown()


def test_duplicates_all_count_as_true_positives():
    """No one-to-one matching in this convention: A predicted twice gives TP 2 of 2
    predictions and recall 2/1 for a one-chair scene (the ASIS / 3D-BoNet behaviour)."""
    gt = scene()
    gt[10:20] = 0
    r = evaluate_precision_recall(
        [preds((range(10), CHAIR), (range(10), CHAIR))], [gt], (CHAIR,), ("chair",)
    )
    assert r.precision[0] == 1.0 and r.recall[0] == 2.0


def test_s3dis_result_has_table3_and_ap50(rng):
    """Perfect predictions of all three instances: mPrec = mRec = 1; AP50 = 1 for chair and
    table (min_region_size 1 here: the instances have 10 points), NaN for the other 11."""
    p = preds((range(0, 10), CHAIR), (range(10, 20), CHAIR), (range(20, 30), TABLE))
    r = evaluate_s3dis({"room": p}, {"room": scene()}, min_region_size=1)
    assert r.precision_recall.mean_precision == r.precision_recall.mean_recall == 1.0
    assert r.instance_ap.mean_ap50 == 1.0
    assert np.isnan(r.instance_ap.ap50).sum() == 11
    assert r.to_dict()["benchmark"] == "s3dis" and "mPrec" in r.to_markdown()


def test_empty_inputs_give_nan_means():
    r = evaluate_precision_recall([], [], (CHAIR,), ("chair",))
    assert r.num_gt.shape == (1,) and math.isnan(r.mean_precision)


def test_scenenn_classes_and_table4():
    """Table 4 columns: wall floor cabinet bed chair sofa table desk tv prop (NYU40 ids)."""
    assert SCENENN10.names == (
        "wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "desk", "television", "prop",
    )  # fmt: skip
    assert SCENENN10.dataset_ids[-2:] == (25, 40)
    gt = np.zeros(400, np.int64)
    gt[:200], gt[200:] = 1001, 25002  # a wall and a TV
    masks = np.stack([gt == 1001, gt == 25002])
    p = ScenePredictions(masks, np.array([1, 25]), np.array([0.9, 0.8]))
    r = evaluate_scenenn({"s": p}, {"s": gt})
    assert r.instance_ap.mean_ap50 == 1.0
    header = r.to_markdown().splitlines()[0]
    assert "| mAP@0.5 | wall | floor |" in header and "| tv | prop |" in header
