"""SceneNorm: normalises by its input's own statistics in training and at inference alike; the
"scene" model computes the same function in train and eval mode and loads "batch" weights."""

import dataclasses

import numpy as np
import pytest
import torch

from occuseg_core.config import config_from_dict, load_config
from occuseg_core.model import OccuSegNet
from occuseg_core.nn.norm import SceneNorm, norm_layer


def test_scene_norm_matches_hand_computed_normalisation():
    torch.manual_seed(0)
    norm = SceneNorm(3)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
        norm.bias.copy_(torch.tensor([0.0, -1.0, 3.0]))
        norm.running_mean.fill_(100.0)  # would matter to BatchNorm in eval mode, not here
    x = torch.randn(50, 3) * 4 + 7
    mean, var = x.mean(0), x.var(0, unbiased=False)
    expected = (x - mean) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias
    for training in (True, False):
        norm.train(training)
        torch.testing.assert_close(norm(x), expected, rtol=1e-5, atol=1e-5)
    assert torch.all(norm.running_mean == 100.0)  # never updated
    one = norm(x[:1])
    torch.testing.assert_close(one, norm.bias.detach().expand(1, 3).clone())


def test_norm_layer_kinds():
    assert type(norm_layer(4, "batch")) is torch.nn.BatchNorm1d
    assert isinstance(norm_layer(4, "scene"), SceneNorm)
    with pytest.raises(ValueError, match="unknown norm 'group'"):
        norm_layer(4, "group")


def _batch(rng):
    from occuseg_core.data.collate import collate
    from occuseg_core.data.synthetic import generate_scene
    from occuseg_core.data.voxelize import voxelize

    return collate([voxelize(generate_scene(int(rng.integers(100))), 0.02)])


def test_scene_model_is_the_same_function_in_train_and_eval_mode(rng):
    """A "batch" model changes function between modes; the "scene" model with the same weights
    does not, and equals the "batch" model in train mode."""
    small = load_config("small").model
    torch.manual_seed(1)
    batch_model = OccuSegNet.from_config(dataclasses.replace(small, norm="batch"))
    scene_model = OccuSegNet.from_config(dataclasses.replace(small, norm="scene"))
    scene_model.load_state_dict(batch_model.state_dict())  # same keys: checkpoints carry over
    batch = _batch(rng)
    with torch.no_grad():
        scene_model.eval()
        eval_out = scene_model(batch).semantic_logits
        scene_model.train()
        train_out = scene_model(batch).semantic_logits
        batch_model.train()
        reference = batch_model(batch).semantic_logits
        batch_model.eval()
        running = batch_model(batch).semantic_logits
    torch.testing.assert_close(eval_out, train_out, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(eval_out, reference, rtol=1e-4, atol=1e-4)
    assert not np.allclose(running.numpy(), reference.numpy(), atol=1e-3)


def test_config_rejects_unknown_norm():
    values = load_config("small").to_dict()
    values["model"]["norm"] = "layer"
    with pytest.raises(ValueError, match="model.norm"):
        config_from_dict(values)
