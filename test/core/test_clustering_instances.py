"""`cluster_instances`: background exclusion, class vote, score, invariants, empties."""

from __future__ import annotations

import math

import numpy as np
import pytest

from occuseg_core.clustering import MergeConfig, cluster_instances

WALL, FLOOR, CHAIR, TABLE = 0, 1, 2, 3


def uniform_head(num_voxels: int, predicted_size: float) -> dict[str, np.ndarray]:
    """Identical embeddings for every voxel (one centre at the origin, one feature)."""
    positions = np.stack(
        [np.arange(num_voxels) * 0.02, np.zeros(num_voxels), np.zeros(num_voxels)], 1
    )
    return {
        "positions_m": positions, "spatial_embedding": -positions,
        "feature_embedding": np.zeros((num_voxels, 3)), "sigma": np.full((num_voxels, 2), 0.5),
        "log_occupancy": np.full(num_voxels, math.log(predicted_size)),
    }  # fmt: skip


def wall_chair_inputs() -> dict:
    """Supervoxel 0 = 4 wall voxels; 1 = 4 voxels, 2 = 2 voxels of a chair; chain 0-1-2, all
    embeddings identical, predicted size 5."""
    probs = np.array([
        [0.9, 0.1, 0, 0], [0.9, 0.1, 0, 0], [0.9, 0.1, 0, 0], [0.9, 0.1, 0, 0],
        [0, 0, 0.9, 0.1], [0, 0, 0.8, 0.2], [0, 0, 0.7, 0.3], [0, 0, 0.4, 0.6],
        [0, 0, 0.3, 0.7], [0.1, 0, 0.5, 0.4],
    ])  # fmt: skip
    return dict(
        semantic_probs=probs,
        supervoxel=np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2]),
        edges=np.array([[0, 1], [1, 2]]),
        background_train_ids=(WALL, FLOOR),
        **uniform_head(10, 5.0),
    )


def test_hand_computed_instance() -> None:
    """The wall supervoxel is excluded although its embeddings match. Supervoxels 1 + 2: 6
    voxels, predicted exp(log 5) = 5 -> r = 1.2, w = 1 / 1.2 = 0.83 > 0.5: merged and kept.
    Votes: argmax chair, chair, chair, table, table, chair -> chair (4 of 6). Score: mean
    p(chair) = (0.9 + 0.8 + 0.7 + 0.4 + 0.3 + 0.5) / 6 = 0.6, times min(1.2, 1 / 1.2) =
    0.8333 -> 0.5 (0.6 without occupancy)."""
    result = cluster_instances(**wall_chair_inputs())
    assert result.voxel_instance.tolist() == [-1] * 4 + [0] * 6
    assert result.class_train_id.tolist() == [CHAIR]
    np.testing.assert_allclose(result.score, [0.5])
    assert result.voxel_count.tolist() == [6]
    np.testing.assert_allclose(result.predicted_occupancy, [5.0])
    np.testing.assert_allclose(result.occupancy_ratio, [1.2])
    no_occupancy = cluster_instances(
        **wall_chair_inputs(), config=MergeConfig(use_occupancy=False)
    )
    np.testing.assert_allclose(no_occupancy.score, [0.6])


def one_hot_rows(classes: list[int]) -> np.ndarray:
    """(n, 4) probabilities: 0.7 on the given class, 0.1 on the others."""
    rows = np.full((len(classes), 4), 0.1)
    rows[np.arange(len(classes)), classes] = 0.7
    return rows


def test_instance_class_vote_skips_background() -> None:
    """Supervoxel 0: 2 wall voxels (background). Supervoxel 1 votes chair 4, wall 3 and
    supervoxel 2 votes table 3, wall 2: both foreground. Merged (identical embeddings,
    predicted 12 = 7 + 5 voxels, r = 1), the instance's votes are wall 5, chair 4, table 3:
    wall is not allowed, so the class is chair."""
    votes = [WALL] * 2 + [CHAIR] * 4 + [WALL] * 3 + [TABLE] * 3 + [WALL] * 2
    result = cluster_instances(
        semantic_probs=one_hot_rows(votes), supervoxel=np.repeat([0, 1, 2], [2, 7, 5]),
        edges=np.array([[0, 1], [1, 2]]), background_train_ids=(WALL, FLOOR),
        **uniform_head(14, 12.0),
    )  # fmt: skip
    assert result.voxel_instance.tolist() == [-1] * 2 + [0] * 12
    assert result.class_train_id.tolist() == [CHAIR]


def random_inputs(seed: int) -> dict:
    """Random scene: up to 300 voxels in up to 30 supervoxels, 3 noisy objects, 6 classes of
    which 0 and 1 are background, random edges."""
    rng = np.random.default_rng(seed)
    v, k = int(rng.integers(0, 300)), int(rng.integers(1, 30))
    supervoxel = rng.integers(0, k, v)
    obj = rng.integers(0, 3, k)[supervoxel]
    positions = rng.uniform(0, 3, (v, 3))
    return {
        "semantic_probs": rng.dirichlet(np.full(6, 0.3), v),
        "positions_m": positions,
        "spatial_embedding": rng.uniform(0, 3, (3, 3))[obj]
        - positions
        + rng.normal(0, 0.1, (v, 3)),
        "feature_embedding": rng.normal(0, 1, (3, 4))[obj] + rng.normal(0, 0.2, (v, 4)),
        "sigma": rng.uniform(0.3, 1.0, (v, 2)),
        "log_occupancy": np.log(rng.integers(1, 200, 3))[obj] + rng.normal(0, 0.2, v),
        "supervoxel": supervoxel,
        "edges": rng.integers(0, supervoxel.max(initial=0) + 1, (int(v > 0) * 3 * k, 2)),
        "background_train_ids": (0, 1),
    }


@pytest.mark.parametrize("seed", range(30))
def test_invariants_on_random_scenes(seed: int) -> None:
    """Every voxel gets one instance id or -1; ids 0..I-1 are all used; a supervoxel is never
    split; background supervoxels never become instances; records are consistent."""
    inputs = random_inputs(seed)
    result = cluster_instances(**inputs)
    labels, supervoxel = result.voxel_instance, inputs["supervoxel"]
    voxel_class = inputs["semantic_probs"].argmax(axis=1)
    assert labels.shape == supervoxel.shape and labels.dtype == np.int64
    assert labels.min(initial=-1) >= -1 and labels.max(initial=-1) < result.num_instances
    counts = np.bincount(labels[labels >= 0], minlength=result.num_instances)
    assert (counts > 0).all() and counts.tolist() == result.voxel_count.tolist()
    for s in np.unique(supervoxel):
        members = supervoxel == s
        assert len(np.unique(labels[members])) == 1  # never split
        majority = np.bincount(voxel_class[members], minlength=6).argmax()
        if majority in (0, 1):
            assert (labels[members] == -1).all()
    assert not np.isin(result.class_train_id, [0, 1]).any()
    assert ((result.score >= 0) & (result.score <= 1)).all()
    np.testing.assert_allclose(
        result.voxel_count / result.predicted_occupancy, result.occupancy_ratio
    )
    assert ((result.occupancy_ratio > 0.3) & (result.occupancy_ratio < 2)).all()


def test_random_scenes_exercise_instances() -> None:
    """Guards the invariant test against vacuity: instances, merges and -1 voxels occur."""
    totals = np.zeros(3)
    for seed in range(30):
        inputs = random_inputs(seed)
        result = cluster_instances(**inputs)
        totals += [result.num_instances, (result.voxel_instance == -1).sum(),
                   len(np.unique(inputs["supervoxel"])) - result.num_instances]  # fmt: skip
    assert (totals >= 20).all()


def test_empty_scene_gives_empty_instances() -> None:
    result = cluster_instances(
        semantic_probs=np.empty((0, 4)), supervoxel=np.empty(0, np.int64),
        edges=np.empty((0, 2), np.int64), background_train_ids=(0, 1), **uniform_head(0, 1.0),
    )  # fmt: skip
    assert result.voxel_instance.shape == (0,) and result.voxel_instance.dtype == np.int64
    assert result.num_instances == 0
    for field in (
        "class_train_id",
        "score",
        "voxel_count",
        "predicted_occupancy",
        "occupancy_ratio",
    ):
        assert getattr(result, field).shape == (0,)


def test_only_background_gives_no_instances() -> None:
    inputs = wall_chair_inputs()
    inputs["semantic_probs"][:] = [0.2, 0.7, 0.1, 0.0]
    result = cluster_instances(**inputs)
    assert result.num_instances == 0 and (result.voxel_instance == -1).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"background_train_ids": (0, 7)}, "outside"),
        ({"semantic_probs": np.full((10, 4), np.nan)}, "NaN"),
        ({"semantic_probs": np.full((9, 4), 0.25)}, "one per voxel"),
        ({"edges": np.array([[0, 3]])}, r"\[0, 3\)"),
    ],
)
def test_invalid_inputs_raise(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cluster_instances(**{**wall_chair_inputs(), **change})
