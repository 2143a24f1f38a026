"""Local density (occupied 3x3x3 neighbours) and the occupancy head that uses it."""

import itertools

import numpy as np
import pytest
import torch

from occuseg_core.config import HeadsConfig, ModelConfig, UNetConfig, config_from_dict, load_config
from occuseg_core.data.collate import collate
from occuseg_core.data.voxelize import voxelize
from occuseg_core.errors import OccusegError
from occuseg_core.losses import InstanceTargets, occupancy_loss
from occuseg_core.model import OccuSegNet
from occuseg_core.nn.density import occupied_neighbour_counts, scene_log_density
from occuseg_core.nn.heads import OccuSegHeads
from occuseg_core.types import Scene


def _reference_counts(coords: np.ndarray) -> np.ndarray:
    occupied = {tuple(row) for row in coords.tolist()}
    counts = []
    for s, x, y, z in coords.tolist():
        counts.append(
            sum(
                (s, x + dx, y + dy, z + dz) in occupied
                for dx, dy, dz in itertools.product((-1, 0, 1), repeat=3)
            )
        )
    return np.array(counts, dtype=np.float32)


def test_hand_counted_neighbourhoods():
    coords = torch.tensor(
        [
            [0, 0, 0, 0],  # touches (1,0,0) and (1,1,1): 3 with itself
            [0, 1, 0, 0],
            [0, 1, 1, 1],
            [0, 3, 0, 0],  # two cells from (1,0,0): alone
            [1, 0, 0, 1],  # scene 1: the scene-0 voxels next to it do not count
            [1, 2, 2, 2],  # alone in scene 1
        ],
        dtype=torch.int32,
    )
    assert occupied_neighbour_counts(coords).tolist() == [3, 3, 3, 1, 1, 1]


def test_full_block_has_27_in_the_middle_and_8_at_corners():
    cube = torch.tensor(list(itertools.product(range(3), repeat=3)))
    coords = torch.cat([torch.zeros(27, 1, dtype=torch.int64), cube], 1)
    counts = occupied_neighbour_counts(coords)
    assert counts[13] == 27  # (1, 1, 1)
    assert counts[0] == 8 and counts[26] == 8  # corners
    assert counts.dtype == torch.float32


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_a_set_lookup_reference(seed):
    rng = np.random.default_rng(seed)
    xyz = rng.integers(0, 12, (900, 3))
    scene = rng.integers(0, 3, (900, 1))
    coords = np.unique(np.concatenate([scene, xyz], 1), axis=0)
    coords = coords[rng.permutation(len(coords))]  # order must not matter
    got = occupied_neighbour_counts(torch.from_numpy(coords).int()).numpy()
    np.testing.assert_array_equal(got, _reference_counts(coords))


def test_large_coordinates_do_not_alias():
    """Cells far apart in x must not meet through the packed key's carry."""
    big = (1 << 19) - 2
    coords = torch.tensor([[0, big, 0, 0], [0, 0, 1, 0], [0, big, 1, 0], [0, 0, 0, big]])
    assert occupied_neighbour_counts(coords).tolist() == [2, 1, 2, 1]


def test_empty_and_invalid_inputs():
    assert occupied_neighbour_counts(torch.zeros(0, 4, dtype=torch.int32)).shape == (0,)
    with pytest.raises(ValueError, match="V, 4"):
        occupied_neighbour_counts(torch.zeros(5, 3, dtype=torch.int32))
    with pytest.raises(ValueError, match="integers"):
        occupied_neighbour_counts(torch.zeros(5, 4))
    with pytest.raises(ValueError, match="must lie in"):
        occupied_neighbour_counts(torch.tensor([[0, -1, 0, 0]]))
    with pytest.raises(ValueError, match="must lie in"):
        occupied_neighbour_counts(torch.tensor([[0, 1 << 19, 0, 0]]))
    with pytest.raises(ValueError, match="64 scenes"):
        occupied_neighbour_counts(torch.tensor([[64, 0, 0, 0]]))


def _heads(occupancy_density):
    torch.manual_seed(0)
    return OccuSegHeads(
        in_channels=8, num_classes=4, embedding_dim=3, occupancy_density=occupancy_density
    ).eval()


def test_density_term_adds_gain_times_log_density():
    features = torch.randn(50, 8)
    log_density = torch.log(torch.randint(1, 28, (50,)).float())
    plain, dense = _heads(False), _heads(True)
    dense.load_state_dict({**plain.state_dict(), "density_gain": torch.tensor(0.0)})
    with torch.no_grad():
        base = plain(features).log_occupancy
        # starts at gain 0: the paper's head
        torch.testing.assert_close(dense(features, log_density).log_occupancy, base)
        dense.density_gain.fill_(0.75)
        got = dense(features, log_density)
    torch.testing.assert_close(got.log_occupancy, base + 0.75 * log_density)
    # the other heads do not see the density
    torch.testing.assert_close(got.semantic_logits, plain(features).semantic_logits)


def test_density_term_is_centred_on_the_reference():
    """gain * (log_density - reference): 0 at the reference, the gain's slope either side."""
    features = torch.randn(40, 8)
    log_density = torch.linspace(0.5, 2.0, 40)
    plain = _heads(False)
    torch.manual_seed(0)
    centred = OccuSegHeads(
        in_channels=8, num_classes=4, embedding_dim=3, occupancy_density=True,
        density_reference=1.25,
    ).eval()  # fmt: skip
    centred.load_state_dict({**plain.state_dict(), "density_gain": torch.tensor(2.0)})
    with torch.no_grad():
        base = plain(features).log_occupancy
        got = centred(features, log_density).log_occupancy
    torch.testing.assert_close(got, base + 2.0 * (log_density - 1.25))
    at_reference = torch.full((40,), 1.25)
    with torch.no_grad():
        torch.testing.assert_close(centred(features, at_reference).log_occupancy, base)


def test_model_config_passes_the_reference_and_rejects_a_non_finite_one():
    heads = HeadsConfig(occupancy_density=True, occupancy_density_reference=1.1)
    config = ModelConfig(unet=UNetConfig(widths=(8, 16)), heads=heads, norm="scene")
    assert OccuSegNet.from_config(config).heads.density_reference == 1.1
    values = load_config("small").to_dict()
    values["model"]["heads"]["occupancy_density_reference"] = float("nan")
    with pytest.raises(OccusegError, match="occupancy_density_reference must be finite"):
        config_from_dict(values)


def test_density_argument_is_checked():
    features = torch.randn(5, 8)
    with pytest.raises(ValueError, match="pass log_density"):
        _heads(True)(features)
    with pytest.raises(ValueError, match="pass log_density"):
        _heads(True)(features, torch.zeros(4))
    with pytest.raises(ValueError, match="without occupancy_density"):
        _heads(False)(features, torch.zeros(5))


def test_model_feeds_the_counts_and_learns_the_gain(rng):
    config = ModelConfig(
        unet=UNetConfig(widths=(8, 16), blocks_per_level=1),
        heads=HeadsConfig(occupancy_density=True),
        norm="scene",
    )
    torch.manual_seed(0)
    model = OccuSegNet.from_config(config)
    xyz = rng.uniform(0, 0.5, (600, 3)).astype(np.float32)
    sparse = xyz[:150] + 1.0  # a second, sparser scene
    batch = collate(
        [
            voxelize(Scene(xyz, rng.random((600, 3))), 0.05),
            voxelize(Scene(sparse, sparse - 1.0), 0.05),
        ]
    )
    log_counts = np.log(_reference_counts(batch.coords.numpy()))
    scene = batch.coords[:, 0].numpy()
    expected = torch.from_numpy(
        np.array([log_counts[scene == s].mean() for s in scene], dtype=np.float32)
    )
    assert expected[scene == 0][0] > expected[scene == 1][0]
    with torch.no_grad():
        model.heads.density_gain.fill_(1.0)
        with_gain = model.eval()(batch).log_occupancy
        model.heads.density_gain.fill_(0.0)
        without = model(batch).log_occupancy
    torch.testing.assert_close(with_gain - without, expected)
    model.train()
    model(batch).log_occupancy.sum().backward()
    assert model.heads.density_gain.grad is not None
    torch.testing.assert_close(model.heads.density_gain.grad, expected.sum())


def _one_patch_per_scene(rng, points_per_scene: tuple[int, ...]):
    """A batch of scenes, each one flat 0.5 x 0.5 m object at 5 cm voxels sampled with the given
    number of points, and targets in which every voxel of a scene is its one instance."""
    grids = []
    for count in points_per_scene:
        xyz = np.c_[rng.uniform(0, 0.5, (count, 2)), np.zeros(count)].astype(np.float32)
        grids.append(voxelize(Scene(xyz, np.full((count, 3), 0.5)), 0.05))
    batch = collate(grids)
    targets = InstanceTargets.from_labels(
        batch.positions_m, batch.voxel_scene, torch.ones_like(batch.voxel_scene),
        torch.zeros_like(batch.voxel_scene),
    )  # fmt: skip
    return batch, targets


def test_the_gain_grows_when_denser_scans_hold_bigger_instances(rng):
    """The same object scanned densely (2000 points: all 100 cells, 7.8 occupied neighbours
    on average) and sparsely (40 points: 34 cells, 3.1 neighbours): the dense scan's instance has
    more voxels, N_d > N_s, and a higher scene log density, d_d > d_s. The occupancy head's last
    layer is fixed to predict m = (log N_d + log N_s) / 2 everywhere and the reference is
    (d_d + d_s) / 2, so o = m + g (d - reference) hits both log counts at g* = (log N_d -
    log N_s) / (d_d - d_s) > 0, and for g < g* dL_o/dg = -(d_d - d_s) / 2 (each scene's
    |error| weighs 1/2). Gradient descent on L_o alone must raise the gain from 0 to g*: a step
    of g*/20 per iteration reaches it in 20 and then stays within one step of it."""
    config = ModelConfig(unet=UNetConfig(widths=(8, 16), blocks_per_level=1),
                         heads=HeadsConfig(occupancy_density=True), norm="scene")  # fmt: skip
    torch.manual_seed(0)
    model = OccuSegNet.from_config(config)
    batch, targets = _one_patch_per_scene(rng, (2000, 40))
    log_size = targets.instance_num_voxels.float().log()  # [dense, sparse]
    density = scene_log_density(batch.coords)[[0, -1]]
    assert log_size[0] > log_size[1] + 0.5 and density[0] > density[1] + 0.5
    with torch.no_grad():
        model.heads.occupancy[-1].weight.zero_()
        model.heads.occupancy[-1].bias.fill_(float(log_size.mean()))
    model.heads.density_reference = float(density.mean())
    slope = float(density[0] - density[1]) / 2  # |dL_o/dg| on either side of g*
    best_gain = float(log_size[0] - log_size[1]) / (2 * slope)  # about 1.06 here
    step = best_gain / 20
    optimizer = torch.optim.SGD([model.heads.density_gain], lr=step / slope)
    gains, losses = [], []
    for _ in range(30):
        optimizer.zero_grad()
        loss = occupancy_loss(model(batch).log_occupancy, targets)
        loss.backward()
        optimizer.step()
        gains.append(float(model.heads.density_gain.detach()))
        losses.append(float(loss))
    assert gains[0] == pytest.approx(step), "the first step must raise the gain by lr * slope"
    assert gains[-1] == pytest.approx(best_gain, abs=1.01 * step)
    assert losses[-1] < 0.1 * losses[0]


def test_scene_log_density_is_the_mean_log_count_of_each_scene():
    coords = torch.tensor(
        [[0, 0, 0, 0], [0, 1, 0, 0], [0, 5, 5, 5], [1, 0, 0, 0], [1, 0, 0, 1], [1, 0, 1, 1]]
    )
    # scene 0 counts 2, 2, 1; scene 1 counts 3, 3, 3 (all three touch)
    first, second = (2 * np.log(2) + 0) / 3, np.log(3)
    np.testing.assert_allclose(
        scene_log_density(coords).numpy(), [first] * 3 + [second] * 3, rtol=1e-6
    )
    assert scene_log_density(torch.zeros(0, 4, dtype=torch.int32)).shape == (0,)


def test_default_model_has_no_density_parameter():
    """Checkpoints written before the option load unchanged (no new state-dict key)."""
    model = OccuSegNet.from_config(ModelConfig(unet=UNetConfig(widths=(8, 16))))
    assert "heads.density_gain" not in model.state_dict()
    assert not HeadsConfig().occupancy_density
