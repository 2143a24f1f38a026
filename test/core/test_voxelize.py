"""Voxelization: hand-computed grids, majority labels, and the way back to points."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from occuseg_core import Scene
from occuseg_core.data.voxelize import majority_label, voxel_cells, voxelize


def test_hand_computed_grid():
    """Points at x = 0.005, 0.015 (cell 0), 0.025 (cell 1), -0.001 (cell -1) with 2 cm voxels."""
    xyz = np.array([[0.005, 0, 0], [0.015, 0, 0], [0.025, 0, 0], [-0.001, 0, 0]], np.float32)
    colors = np.array([[0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5], [1, 0, 0]], np.float32)
    scene = Scene(xyz, colors, semantic=np.array([5, 5, 7, 1]), instance=np.array([2, 3, 4, 0]))
    grid = voxelize(scene, 0.02)
    assert grid.coords[:, 0].tolist() == [-1, 0, 1]
    assert grid.point_to_voxel.tolist() == [1, 1, 2, 0]
    assert grid.num_points.tolist() == [1, 2, 1]
    np.testing.assert_allclose(grid.colors[1], [0.5, 0.5, 0.5])  # mean of black and white
    np.testing.assert_allclose(grid.positions_m[:, 0], [-0.01, 0.01, 0.03], atol=1e-7)
    assert grid.semantic.tolist() == [1, 5, 7]
    assert grid.instance.tolist() == [0, 2, 4]  # tie 2 vs 3 -> smallest label


def test_majority_label_picks_most_frequent_then_smallest():
    point_to_voxel = np.array([0, 0, 0, 1, 1, 2])
    labels = np.array([4, 9, 9, 3, 1, 7])
    assert majority_label(point_to_voxel, labels, 3).tolist() == [9, 1, 7]


def test_to_points_carries_voxel_values_back():
    rng = np.random.default_rng(1)
    scene = Scene(rng.uniform(0, 0.2, (500, 3)), rng.random((500, 3)))
    grid = voxelize(scene, 0.05)
    values = np.arange(grid.num_voxels) * 10
    per_point = grid.to_points(values)
    cells = np.floor(scene.xyz.astype(np.float64) / 0.05).astype(int)
    np.testing.assert_array_equal(grid.coords[per_point // 10], cells)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 300), st.integers(0, 10_000), st.sampled_from([0.01, 0.02, 0.1]))
def test_voxelization_is_exact_and_permutation_equivariant(n, seed, size):
    rng = np.random.default_rng(seed)
    xyz = rng.uniform(-3, 3, (n, 3)).astype(np.float32)
    labels = rng.integers(0, 4, n)
    scene = Scene(xyz, rng.random((n, 3)), semantic=labels, instance=labels)
    grid = voxelize(scene, size)
    # every point lies in its voxel
    lo = grid.coords[grid.point_to_voxel].astype(np.float64) * size
    assert np.all(xyz >= lo - 1e-6) and np.all(xyz < lo + size + 1e-6)
    assert len(np.unique(grid.coords, axis=0)) == grid.num_voxels
    assert grid.num_points.sum() == n
    # permuting the points permutes nothing in the grid
    perm = rng.permutation(n)
    permuted = voxelize(scene.subset(perm), size)
    np.testing.assert_array_equal(permuted.coords, grid.coords)
    np.testing.assert_array_equal(permuted.semantic, grid.semantic)
    np.testing.assert_array_equal(permuted.point_to_voxel, grid.point_to_voxel[perm])


def test_voxel_cells_rejects_bad_size():
    import pytest

    with pytest.raises(ValueError, match="voxel_size_m"):
        voxel_cells(np.zeros((2, 3)), 0.0)
