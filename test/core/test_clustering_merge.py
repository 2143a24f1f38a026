"""Greedy occupancy-aware merging (paper eq. 14): hand-computed weights, the paper's two
behaviours (touching identical chairs, an object split into pieces), ablation switches, the
final ratio filter, empty and malformed inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from occuseg_core.clustering import (
    MergeConfig,
    SupervoxelStatistics,
    edge_weights,
    merge_supervoxels,
    supervoxel_statistics,
)

EXP_061 = math.exp(-0.61)  # 0.543351


def two_supervoxels(predicted_size: float) -> SupervoxelStatistics:
    """Supervoxel 0 = 3 voxels, supervoxel 1 = 1 voxel; mean o over the union = log(size)."""
    p = predicted_size
    return supervoxel_statistics(
        supervoxel=np.array([0, 0, 0, 1]),
        positions_m=np.array([[0, 0, 0], [0.02, 0, 0], [0.04, 0, 0], [0.06, 0, 0]]),
        spatial_embedding=np.array([[0.02, 0, 0], [0, 0, 0], [-0.02, 0, 0], [0.02, 0.08, 0]]),
        feature_embedding=np.array([[0, 0], [0.3, 0], [0.3, 0.3], [0.2, 0.4]]),
        sigma=np.array([[0.4, 0.1], [0.4, 0.1], [0.4, 0.1], [0.8, 0.5]]),
        log_occupancy=np.log([p / 2, p, 2 * p, p]),
    )


HAND_CASES = {
    # name: (predicted size, config kwargs, expected weight)
    "r=0.5 boost 2x": (8, {}, 2 * EXP_061),
    "r=1 no boost": (4, {}, EXP_061),
    "r=2 halved": (2, {}, EXP_061 / 2),
    "r=0.25 boost capped at 2x": (16, {}, 2 * EXP_061),
    "no occupancy: r=1": (2, {"use_occupancy": False}, EXP_061),
    "no feature": (8, {"use_feature": False}, 2 * math.exp(-0.25)),
    "no spatial": (8, {"use_spatial": False}, 2 * math.exp(-0.36)),
}


@pytest.mark.parametrize("case", list(HAND_CASES), ids=list(HAND_CASES))
def test_hand_computed_eq14_weight(case: str) -> None:
    """Virtual merged vertex (4 voxels): sigma_s = (3 * 0.4 + 0.8) / 4 = 0.5,
    sigma_d = (3 * 0.1 + 0.5) / 4 = 0.2. S_0 = mean((0,0), (0.3,0), (0.3,0.3)) = (0.2, 0.1),
    S_1 = (0.2, 0.4): ||S_0 - S_1|| = 0.3 -> (0.3 / 0.5)^2 = 0.36. Centres mu + d: supervoxel 0
    all (0.02, 0, 0), supervoxel 1 (0.08, 0.08, 0): ||D_0 - D_1|| = 0.1 -> (0.1 / 0.2)^2 = 0.25.
    exp(-0.61) = 0.54335. Mean o over the union = (log(p/2) + log p + log 2p + log p) / 4 =
    log p, so r = 4 / p: p = 8 -> r = 0.5 -> w = 0.54335 / 0.5 = 1.08670; p = 4 -> 0.54335;
    p = 2 -> r = 2 -> 0.27168; p = 16 -> r = 0.25, max(r, 0.5) = 0.5 -> 1.08670.
    Without the feature term exp(-0.25) / 0.5 = 1.55760; without the spatial term
    exp(-0.36) / 0.5 = 1.39535; without occupancy r = 1 -> 0.54335 whatever p."""
    size, kwargs, expected = HAND_CASES[case]
    weight = edge_weights(two_supervoxels(size), np.array([[0, 1]]), MergeConfig(**kwargs))
    assert weight[0] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("size", "kwargs", "merged", "kept"),
    [
        (8, {}, True, [True]),  # w = 1.087 > 0.5; merged r = 0.5 is inside (0.3, 2)
        (4, {}, True, [True]),  # w = 0.543 > 0.5; r = 1
        (2, {}, False, [True, True]),  # w = 0.272; r = 3 / 2 = 1.5 and 1 / 2 = 0.5
        (16, {}, True, [False]),  # w = 1.087; merged r = 4 / 16 = 0.25 <= 0.3: rejected
        (2, {"use_occupancy": False}, True, [True]),  # w = 0.543; no ratio filter (r = 2)
        # T0 above w = 0.543; alone, supervoxel 0 has mean o = (log 2 + log 4 + log 8) / 3 =
        # log 4 -> r = 3 / 4 (kept) and supervoxel 1 r = 1 / 4 (rejected)
        (4, {"merge_threshold": 0.6}, False, [True, False]),
    ],
)
def test_two_supervoxels_merge_iff_weight_above_threshold(size, kwargs, merged, kept) -> None:
    result = merge_supervoxels(two_supervoxels(size), np.array([[0, 1]]), MergeConfig(**kwargs))
    assert result.cluster.tolist() == ([0, 0] if merged else [0, 1])
    assert result.num_merges == int(merged)
    assert result.kept.tolist() == kept


def pieces_inputs(pieces, rng, sigma=(0.5, 1.0), noise=0.002) -> dict[str, np.ndarray]:
    """Voxel-level head outputs; piece k = (voxels, centre (3,), feature (E,), predicted size)
    becomes supervoxel k: voxels scattered in a 0.3 m box around the centre, offsets d pointing
    to the centre, features at `feature`, o = log(predicted size), all plus small noise."""
    out = {key: [] for key in ("supervoxel", "positions_m", "spatial_embedding",
                               "feature_embedding", "log_occupancy")}  # fmt: skip
    for k, (n, centre, feature, size) in enumerate(pieces):
        mu = np.asarray(centre) + rng.uniform(-0.15, 0.15, (n, 3))
        out["supervoxel"].append(np.full(n, k))
        out["positions_m"].append(mu)
        out["spatial_embedding"].append(np.asarray(centre) - mu + rng.normal(0, noise, (n, 3)))
        out["feature_embedding"].append(feature + rng.normal(0, noise, (n, len(feature))))
        out["log_occupancy"].append(np.log(size) + rng.normal(0, noise, n))
    out = {key: np.concatenate(value) for key, value in out.items()}
    out["sigma"] = np.tile(np.asarray(sigma, dtype=np.float64), (len(out["supervoxel"]), 1))
    return out


def touching_chairs(rng: np.random.Generator) -> tuple[SupervoxelStatistics, np.ndarray]:
    """Two identical chairs of 200 voxels (predicted size 200), each a 110-voxel seat plus three
    30-voxel legs; the seats touch. Chair features differ by 0.25 (sigma_s = 0.5), centres by
    0.5 m (sigma_d = 1): the seat-seat exponential is exp(-(0.25/0.5)^2 - (0.5/1)^2) =
    exp(-0.5) = 0.61, above T0 = 0.5 on its own."""
    pieces = []
    for centre, feature in (((0.0, 0, 0.4), (1.0, 0.0)), ((0.5, 0, 0.4), (1.0, 0.25))):
        pieces += [(110, centre, feature, 200)] + [(30, centre, feature, 200)] * 3
    edges = np.array([[0, 1], [0, 2], [0, 3], [4, 5], [4, 6], [4, 7], [0, 4]])
    return supervoxel_statistics(**pieces_inputs(pieces, rng)), edges


def test_touching_chairs_kept_apart_by_occupancy(rng: np.random.Generator) -> None:
    """Legs join their seat first (w ~ 1 / r >= 1 while r <= 1). Once both chairs are complete,
    the merged pair would hold 400 voxels for a predicted 200: r = 2 -> w = 0.61 / 2 = 0.30
    < 0.5, so they stay apart; each chair has r = 1 and is kept."""
    stats, edges = touching_chairs(rng)
    result = merge_supervoxels(stats, edges, MergeConfig())
    assert result.cluster.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert result.voxel_count.tolist() == [200, 200] and result.kept.all()
    np.testing.assert_allclose(result.occupancy_ratio, 1.0, rtol=0.01)


def test_touching_chairs_merged_without_occupancy(rng: np.random.Generator) -> None:
    """With r = 1 everywhere the seat-seat weight stays 0.61 > 0.5: one 400-voxel cluster."""
    stats, edges = touching_chairs(rng)
    result = merge_supervoxels(stats, edges, MergeConfig(use_occupancy=False))
    assert result.cluster.tolist() == [0] * 8
    assert result.voxel_count.tolist() == [400] and result.kept.tolist() == [True]


def split_object(rng: np.random.Generator, predicted_size: float) -> tuple:
    """One object of 4 x 50 voxels (one centre) in a chain of pieces 0-1-2-3 whose features
    are u + a * e_k (e_k orthonormal, sigma_s = 0.5, (a / sigma_s)^2 = 0.4): any two pieces
    are a * sqrt(2) apart, exp(-2 * 0.4) = 0.449 < T0."""
    a = 0.5 * math.sqrt(0.4)
    pieces = [
        (50, (1.0, 2.0, 0.5), np.ones(4) + a * np.eye(4)[k], predicted_size) for k in range(4)
    ]
    return supervoxel_statistics(**pieces_inputs(pieces, rng)), np.array([[0, 1], [1, 2], [2, 3]])


def test_split_object_reassembled_thanks_to_occupancy(rng: np.random.Generator) -> None:
    """Predicted size 200. Two pieces: r = 0.5 -> w = 0.449 * 2 = 0.90. A pair and a piece:
    distance^2 = a^2 |e_0 - (e_1 + e_2) / 2|^2 = 1.5 a^2 -> exp(-0.6) = 0.549, r = 0.75 ->
    0.73. Two pairs: distance^2 = a^2 -> exp(-0.4) = 0.67, r = 1. Three and one: distance^2 =
    4/3 a^2 -> exp(-0.533) = 0.587, r = 1. Every path ends in one kept 200-voxel cluster."""
    stats, edges = split_object(rng, 200)
    assert (edge_weights(stats, edges, MergeConfig(use_occupancy=False)) < 0.5).all()
    result = merge_supervoxels(stats, edges, MergeConfig())
    assert result.cluster.tolist() == [0, 0, 0, 0] and result.kept.tolist() == [True]
    assert result.occupancy_ratio[0] == pytest.approx(1.0, rel=0.01)


def test_split_object_stays_split_without_occupancy_boost(rng: np.random.Generator) -> None:
    """Without occupancy every weight is 0.449 < 0.5; with predicted size 50 (each piece looks
    complete) a pair has r = 2 -> 0.22: both leave the four pieces apart."""
    stats, edges = split_object(rng, 200)
    no_occupancy = merge_supervoxels(stats, edges, MergeConfig(use_occupancy=False))
    assert no_occupancy.cluster.tolist() == [0, 1, 2, 3] and no_occupancy.kept.all()
    small_prediction = merge_supervoxels(split_object(rng, 50)[0], edges, MergeConfig())
    assert small_prediction.cluster.tolist() == [0, 1, 2, 3] and small_prediction.kept.all()


@pytest.mark.parametrize(
    ("difference", "switch"),
    [("feature", "use_feature"), ("spatial", "use_spatial")],
)
def test_ablation_switch_ignores_its_term(difference: str, switch: str, rng) -> None:
    """Two 50-voxel pieces of a 100-voxel object that differ only in one embedding by 3 units
    (sigma 0.5 / 1.0): exp(-36) or exp(-9) ~ 0 keeps them apart; dropping that term leaves
    exp(0) / max(r = 1, 0.5) ~ 1 and they merge."""
    far_centre, far_feature = (
        ((3.0, 0, 0), (0.0, 0)) if difference == "spatial" else ((0, 0, 0), (3.0, 0))
    )
    pieces = [(50, (0, 0, 0), (0.0, 0), 100), (50, far_centre, far_feature, 100)]
    stats, edges = supervoxel_statistics(**pieces_inputs(pieces, rng)), np.array([[0, 1]])
    assert merge_supervoxels(stats, edges).cluster.tolist() == [0, 1]
    ablated = merge_supervoxels(stats, edges, MergeConfig(**{switch: False}))
    assert ablated.cluster.tolist() == [0, 0]


def test_ratio_filter_and_min_voxels(rng: np.random.Generator) -> None:
    """Isolated pieces (no edges): r = voxels / predicted = 40/200 = 0.2 (rejected), 40/100 =
    0.4 (kept), 40/19 = 2.1 (rejected), 40/21 = 1.9 (kept). Without occupancy all are kept;
    min_instance_voxels = 41 rejects all."""
    pieces = [(40, (k, 0, 0), (0.0,), size) for k, size in enumerate((200, 100, 19, 21))]
    stats = supervoxel_statistics(**pieces_inputs(pieces, rng, noise=0.0))
    none = np.empty((0, 2), np.int64)
    assert merge_supervoxels(stats, none).kept.tolist() == [False, True, False, True]
    assert merge_supervoxels(stats, none, MergeConfig(use_occupancy=False)).kept.all()
    assert not merge_supervoxels(stats, none, MergeConfig(min_instance_voxels=41)).kept.any()


def chain(num_supervoxels: int, rng: np.random.Generator) -> tuple:
    """`num_supervoxels` 10-voxel pieces of one object (identical embeddings, predicted size =
    all voxels) in a chain: every merge has w = 1 / r >= 1, so all merge."""
    size = 10 * num_supervoxels
    pieces = [(10, (0, 0, 0), (0.0, 0.0), size)] * num_supervoxels
    edges = np.stack([np.arange(num_supervoxels - 1), np.arange(1, num_supervoxels)], axis=1)
    return supervoxel_statistics(**pieces_inputs(pieces, rng)), edges


def test_long_chain_merges_into_one_cluster(rng: np.random.Generator) -> None:
    """Deep union-find trees and a growing heap: 600 pieces give 599 merges, one cluster."""
    stats, edges = chain(600, rng)
    result = merge_supervoxels(stats, edges[rng.permutation(len(edges))])
    assert result.num_merges == 599 and result.cluster.tolist() == [0] * 600
    assert result.voxel_count.tolist() == [6000] and result.kept.tolist() == [True]


def test_edge_order_direction_duplicates_and_self_loops_do_not_matter(rng) -> None:
    stats, edges = touching_chairs(rng)
    expected = merge_supervoxels(stats, edges).cluster
    messy = np.concatenate([edges[::-1, ::-1], edges, [[2, 2], [5, 5]]])
    np.testing.assert_array_equal(merge_supervoxels(stats, messy).cluster, expected)


def test_no_supervoxels_gives_empty_result() -> None:
    stats = supervoxel_statistics(
        np.empty(0, np.int64), np.empty((0, 3)), np.empty((0, 3)), np.empty((0, 4)),
        np.empty((0, 2)), np.empty(0),
    )  # fmt: skip
    result = merge_supervoxels(stats, np.empty((0, 2), np.int64))
    assert result.cluster.shape == (0,) and result.cluster.dtype == np.int64
    assert result.voxel_count.shape == (0,) and result.occupancy_ratio.shape == (0,)
    assert result.kept.shape == (0,) and result.kept.dtype == bool
    assert result.num_clusters == 0 and result.num_merges == 0
    assert edge_weights(stats, np.empty((0, 2), np.int64)).shape == (0,)


def test_no_edges_keeps_every_supervoxel_apart(rng: np.random.Generator) -> None:
    stats, _ = chain(5, rng)
    result = merge_supervoxels(stats, np.empty((0, 2), np.int64))
    assert result.cluster.tolist() == [0, 1, 2, 3, 4] and result.num_merges == 0
    assert result.voxel_count.tolist() == [10] * 5


def test_empty_supervoxel_ids_are_ignored(rng: np.random.Generator) -> None:
    """Id 1 has no voxels: its edges are dropped and its cluster (0 voxels) is never kept."""
    inputs = pieces_inputs([(20, (0, 0, 0), (0.0,), 40)] * 2, rng)
    inputs["supervoxel"] = np.where(inputs["supervoxel"] == 1, 2, 0)
    stats = supervoxel_statistics(**inputs)
    result = merge_supervoxels(stats, np.array([[0, 1], [1, 2], [0, 2]]))
    assert result.cluster.tolist() == [0, 1, 0]
    assert result.voxel_count.tolist() == [40, 0] and result.kept.tolist() == [True, False]


@pytest.mark.parametrize(
    ("edges", "message"),
    [(np.array([[0, 2]]), r"\[0, 2\)"), (np.array([[0.0, 1.0]]), "integers"),
     (np.array([0, 1]), r"\(E, 2\)")],
)  # fmt: skip
def test_malformed_edges_raise(edges: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        merge_supervoxels(two_supervoxels(8), edges)


@pytest.mark.parametrize(
    "kwargs",
    [{"merge_threshold": -1.0}, {"merge_threshold": math.nan}, {"min_occupancy_ratio": 2.0},
     {"min_occupancy_ratio": -0.1}, {"min_instance_voxels": -1}],
)  # fmt: skip
def test_invalid_config_raises(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        MergeConfig(**kwargs)


def test_merge_does_not_modify_statistics(rng: np.random.Generator) -> None:
    stats, edges = touching_chairs(rng)
    before = stats.feature_sum.copy(), stats.voxel_count.copy()
    merge_supervoxels(stats, edges)
    np.testing.assert_array_equal(stats.feature_sum, before[0])
    np.testing.assert_array_equal(stats.voxel_count, before[1])
