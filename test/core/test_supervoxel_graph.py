"""The Felzenszwalb-Huttenlocher core (`felzenszwalb_segment`), its radix sort, relabelling and
the partition-quality measures, on hand-worked graphs."""

from __future__ import annotations

import numpy as np
import pytest

from occuseg_core.supervoxel import (
    best_match_agreement,
    felzenszwalb_segment,
    relabel_consecutive,
    supervoxel_purity,
)
from occuseg_core.supervoxel.graph import argsort_weights

# Path 0 - 1 - 2 - 3 with weights 0.125, 0.5, 0.25 (exact in float32).
PATH_EDGES = np.array([[0, 1], [1, 2], [2, 3]])
PATH_WEIGHTS = np.array([0.125, 0.5, 0.25], dtype=np.float32)


def test_path_merges_at_equal_threshold():
    """k = 0.75. Sorted: (0,1) 0.125 <= 0.75 -> {0,1}, threshold 0.125 + 0.75/2 = 0.5;
    (2,3) 0.25 <= 0.75 -> {2,3}, threshold 0.25 + 0.375 = 0.625; (1,2) 0.5 <= 0.5 and
    <= 0.625 -> one segment. Union by rank as ScanNet: 0 hangs under 1, 2 under 3, then the
    equal-rank roots 1 under 3, so every segIndex is 3."""
    seg = felzenszwalb_segment(4, PATH_EDGES, PATH_WEIGHTS, k_thresh=0.75)
    assert seg.tolist() == [3, 3, 3, 3]


def test_path_splits_above_threshold():
    """k = 0.5: {0,1} gets 0.125 + 0.25 = 0.375, {2,3} gets 0.25 + 0.25 = 0.5; (1,2) 0.5 >
    0.375, so two segments represented by 1 and 3."""
    seg = felzenszwalb_segment(4, PATH_EDGES, PATH_WEIGHTS, k_thresh=0.5)
    assert seg.tolist() == [1, 1, 3, 3]


@pytest.mark.parametrize("min_size, expected", [(0, [0, 1, 2, 3]), (2, [1, 1, 3, 3]),
                                                (3, [3, 3, 3, 3])])  # fmt: skip
def test_min_size_pass(min_size, expected):
    """k = 0 merges nothing (every w > 0). The second pass walks the sorted edges: min 2 joins
    (0,1) and (2,3) (sizes 1 < 2) but not (1,2) (2 and 2); min 3 also joins (1,2)."""
    seg = felzenszwalb_segment(4, PATH_EDGES, PATH_WEIGHTS, k_thresh=0.0, min_size=min_size)
    assert seg.tolist() == expected


def test_lightest_edge_absorbs_small_segment():
    """Node 2 alone (edges 0.75 to node 1, 0.5 to node 3, k = 0.1): the small-segment pass joins
    it across its lighter edge, to {3, 4}, not to {0, 1}."""
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 4]])
    weights = np.array([0.01, 0.75, 0.5, 0.01], dtype=np.float32)
    seg = felzenszwalb_segment(5, edges, weights, k_thresh=0.1, min_size=2)
    assert seg[2] == seg[3] == seg[4] != seg[0] == seg[1]


def test_self_loops_and_duplicates_change_nothing():
    edges = np.array([[0, 0], [0, 1], [1, 0], [1, 2], [2, 2]])
    weights = np.array([0.0, 0.125, 0.125, 0.5, 0.0], dtype=np.float32)
    plain = felzenszwalb_segment(3, edges[[1, 3]], weights[[1, 3]], k_thresh=0.5)
    assert felzenszwalb_segment(3, edges, weights, k_thresh=0.5).tolist() == plain.tolist()


@pytest.mark.parametrize("num_nodes", [0, 1, 3])
def test_no_edges(num_nodes):
    seg = felzenszwalb_segment(num_nodes, np.empty((0, 2), np.int64), np.empty(0), 1.0, 5)
    assert seg.dtype == np.int64 and seg.tolist() == list(range(num_nodes))


@pytest.mark.parametrize(
    "num_nodes, edges, weights, k, min_size",
    [
        (2, [[0, 2]], [0.1], 1.0, 0),  # node out of range
        (2, [[0, -1]], [0.1], 1.0, 0),
        (2, [[0, 1]], [np.nan], 1.0, 0),
        (2, [[0, 1]], [0.1, 0.2], 1.0, 0),  # lengths differ
        (2, [[0.0, 1.0]], [0.1], 1.0, 0),  # float edges
        (2, [[0, 1]], [0.1], -1.0, 0),
        (2, [[0, 1]], [0.1], 1.0, -1),
        (-1, np.empty((0, 2), int), [], 1.0, 0),
    ],
)
def test_invalid_graph_raises(num_nodes, edges, weights, k, min_size):
    with pytest.raises(ValueError):
        felzenszwalb_segment(num_nodes, np.array(edges), np.array(weights), k, min_size)


def test_argsort_weights_is_a_stable_sort(rng):
    """Radix sort = numpy's stable sort, with many ties, negatives, and -0.0 taken as +0.0."""
    weights = rng.choice(np.float32([-2.5, -0.0, 0.0, 1e-30, 0.125, 3.0, 1e30]), 5000)
    weights = np.concatenate([weights, rng.normal(size=5000).astype(np.float32)])
    expected = np.argsort(weights + np.float32(0.0), kind="stable")
    assert np.array_equal(argsort_weights(weights), expected)
    assert argsort_weights(np.empty(0, np.float32)).shape == (0,)


def test_relabel_consecutive():
    assert relabel_consecutive(np.array([7, 7, 3, 9, 3])).tolist() == [0, 0, 1, 2, 1]
    out = relabel_consecutive(np.array([], dtype=np.int64))
    assert out.dtype == np.int64 and out.shape == (0,)


def test_best_match_agreement_by_hand():
    """labels [0,0,1,1] vs reference [5,5,5,7]: segment 0 -> 5 shares 2, segment 1 -> 5 or 7
    shares 1: 3/4. Reverse: 5 -> 0 shares 2, 7 -> 1 shares 1: 3/4. A refinement scores 1."""
    assert best_match_agreement([0, 0, 1, 1], [5, 5, 5, 7]) == 0.75
    assert best_match_agreement([5, 5, 5, 7], [0, 0, 1, 1]) == 0.75
    assert best_match_agreement([0, 1, 2, 3], [5, 5, 5, 7]) == 1.0
    assert best_match_agreement([], []) == 1.0
    with pytest.raises(ValueError):
        best_match_agreement([0, 1], [0])


def test_supervoxel_purity_by_hand():
    """Supervoxels [0,0,0,1], instances [1,1,2,2]: supervoxel 0 is mostly 1 (2 of 3), 1 is all
    2: (2 + 1)/4 = 0.75. Ignoring instance 0 in [0,0,0,1] / [0,0,2,2]: supervoxel 0 counts only
    its instance-2 voxel: 2/2 = 1."""
    assert supervoxel_purity([0, 0, 0, 1], [1, 1, 2, 2]) == 0.75
    assert supervoxel_purity([0, 0, 0, 1], [0, 0, 2, 2], ignore_label=0) == 1.0
    assert supervoxel_purity([0, 0, 0, 1], [0, 0, 2, 2]) == 0.75
