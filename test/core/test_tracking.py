"""Instance id tracking by voxel overlap: hand-worked IoUs and id stability."""

from __future__ import annotations

import numpy as np
import pytest

from occuseg_core.tracking import InstanceTracker, greedy_match, overlap_iou


def keys(*values):
    return np.array(values, dtype=np.int64)


def test_overlap_iou_hand_worked():
    """prev {1,2,3,4} vs cur {3,4,5}: inter 2, union 5 -> 0.4; prev {10} vs cur {10}: 1."""
    iou = overlap_iou([keys(1, 2, 3, 4), keys(10)], [keys(3, 4, 5), keys(10), keys(99)])
    np.testing.assert_allclose(iou, [[0.4, 0, 0], [0, 1.0, 0]])


def test_greedy_match_is_one_to_one_best_first():
    """Both current sets overlap previous 0; the better one (0.9) wins, the other is new."""
    iou = np.array([[0.5, 0.9], [0.0, 0.0]])
    np.testing.assert_array_equal(greedy_match(iou, 0.3), [-1, 0])
    np.testing.assert_array_equal(greedy_match(iou, 0.95), [-1, -1])


def test_ids_persist_under_noise_reordering_and_a_missed_update(rng):
    tracker = InstanceTracker(min_overlap=0.3, memory=2)
    objects = [np.arange(k * 1000, k * 1000 + 200) for k in range(4)]
    first = tracker.update(objects)
    np.testing.assert_array_equal(first, [1, 2, 3, 4])
    # same objects, shuffled order, each losing 20% and gaining 20% new voxels
    noisy = [np.concatenate([o[40:], o[-1] + 1 + np.arange(40)]) for o in objects]
    order = rng.permutation(4)
    second = tracker.update([noisy[i] for i in order])
    np.testing.assert_array_equal(second, first[order])
    # object 2 missed once, then back: same id; a brand-new object gets 5
    third = tracker.update([objects[0], objects[1], objects[3]])
    np.testing.assert_array_equal(third, [1, 2, 4])
    fourth = tracker.update([objects[2], np.arange(50_000, 50_100)])
    np.testing.assert_array_equal(fourth, [3, 5])


def test_forgotten_after_memory_updates():
    tracker = InstanceTracker(memory=1)
    tracker.update([keys(1, 2, 3)])
    tracker.update([])
    tracker.update([])
    assert tracker.update([keys(1, 2, 3)]).tolist() == [2]


def test_rejects_bad_overlap():
    with pytest.raises(ValueError, match="min_overlap"):
        InstanceTracker(min_overlap=0.0)
