"""Supervoxel statistics (paper eq. 12-13): sums per supervoxel, means, occupancy ratio."""

from __future__ import annotations

import math

import numpy as np
import pytest

from occuseg_core.clustering import SupervoxelStatistics, supervoxel_statistics


def hand_inputs() -> dict[str, np.ndarray]:
    """Five voxels: supervoxel 0 = voxels 0, 1; supervoxel 1 = voxels 2, 3, 4."""
    return {
        "supervoxel": np.array([0, 0, 1, 1, 1]),
        "positions_m": np.array([[0, 0, 0], [0.02, 0, 0], [1, 1, 0], [1, 1.02, 0], [1, 1.04, 0]]),
        "spatial_embedding": np.array(
            [[0.01, 0, 0], [-0.01, 0, 0], [0, 0.02, 0.3], [0, 0, 0.3], [0, -0.02, 0.3]]
        ),
        "feature_embedding": np.array(
            [[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [2.0, 2.0], [2.0, 5.0]]
        ),
        "sigma": np.array([[0.4, 0.1], [0.6, 0.3], [1.0, 0.2], [1.0, 0.2], [1.0, 0.5]]),
        "log_occupancy": np.array([math.log(2), math.log(8), 0.0, 0.0, 0.0]),
    }


def test_hand_computed_statistics() -> None:
    """Supervoxel 0: centres mu + d = (0.01, 0, 0) twice -> D_0 = (0.01, 0, 0); S_0 = mean of
    (1, 0), (0, 1) = (0.5, 0.5); sigma = ((0.4 + 0.6) / 2, (0.1 + 0.3) / 2) = (0.5, 0.2);
    mean o = (log 2 + log 8) / 2 = log 4 -> predicted size 4 -> r = 2 / 4 = 0.5.
    Supervoxel 1: mu + d = (1, 1.02, 0.3) three times; S_1 = (2, 3); sigma = (1, 0.3);
    mean o = 0 -> predicted size 1 -> r = 3 / 1 = 3."""
    stats = supervoxel_statistics(**hand_inputs())
    assert stats.num_supervoxels == 2 and stats.embedding_dim == 2
    np.testing.assert_array_equal(stats.voxel_count, [2, 3])
    np.testing.assert_allclose(stats.centers_m, [[0.01, 0, 0], [1, 1.02, 0.3]], atol=1e-12)
    np.testing.assert_allclose(stats.features, [[0.5, 0.5], [2, 3]])
    np.testing.assert_allclose(stats.sigmas, [[0.5, 0.2], [1.0, 0.3]])
    np.testing.assert_allclose(stats.mean_log_occupancy, [math.log(4), 0.0])
    np.testing.assert_allclose(stats.predicted_occupancy, [4.0, 1.0])
    np.testing.assert_allclose(stats.occupancy_ratio, [0.5, 3.0])


def test_statistics_match_per_supervoxel_means(rng: np.random.Generator) -> None:
    """Reference: a Python loop over supervoxels taking np.mean of each voxel set."""
    v, k = 300, 17
    supervoxel = rng.integers(0, k, v)
    inputs = {
        "positions_m": rng.uniform(0, 5, (v, 3)), "spatial_embedding": rng.normal(0, 0.3, (v, 3)),
        "feature_embedding": rng.normal(0, 1, (v, 6)), "sigma": rng.uniform(0.1, 1, (v, 2)),
        "log_occupancy": rng.uniform(0, 8, v),
    }  # fmt: skip
    stats = supervoxel_statistics(supervoxel, **inputs, num_supervoxels=k + 2)
    for s in range(k + 2):
        members = supervoxel == s
        assert stats.voxel_count[s] == members.sum()
        if not members.any():  # unused ids: count 0, means 0, ratio 0
            assert stats.occupancy_ratio[s] == 0 and not stats.features[s].any()
            continue
        centre = (inputs["positions_m"] + inputs["spatial_embedding"])[members].mean(axis=0)
        np.testing.assert_allclose(stats.centers_m[s], centre)
        np.testing.assert_allclose(stats.features[s], inputs["feature_embedding"][members].mean(0))
        np.testing.assert_allclose(stats.sigmas[s], inputs["sigma"][members].mean(axis=0))
        ratio = members.sum() / np.exp(inputs["log_occupancy"][members].mean())
        assert stats.occupancy_ratio[s] == pytest.approx(ratio)


def test_empty_input_gives_empty_statistics() -> None:
    stats = supervoxel_statistics(
        np.empty(0, np.int64), np.empty((0, 3)), np.empty((0, 3)), np.empty((0, 5)),
        np.empty((0, 2)), np.empty(0),
    )  # fmt: skip
    assert stats.num_supervoxels == 0 and stats.embedding_dim == 5
    assert stats.center_sum.shape == (0, 3) and stats.feature_sum.shape == (0, 5)
    assert stats.sigma_sum.shape == (0, 2) and stats.occupancy_ratio.shape == (0,)


def test_subset_renumbers() -> None:
    stats = supervoxel_statistics(**hand_inputs())
    sub = stats.subset(np.array([1]))
    assert sub.num_supervoxels == 1
    np.testing.assert_allclose(sub.features, [[2, 3]])
    np.testing.assert_allclose(sub.occupancy_ratio, [3.0])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sigma", np.array([[0.4, 0.1], [0.6, 0.0], [1, 1], [1, 1], [1, 1]]), "sigma must be > 0"),
        ("log_occupancy", np.array([0, np.nan, 0, 0, 0]), "finite"),
        ("feature_embedding", np.ones((4, 2)), r"\(5, -1\)"),
        ("positions_m", np.ones((5, 2)), "shape"),
        ("supervoxel", np.array([0, 0, -1, 1, 1]), r"\[0, 2\)"),
        ("supervoxel", np.array([0.0, 0, 1, 1, 1]), "integers"),
    ],
)
def test_invalid_inputs_raise(field: str, value: np.ndarray, message: str) -> None:
    inputs = hand_inputs()
    inputs[field] = value
    with pytest.raises(ValueError, match=message):
        supervoxel_statistics(**inputs)


def test_ids_beyond_num_supervoxels_raise() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        supervoxel_statistics(**hand_inputs(), num_supervoxels=1)


def test_malformed_statistics_raise() -> None:
    with pytest.raises(ValueError, match="center_sum"):
        SupervoxelStatistics(
            voxel_count=np.ones(2, np.int64), center_sum=np.zeros((3, 3)),
            feature_sum=np.zeros((2, 1)), sigma_sum=np.ones((2, 2)), log_occupancy_sum=np.zeros(2),
        )  # fmt: skip


def test_statistics_with_zero_sigma_raise() -> None:
    with pytest.raises(ValueError, match="sigma sums > 0"):
        SupervoxelStatistics(
            voxel_count=np.array([1, 0]), center_sum=np.zeros((2, 3)),
            feature_sum=np.zeros((2, 1)), sigma_sum=np.array([[1.0, 0.0], [0.0, 0.0]]),
            log_occupancy_sum=np.zeros(2),
        )  # fmt: skip
