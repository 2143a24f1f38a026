"""Semantic mIoU (confusion matrix, ignored labels) and the occupancy error of eq. 11 / Fig. 4."""

from __future__ import annotations

import math

import numpy as np
import pytest

from occuseg_core.classes import IGNORE_INDEX, SCANNET20, ClassTable
from occuseg_core.errors import OccusegError
from occuseg_core.eval import (
    class_iou,
    evaluate_semantic,
    fraction_below,
    occupancy_relative_errors,
    plot_occupancy_cdf,
    semantic_confusion,
)

TWO = ClassTable(name="two", dataset_ids=(1, 2), names=("wall", "floor"), background_ids=())


def test_confusion_and_iou_hand_case():
    """gt [1 1 2 2 0 2], pred [1 2 2 2 1 5]; gt 0 is ignored, pred 5 is "other".
    Rows gt 1: (1, 1, 0); gt 2: (0, 2, 1). IoU_1 = 1 / (1 + 0 + 1) = 1/2;
    IoU_2 = 2 / (2 + 1 + 1) = 1/2 (fp: the gt-1 point, fn: the "other" point). mIoU = 1/2."""
    conf = semantic_confusion(np.array([1, 1, 2, 2, 0, 2]), np.array([1, 2, 2, 2, 1, 5]), (1, 2))
    np.testing.assert_array_equal(conf, [[1, 1, 0], [0, 2, 1]])
    np.testing.assert_allclose(class_iou(conf), [0.5, 0.5])
    result = evaluate_semantic([(np.array([1, 1, 2, 2, 0, 2]), np.array([1, 2, 2, 2, 1, 5]))], TWO)
    assert result.mean_iou == pytest.approx(0.5)
    assert result.accuracy == pytest.approx(3 / 5)


def test_train_ids_with_ignore_index_and_absent_class():
    """Train ids: IGNORE_INDEX points are dropped; a class never seen is NaN, not 0.
    gt [0 0 -100], pred [0 1 1] -> class 0: 1/(1+0+1) = 1/2; class 1: tp 0 fp 1 fn 0 -> 0."""
    result = evaluate_semantic(
        [(np.array([0, 0, IGNORE_INDEX]), np.array([0, 1, 1]))], SCANNET20, use_train_ids=True
    )
    assert result.iou[0] == pytest.approx(0.5) and result.iou[1] == 0.0
    assert np.isnan(result.iou[2:]).all()
    assert result.mean_iou == pytest.approx(0.25)
    assert result.to_dict()["classes"]["chair"]["iou"] is None


def test_semantic_input_errors_and_empty():
    with pytest.raises(OccusegError, match="shape"):
        semantic_confusion(np.zeros(3, int), np.zeros(4, int), (1,))
    empty = evaluate_semantic([], TWO)
    assert empty.confusion.shape == (2, 3) and math.isnan(empty.mean_iou)


def test_occupancy_relative_error_hand_case():
    """Instance 1: 4 voxels, o = log 5 each -> exp(mean) = 5, R = |4 - 5| / 4 = 0.25.
    Instance 7: 2 voxels, o = (0, log 4) -> exp(mean) = exp(log 2) = 2, R = 0.
    Instance 3: 1 voxel, o = log 2 -> R = |1 - 2| / 1 = 1. Voxels with id -1 or 0 are skipped.
    Ascending ids (1, 3, 7): R = (0.25, 1, 0); fraction < 0.3 = 2/3."""
    ids = np.array([1, 1, 1, 1, 7, 7, -1, 0, 3])
    occ = np.log([5, 5, 5, 5, 1, 4, 100, 100, 2])
    errors = occupancy_relative_errors(ids, occ)
    np.testing.assert_allclose(errors, [0.25, 1.0, 0.0], atol=1e-12)
    assert fraction_below(errors) == pytest.approx(2 / 3)


def test_occupancy_empty_and_errors():
    assert occupancy_relative_errors(np.full(3, -1), np.zeros(3)).shape == (0,)
    assert math.isnan(fraction_below(np.zeros(0)))
    with pytest.raises(OccusegError, match="one length"):
        occupancy_relative_errors(np.zeros(3, int), np.zeros(2))
    with pytest.raises(OccusegError, match="NaN"):
        occupancy_relative_errors(np.array([1]), np.array([np.nan]))


def test_relative_error_is_invariant_to_id_values():
    """Relabelling instances permutes the errors (ascending new ids) but keeps the multiset."""
    rng = np.random.default_rng(3)
    ids = rng.integers(1, 6, 200)
    occ = rng.normal(3.0, 0.5, 200)
    errors = occupancy_relative_errors(ids, occ)
    relabel = np.array([0, 50, 10, 40, 20, 30])
    np.testing.assert_allclose(
        np.sort(occupancy_relative_errors(relabel[ids], occ)), np.sort(errors)
    )


@pytest.mark.parametrize("errors", [np.array([0.05, 0.1, 0.2, 0.5, 1.2]), np.zeros(0)])
def test_plot_occupancy_cdf_writes_png(tmp_path, errors):
    path = plot_occupancy_cdf(errors, tmp_path / "fig4.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    assert [p.name for p in tmp_path.iterdir()] == ["fig4.png"]
