"""Test-time views (`occuseg_core.views`): turning the voxel grid is exact, vectors turn back,
and the Segmenter's averaged outputs equal a slow reference that turns the points themselves,
voxelizes and runs the network once per view."""

from __future__ import annotations

import numpy as np
import pytest

from occuseg_core.data.voxelize import voxelize
from occuseg_core.types import Scene
from occuseg_core.views import unview_vectors, view_coords, views_in_order


def turn_points(xyz: np.ndarray, view: int) -> np.ndarray:
    """The points as view `view` sees them: x mirrored (views 4-7), then quarter turns."""
    p = np.asarray(xyz, dtype=np.float64).copy()
    if view >= 4:
        p[:, 0] = -p[:, 0]
    for _ in range(view % 4):
        p = np.stack([-p[:, 1], p[:, 0], p[:, 2]], axis=1)
    return p


@pytest.mark.parametrize("view", range(8))
def test_turning_the_grid_is_turning_the_points(rng, view):
    xyz = rng.uniform(-3, 3, (2000, 3))
    cells = np.floor(xyz / 0.05).astype(np.int64)
    turned = np.floor(turn_points(xyz, view) / 0.05).astype(np.int64)
    np.testing.assert_array_equal(view_coords(cells, view), turned)


@pytest.mark.parametrize("view", range(8))
def test_vectors_turn_back(rng, view):
    vectors = rng.normal(size=(50, 3)).astype(np.float32)
    np.testing.assert_allclose(unview_vectors(turn_points(vectors, view), view), vectors,
                               atol=1e-6)  # fmt: skip


def test_view_counts():
    assert views_in_order(1) == (0,) and views_in_order(4) == (0, 1, 2, 3)
    assert list(views_in_order(8)) == list(range(8))
    with pytest.raises(ValueError, match="1, 2, 4, 8"):
        views_in_order(3)
    from occuseg_core.inference import SegmenterOptions

    with pytest.raises(ValueError, match="views"):
        SegmenterOptions(views=5)


def test_segmenter_views_equal_turning_the_scan(rng):
    from occuseg_core.data.synthetic import generate_scene
    from occuseg_core.inference import Segmenter, SegmenterOptions
    from occuseg_core.testing import random_model

    model, config = random_model("small", seed=3)
    scene = generate_scene(7)
    scene = scene.subset(np.arange(0, scene.num_points, 4))
    single = Segmenter(model=model, config=config, device="cpu")
    grid = voxelize(scene, single.voxel_size_m)
    # Reference: turn the points, voxelize, run one view, carry the outputs to the points.
    per_view = []
    for view in views_in_order(4):
        turned = Scene(xyz=turn_points(scene.xyz, view).astype(np.float32), colors=scene.colors)
        turned_grid = voxelize(turned, single.voxel_size_m)
        out = single.predict_voxels(turned_grid)
        offsets = turned_grid.to_points(out.spatial_embedding)
        per_view.append({
            "semantic_probs": turned_grid.to_points(out.semantic_probs),
            "spatial_embedding": unview_vectors(offsets, view),
            "log_occupancy": turned_grid.to_points(out.log_occupancy),
        })  # fmt: skip
    four = Segmenter(model=model, config=config, device="cpu", options=SegmenterOptions(views=4))
    averaged = four.predict_voxels(grid)
    for name in ("semantic_probs", "spatial_embedding", "log_occupancy"):
        expected = np.mean([v[name] for v in per_view], axis=0)
        np.testing.assert_allclose(grid.to_points(getattr(averaged, name)), expected,
                                   rtol=1e-4, atol=1e-5, err_msg=name)  # fmt: skip
    # The views differ (a random network is not invariant): the average is not view 0 alone.
    assert not np.allclose(grid.to_points(averaged.semantic_probs), per_view[0]["semantic_probs"],
                           atol=1e-4)  # fmt: skip
