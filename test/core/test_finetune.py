"""Fine-tuning and mixed training: `--init` (weights from a checkpoint, fresh optimiser, an
incompatible architecture refused by name) and `MixedScenes` (steps drawn from several sources
with set weights)."""

import dataclasses

import numpy as np
import pytest
import torch
from test_trainer import tiny_config, two_boxes_scene

from occuseg_core.cli import main
from occuseg_core.config import AugmentConfig, DataConfig, SourceConfig, validate_config
from occuseg_core.engine.batches import MixedScenes
from occuseg_core.engine.checkpoint import (
    added_input_features,
    config_differences,
    init_model_from,
    load_checkpoint,
)
from occuseg_core.engine.trainer import Trainer
from occuseg_core.errors import OccusegError
from occuseg_core.model import OccuSegNet


def _trained_checkpoint(tmp_path):
    trainer = Trainer(tiny_config(epochs=1), [two_boxes_scene(i) for i in range(2)], [],
                      tmp_path / "source", progress=False)  # fmt: skip
    trainer.fit(echo=lambda _: None)
    return tmp_path / "source" / "checkpoints" / "last.pt"


def test_init_loads_the_weights_and_starts_a_fresh_optimiser(tmp_path):
    source = _trained_checkpoint(tmp_path)
    weights = load_checkpoint(source)["model"]
    config = tiny_config(epochs=1, init_from=str(source), lr=1e-3)
    trainer = Trainer(config, [two_boxes_scene(5)], [], tmp_path / "tuned", progress=False)
    fresh = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    assert any(not torch.equal(fresh[k], weights[k]) for k in weights)
    trainer.init_weights()
    for name, value in trainer.model.state_dict().items():
        torch.testing.assert_close(value, weights[name], rtol=0, atol=0, msg=name)
    assert trainer.optimizer.state_dict()["state"] == {}  # no Adam moments from the source run
    assert trainer.state.step == 0 and trainer.state.epoch == 0
    trainer.fit(echo=lambda _: None)
    tuned = load_checkpoint(tmp_path / "tuned" / "checkpoints" / "last.pt")
    assert tuned["state"]["step"] == 1 and tuned["config"].train.init_from == str(source)
    # one fresh Adam step moves every parameter by at most lr (1e-3; m / sqrt(v) = +-1 after
    # one step) from the source's weights (not from a random initialisation)
    names = [name for name, _ in trainer.model.named_parameters()]
    moved = max(float((tuned["model"][k] - weights[k]).abs().max()) for k in names)
    assert 0 < moved <= 1e-3 * (1 + 1e-4)


def test_init_refuses_another_architecture_naming_the_setting(tmp_path):
    source = _trained_checkpoint(tmp_path)
    config = tiny_config(init_from=str(source))
    other = config.replace_in("model", unet=dataclasses.replace(config.model.unet, widths=(8, 24)))
    with pytest.raises(OccusegError, match=r"model\.unet\.widths: checkpoint \[8, 16\], this run"
                                           r" \[8, 24\]"):  # fmt: skip
        init_model_from(OccuSegNet.from_config(other.model), source, other)
    coarser = config.replace_in("data", voxel_size_m=0.1)
    assert [d[0] for d in config_differences(config, coarser)] == ["data.voxel_size_m"]
    assert config_differences(config, config.replace_in("train", lr=0.5)) == []


def _with_height(config):
    config = config.replace_in("data", input_features=("rgb", "height"))
    return config.replace_in("model", unet=dataclasses.replace(config.model.unet, in_channels=4))


def test_init_widens_the_inputs_with_zero_weights(tmp_path):
    """An rgb model fine-tuned with height as well: the first convolution gets a zero-weighted
    input channel, every other weight is the checkpoint's, and the widened network's outputs
    equal the source's on the same voxels whatever their heights."""
    from occuseg_core.data.collate import collate
    from occuseg_core.data.voxelize import voxelize

    source = _trained_checkpoint(tmp_path)
    checkpoint = load_checkpoint(source)
    config = _with_height(tiny_config(init_from=str(source)))
    assert added_input_features(checkpoint["config"], config) == ("height",)
    model = OccuSegNet.from_config(config.model)
    init_model_from(model, source, config)
    for name, value in model.state_dict().items():
        old = checkpoint["model"][name]
        if name != "backbone.stem.0.weight":
            torch.testing.assert_close(value, old, rtol=0, atol=0, msg=name)
            continue
        channel_dim = [d for d in range(value.dim()) if value.shape[d] != old.shape[d]]
        assert channel_dim == [value.dim() - 1] and value.shape[-1] == 4
        torch.testing.assert_close(value[..., :3], old, rtol=0, atol=0)
        assert torch.count_nonzero(value[..., 3:]) == 0
    original = OccuSegNet.from_config(checkpoint["config"].model)
    original.load_state_dict(checkpoint["model"])
    grid = voxelize(two_boxes_scene(7), 0.05)
    with torch.no_grad():
        before = original.eval()(collate([grid], features=("rgb",)))
        after = model.eval()(collate([grid], features=("rgb", "height")))
    torch.testing.assert_close(after.semantic_logits, before.semantic_logits)
    torch.testing.assert_close(after.log_occupancy, before.log_occupancy)


def test_init_widens_only_by_appended_features(tmp_path):
    """Features put before the checkpoint's, or a widening with another change, are refused."""
    source = _trained_checkpoint(tmp_path)
    checkpoint_config = load_checkpoint(source)["config"]
    reordered = _with_height(tiny_config()).replace_in("data", input_features=("height", "rgb"))
    assert added_input_features(checkpoint_config, reordered) == ()
    wider = _with_height(tiny_config())
    wider = wider.replace_in("model", unet=dataclasses.replace(wider.model.unet, widths=(8, 24)))
    assert added_input_features(checkpoint_config, wider) == ()
    for config in (reordered, wider):
        with pytest.raises(OccusegError, match=r"data\.input_features: checkpoint \['rgb'\]"):
            init_model_from(OccuSegNet.from_config(config.model), source, config)
    assert added_input_features(checkpoint_config, tiny_config()) == ()


def test_cli_init_refuses_before_writing_and_rejects_resume(tmp_path, capsys):
    from occuseg_core.data.dataset import write_synthetic_dataset

    source = _trained_checkpoint(tmp_path)
    data = tmp_path / "data"
    write_synthetic_dataset(data, num_scenes=2, seed=3, val_fraction=0.5, progress=False)
    config = tmp_path / "wide.yaml"
    config.write_text(
        "model: {unet: {widths: [8, 32], blocks_per_level: 1}}\n"
        "data: {voxel_size_m: 0.05}\ntrain: {epochs: 1, device: cpu}\n"
    )
    out = tmp_path / "run"
    argv = ["train", "--config", str(config), "--data", str(data), "--out", str(out),
            "--init", str(source), "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "model.unet.widths" in err and not out.exists()
    assert main([*argv, "--resume"]) == 2
    assert "give one of them" in capsys.readouterr().err
    assert main([*argv[:-3], "--init", str(tmp_path / "nope.pt"), "--no-progress"]) == 2
    assert "no such checkpoint" in capsys.readouterr().err and not out.exists()


def _mixed(sizes, weights, length=None, seed=0):
    sources = [[f"s{k}_{i}" for i in range(n)] for k, n in enumerate(sizes)]
    return MixedScenes(sources, weights, DataConfig(augment=AugmentConfig()), seed=seed,
                       epoch_length=length)  # fmt: skip


def test_mixed_draws_follow_the_weights():
    """Weights 3 : 1 over 40 epochs of 200 draws: source 0 takes 75% of the draws, within
    3 binomial standard deviations (sqrt(0.75 * 0.25 / 8000) = 0.0048)."""
    mixed = _mixed([5, 50], [3.0, 1.0], length=200)
    counts = np.zeros(2)
    for epoch in range(40):
        mixed.set_epoch(epoch)
        counts += np.bincount([source for source, _ in mixed.plan], minlength=2)
    assert abs(counts[0] / counts.sum() - 0.75) < 3 * 0.0048


def test_mixed_scenes_of_a_source_are_drawn_equally_often():
    """Within an epoch a source's scenes are drawn in reshuffled passes: counts differ by <= 1."""
    mixed = _mixed([7, 3], [1.0, 1.0], length=101)
    for epoch in range(5):
        mixed.set_epoch(epoch)
        for source, size in enumerate((7, 3)):
            picks = [i for s, i in mixed.plan if s == source]
            counts = np.bincount(picks, minlength=size)
            assert counts.max() - counts.min() <= 1 and counts.sum() == len(picks)


def test_mixed_plan_is_a_function_of_seed_and_epoch():
    a, b = _mixed([4, 9], [1.0, 2.0]), _mixed([4, 9], [1.0, 2.0])
    assert len(a) == 13
    a.set_epoch(3), b.set_epoch(3)
    assert a.plan == b.plan
    b.set_epoch(4)
    assert a.plan != b.plan
    assert _mixed([4, 9], [1.0, 2.0], seed=1).plan != _mixed([4, 9], [1.0, 2.0]).plan


@pytest.mark.parametrize("weights, message", [([1.0], "one weight per source"),
                                              ([1.0, 0.0], "positive")])  # fmt: skip
def test_mixed_refuses_bad_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        _mixed([2, 2], weights)


def test_config_sources_are_checked():
    config = tiny_config()
    bad = config.replace_in("data", sources=(SourceConfig("a", weight=-1.0), SourceConfig("a")))
    with pytest.raises(OccusegError, match=r"sources\[0\]\.weight must be > 0"):
        validate_config(bad)
    twice = config.replace_in("data", sources=(SourceConfig("a"), SourceConfig("a")))
    with pytest.raises(OccusegError, match="twice"):
        validate_config(twice)


def test_cli_trains_on_weighted_sources(tmp_path, capsys):
    """Two dataset folders with weights 1 : 3; the run says so, and validates on the first."""
    from occuseg_core.data.dataset import write_synthetic_dataset

    for name, seed in (("a", 1), ("b", 2)):
        write_synthetic_dataset(tmp_path / name, num_scenes=2, seed=seed, val_fraction=0.5,
                                progress=False)  # fmt: skip
    config = tmp_path / "mix.yaml"
    config.write_text(
        "model: {unet: {widths: [8, 16], blocks_per_level: 1}}\n"
        "data: {voxel_size_m: 0.05, augment: {elastic: false},\n"
        f"       sources: [{{root: {tmp_path / 'a'}, weight: 1}},"
        f" {{root: {tmp_path / 'b'}, weight: 3}}]}}\n"
        "train: {epochs: 1, val_scenes: 1, batch_size: 1, device: cpu}\n"
    )
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "(25% of steps)" in printed and "(75% of steps)" in printed
    assert load_checkpoint(out / "checkpoints" / "last.pt")["state"]["step"] == 2
    assert main(["train", "--config", str(config), "--data", str(tmp_path / "a"), "--out",
                 str(tmp_path / "run2"), "--no-progress"]) == 2  # fmt: skip
    assert "--data is not used" in capsys.readouterr().err


def test_mixed_sources_use_their_own_augmentation():
    """Source 0 keeps every point, source 1 (its own augmentation) keeps a tenth: each draw's
    voxel count shows which augmentation it got."""
    from occuseg_core.data.voxelize import voxelize

    scene = two_boxes_scene(0)
    off = AugmentConfig(rotate_z=False, flip_xy=False, scale_range=(1.0, 1.0), elastic=False,
                        color_jitter=0.0, color_noise=0.0)  # fmt: skip
    sparse = dataclasses.replace(off, point_keep_range=(0.1, 0.1))
    data = DataConfig(voxel_size_m=0.05, augment=off)
    mixed = MixedScenes([[scene], [scene]], [1.0, 1.0], data, seed=0, epoch_length=8,
                        augments=[None, sparse])  # fmt: skip
    full = voxelize(scene, 0.05).num_voxels  # (centring moves the grid: counts vary a little)
    for k, (source, _) in enumerate(mixed.plan):
        voxels = mixed[k].num_voxels
        assert abs(voxels / full - 1) < 0.1 if source == 0 else voxels < 0.5 * full
    assert {source for source, _ in mixed.plan} == {0, 1}


def test_export_of_several_checkpoints_averages_their_weights(tmp_path, capsys):
    """`occuseg export A B C --out M`: float weights the mean of the three (by hand), integer
    buffers and config the last's; checkpoints of different models are refused by setting."""
    from occuseg_core.testing import save_random_checkpoint

    paths = [save_random_checkpoint(tmp_path / f"{seed}.pt", seed=seed) for seed in (1, 2, 3)]
    weights = [load_checkpoint(path)["model"] for path in paths]
    assert main(["export", *map(str, paths), "--out", str(tmp_path / "avg.pt")]) == 0
    assert "averaged over 3" in capsys.readouterr().out
    averaged = load_checkpoint(tmp_path / "avg.pt")["model"]
    assert averaged.keys() == weights[0].keys()
    floats = 0
    for key, value in averaged.items():
        if value.is_floating_point():
            floats += 1
            expected = (weights[0][key] + weights[1][key] + weights[2][key]) / 3
            torch.testing.assert_close(value, expected, rtol=1e-6, atol=1e-7)
        else:
            assert torch.equal(value, weights[2][key])
    assert floats > 10

    from occuseg_core.engine.checkpoint import average_weights

    other = save_random_checkpoint(tmp_path / "paper.pt", config_name="paper")
    refused = r"cannot average .*paper\.pt with .*1\.pt: model\.heads\.occupancy_density is False"
    with pytest.raises(OccusegError, match=refused):
        average_weights([other, paths[0]])
