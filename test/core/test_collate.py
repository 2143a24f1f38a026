"""Collation: batch coordinates, training targets, input features (hand-computed)."""

import numpy as np
import pytest

from occuseg_core import Scene
from occuseg_core.classes import IGNORE_INDEX, SCANNET20
from occuseg_core.data.collate import collate, input_features
from occuseg_core.data.voxelize import voxelize


def _grid(offset, semantic, instance):
    """Three points in three voxels, listed in the grid's lexicographic (x, y, z) voxel order:
    cells (0, 0, 0), (0, 0, 50), (2, 0, 0) at 2 cm."""
    xyz = np.array([[0.01, 0.01, 0.01], [0.01, 0.01, 1.01], [0.05, 0.01, 0.01]]) + offset
    colors = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.0, 0.0, 1.0]])
    return voxelize(
        Scene(xyz, colors, semantic=np.array(semantic), instance=np.array(instance)), 0.02
    )


def test_batch_coordinates_targets_and_positions():
    """Scene 0: a wall voxel (NYU40 1, instance 4), a chair voxel (5, instance 7) and an otherprop
    voxel (40, not a benchmark class). Scene 1 is shifted by -10 m: its coords start at 0 too."""
    first = _grid(0.0, [1, 5, 40], [4, 7, 9])
    second = _grid(-10.0, [5, 5, 7], [1, 1, 2])
    batch = collate([first, second], SCANNET20)
    assert batch.batch_size == 2 and batch.num_voxels == 6
    assert batch.coords[:, 0].tolist() == [0, 0, 0, 1, 1, 1]
    assert batch.coords[:, 1:].min() == 0
    assert batch.coords[:3, 1:].tolist() == batch.coords[3:, 1:].tolist()  # same local layout
    np.testing.assert_allclose(batch.positions_m[3:].numpy(), second.positions_m)
    # train ids: wall 0, chair 4, otherprop ignored; instances only for instance classes
    assert batch.semantic_target[:3].tolist() == [0, 4, IGNORE_INDEX]
    assert batch.instance_ids[:3].tolist() == [0, 7, 0]
    assert batch.instance_ids[3:].tolist() == [1, 1, 2]
    assert batch.spatial_shape == (3, 1, 51)  # x: 0, 2 (5 cm / 2 cm); z: 0 and 50


def test_input_features_rgb_and_height():
    """RGB centred on 0; height above the 1st-percentile voxel height, / 2 m. Voxel centres at
    z = 0.01, 1.01, 0.01 m: the 1st percentile interpolates between the two lowest (both 0.01),
    so the heights are (0, 1.0, 0) m -> features (0, 0.5, 0)."""
    grid = _grid(0.0, [1, 1, 1], [0, 0, 0])
    features = input_features(grid, ("rgb", "height"))
    assert features.shape == (3, 4) and features.dtype == np.float32
    np.testing.assert_allclose(features[:, :3], grid.colors - 0.5, atol=1e-7)
    np.testing.assert_allclose(features[:, 3], [0.0, 0.5, 0.0], atol=1e-6)
    with pytest.raises(ValueError, match="unknown input feature"):
        input_features(grid, ("normals",))


def test_inference_batch_has_no_targets():
    batch = collate([_grid(0.0, [1, 5, 40], [4, 7, 9])])
    assert batch.semantic_target is None and batch.instance_ids is None
    assert batch.features.shape == (3, 3)
