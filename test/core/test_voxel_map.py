"""The bounded sparse voxel map: averaging, keys, extent and size bounds."""

from __future__ import annotations

import numpy as np
import pytest

from occuseg_core.voxel_map import VoxelMap, cell_keys, key_cells


def test_keys_round_trip_and_sort_like_cells(rng):
    cells = rng.integers(-(1 << 20) + 1, (1 << 20) - 1, size=(500, 3))
    np.testing.assert_array_equal(key_cells(cell_keys(cells)), cells)
    order = np.lexsort((cells[:, 2], cells[:, 1], cells[:, 0]))
    np.testing.assert_array_equal(np.argsort(cell_keys(cells), kind="stable"), order)


def test_integration_averages_colour_per_cell_across_updates():
    """Cell (0,0,0) at 0.1 m gets colours 0.2 and 0.4, later 0.9: mean (0.2+0.4+0.9)/3 = 0.5."""
    vmap = VoxelMap(voxel_size_m=0.1, max_voxels=100, extent_m=10.0)
    vmap.integrate([[0.01, 0.02, 0.03], [0.05, 0.05, 0.05], [0.15, 0.0, 0.0]],
                   [[0.2] * 3, [0.4] * 3, [1.0] * 3])  # fmt: skip
    vmap.integrate([[0.09, 0.09, 0.09]], [[0.9] * 3])
    assert vmap.num_voxels == 2
    np.testing.assert_allclose(vmap.centers_m(), [[0.05, 0.05, 0.05], [0.15, 0.05, 0.05]])
    np.testing.assert_allclose(vmap.colors(), [[0.5] * 3, [1.0] * 3], atol=1e-6)
    np.testing.assert_array_equal(vmap.hits, [3, 1])
    np.testing.assert_array_equal(vmap.last_seen, [2, 1])


def test_extent_forgets_cells_far_from_the_newest_cloud():
    vmap = VoxelMap(voxel_size_m=0.1, max_voxels=100, extent_m=1.0)
    vmap.integrate([[0.0, 0.0, 0.0]], [[0.5] * 3])
    dropped = vmap.integrate([[5.0, 0.0, 0.0]], [[0.5] * 3])
    assert dropped == 1 and vmap.num_voxels == 1
    assert vmap.centers_m()[0, 0] == pytest.approx(5.05)


def test_max_voxels_keeps_the_most_recently_seen(rng):
    vmap = VoxelMap(voxel_size_m=1.0, max_voxels=3, extent_m=100.0)
    vmap.integrate([[0.5, 0, 0], [1.5, 0, 0]], np.full((2, 3), 0.5))
    vmap.integrate([[2.5, 0, 0], [3.5, 0, 0]], np.full((2, 3), 0.5))
    assert vmap.num_voxels == 3
    kept = sorted(vmap.centers_m()[:, 0].tolist())
    assert kept[1:] == [2.5, 3.5] and kept[0] in (0.5, 1.5)


def test_memory_stays_bounded_over_many_updates(rng):
    vmap = VoxelMap(voxel_size_m=0.05, max_voxels=5000, extent_m=3.0)
    for step in range(30):
        xyz = rng.uniform(-2, 2, size=(2000, 3)) + [0.3 * step, 0, 0]
        vmap.integrate(xyz, rng.uniform(0, 1, size=(2000, 3)))
        assert vmap.num_voxels <= 5000
    assert np.abs(vmap.centers_m()[:, 0] - (0.3 * 29)).max() <= 3.0 + 0.05


def test_nan_points_are_ignored_and_reset_empties():
    vmap = VoxelMap(voxel_size_m=0.1, max_voxels=10, extent_m=5.0)
    vmap.integrate([[np.nan, 0, 0], [0.0, 0.0, 0.0]], np.full((2, 3), 0.5))
    assert vmap.num_voxels == 1
    vmap.reset()
    assert vmap.num_voxels == 0 and vmap.centers_m().shape == (0, 3)


def test_rejects_bad_configuration():
    with pytest.raises(ValueError):
        VoxelMap(voxel_size_m=0.0, max_voxels=10, extent_m=1.0)
