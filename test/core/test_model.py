"""The network: U-Net and heads (the spconv shims are tested in test_spconv_compat.py)."""

import numpy as np
import pytest
import torch

from occuseg_core.config import ModelConfig, UNetConfig
from occuseg_core.data.collate import collate
from occuseg_core.data.voxelize import voxelize
from occuseg_core.model import OccuSegNet
from occuseg_core.nn.heads import SIGMA_FLOOR
from occuseg_core.types import Scene

TINY = ModelConfig(unet=UNetConfig(widths=(8, 16), blocks_per_level=1))


def _scene(rng, n=400):
    xyz = rng.uniform(0, 0.6, (n, 3)).astype(np.float32)
    return Scene(
        xyz, rng.random((n, 3)), semantic=rng.integers(1, 8, n), instance=rng.integers(0, 4, n)
    )


def test_forward_shapes_and_positive_sigma(rng):
    model = OccuSegNet.from_config(TINY)
    grids = [voxelize(_scene(rng), 0.05), voxelize(_scene(rng, 200), 0.05)]
    batch = collate(grids)
    out = model(batch)
    v = batch.num_voxels
    assert out.semantic_logits.shape == (v, 20)
    assert out.feature_embedding.shape == (v, 16)
    assert out.spatial_embedding.shape == (v, 3) and out.log_occupancy.shape == (v,)
    assert (out.sigma >= SIGMA_FLOOR).all()


def test_eval_mode_runs_on_cpu_and_is_permutation_equivariant(rng):
    """Bias-free convs make CPU inference possible; voxel order must not change predictions."""
    torch.manual_seed(0)
    model = OccuSegNet.from_config(TINY).eval()
    grid = voxelize(_scene(rng), 0.05)
    batch = collate([grid])
    perm = torch.from_numpy(rng.permutation(batch.num_voxels))
    permuted = type(batch)(
        coords=batch.coords[perm], features=batch.features[perm],
        positions_m=batch.positions_m[perm], voxel_scene=batch.voxel_scene[perm],
        spatial_shape=batch.spatial_shape, batch_size=1,
    )  # fmt: skip
    with torch.no_grad():
        a, b = model(batch), model(permuted)
    torch.testing.assert_close(a.semantic_logits[perm], b.semantic_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a.log_occupancy[perm], b.log_occupancy, atol=1e-5, rtol=1e-5)


def test_scenes_in_a_batch_do_not_see_each_other(rng):
    """Each scene's predictions are the same alone or batched with another scene."""
    torch.manual_seed(0)
    model = OccuSegNet.from_config(TINY).eval()
    first, second = voxelize(_scene(rng), 0.05), voxelize(_scene(rng), 0.05)
    with torch.no_grad():
        alone = model(collate([first])).feature_embedding
        batched = model(collate([first, second])).feature_embedding[: first.num_voxels]
    torch.testing.assert_close(alone, batched, atol=1e-5, rtol=1e-5)


def test_invalid_unet_config_is_rejected():
    from occuseg_core.nn.unet import SparseUNet

    with pytest.raises(ValueError, match="widths"):
        SparseUNet(in_channels=3, widths=(), blocks_per_level=1)


@pytest.mark.parametrize("num_points", [1, 2])
def test_tiny_inputs_pass_through_every_level(num_points, rng):
    """A single voxel must survive the stride-2 levels (grid extent padded to 2^(L-1))."""
    model = OccuSegNet.from_config(ModelConfig()).eval()  # 5 levels
    scene = Scene(rng.uniform(0, 0.01, (num_points, 3)), rng.random((num_points, 3)))
    with torch.no_grad():
        out = model(collate([voxelize(scene, 0.02)]))
    assert out.log_occupancy.shape == (1,) and torch.isfinite(out.log_occupancy).all()


@pytest.mark.parametrize("extent", [5, 31, 32, 33, 501])
def test_every_voxel_reaches_the_coarsest_level(extent, rng):
    """Voxels at the grid's far faces keep a cell at every level (coarse context on the way up).

    The coarsest level must hold exactly the cells coord >> (levels - 1) of the voxels; an
    extent that is not a multiple of 2^(levels - 1) used to drop the far faces' cells.
    """
    config = ModelConfig(unet=UNetConfig(widths=(4, 4, 4, 4, 4, 4), blocks_per_level=1))
    model = OccuSegNet.from_config(config).eval()
    corners = np.array([[extent - 1] * 3, [0, 0, 0], [extent - 1, 0, extent // 2]])
    coords = np.concatenate([corners, rng.integers(0, extent, (60, 3))])
    coords = np.unique(coords, axis=0)
    batch = type(collate([voxelize(_scene(rng), 0.05)]))(
        coords=torch.from_numpy(np.c_[np.zeros(len(coords)), coords].astype(np.int32)),
        features=torch.rand(len(coords), 3), positions_m=torch.rand(len(coords), 3),
        voxel_scene=torch.zeros(len(coords), dtype=torch.int64),
        spatial_shape=(extent, extent, extent), batch_size=1,
    )  # fmt: skip
    seen = {}
    model.backbone.downs[-1].register_forward_hook(
        lambda module, inputs, output: seen.update(indices=output.indices)
    )
    with torch.no_grad():
        model(batch)
    coarse = {tuple(row) for row in seen["indices"][:, 1:].tolist()}
    expected = {tuple(row) for row in (coords >> 5).tolist()}
    assert coarse == expected


def test_cell_rows_finds_each_voxels_coarse_cell(rng):
    """Against a dict lookup: row of the cell (batch, coord >> level) in the coarse tensor."""
    import spconv.pytorch as spconv

    from occuseg_core.nn.unet import cell_rows

    fine_idx = np.c_[rng.integers(0, 2, 300), rng.integers(0, 64, (300, 3))]
    fine_idx = np.unique(fine_idx, axis=0)
    cells = np.unique(np.c_[fine_idx[:, :1], fine_idx[:, 1:] >> 3], axis=0)
    cells = cells[rng.permutation(len(cells))]
    fine = spconv.SparseConvTensor(
        torch.zeros(len(fine_idx), 1), torch.from_numpy(fine_idx).int(), [64] * 3, 2
    )
    coarse = spconv.SparseConvTensor(
        torch.zeros(len(cells), 1), torch.from_numpy(cells).int(), [8] * 3, 2
    )
    row_of = {tuple(cell): row for row, cell in enumerate(cells.tolist())}
    expected = [row_of[(b, x >> 3, y >> 3, z >> 3)] for b, x, y, z in fine_idx.tolist()]
    assert cell_rows(fine, coarse, 3).tolist() == expected
    missing = spconv.SparseConvTensor(
        torch.zeros(len(cells) - 1, 1), torch.from_numpy(cells[1:]).int(), [8] * 3, 2
    )
    with pytest.raises(ValueError, match="no cell at level 3"):
        cell_rows(fine, missing, 3)


def test_context_levels_widen_the_output_and_keep_scenes_apart(rng):
    config = ModelConfig(
        unet=UNetConfig(widths=(8, 16, 24), context_levels=(1, 2), context_channels=5)
    )
    torch.manual_seed(0)
    model = OccuSegNet.from_config(config).eval()
    assert model.backbone.out_channels == 13
    first, second = voxelize(_scene(rng), 0.05), voxelize(_scene(rng), 0.05)
    with torch.no_grad():
        alone = model(collate([first])).log_occupancy
        together = model(collate([first, second]))
    assert together.log_occupancy.shape == (first.num_voxels + second.num_voxels,)
    torch.testing.assert_close(together.log_occupancy[: first.num_voxels], alone)
    # the context path is used: changing a coarse projection changes the output
    with torch.no_grad():
        model.backbone.context["2"][0].weight.mul_(3.0)
        changed = model(collate([first])).log_occupancy
    assert not torch.allclose(changed, alone)
    with pytest.raises(ValueError, match="context_levels must lie in 1..2"):
        OccuSegNet.from_config(
            ModelConfig(unet=UNetConfig(widths=(8, 16, 24), context_levels=(3,)))
        )
