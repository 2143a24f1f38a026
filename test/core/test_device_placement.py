"""Everything our code makes lands on the model's device, so the CUDA path has no stray CPU tensor.

No GPU here: the check runs a training step, validation and the Segmenter on the CPU with the
default device set to "meta". A tensor our code makes without naming a device (`torch.arange(n)`
instead of `torch.arange(n, device=x.device)`: the classic bug that only shows on CUDA) then lands
on "meta" and the first operation that mixes it with the model's tensors raises. spconv's own CPU
kernels make scratch tensors on the default device (its CUDA path names the device), so its
convolutions run with the default device set back to the CPU. The gpu-marked test trains for
real on CUDA where there is one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools

import numpy as np
import pytest
import spconv.pytorch.conv as spconv_conv
import spconv.pytorch.functional as spconv_functional
import torch
from test_trainer import tiny_config, two_boxes_scene

from occuseg_core.config import load_config
from occuseg_core.engine.batches import iterate_epoch
from occuseg_core.engine.checkpoint import load_checkpoint
from occuseg_core.engine.trainer import Trainer
from occuseg_core.engine.validate import validate
from occuseg_core.inference import Segmenter

SPCONV_FUNCTIONS = ("SparseConvFunction", "SparseInverseConvFunction", "SubMConvFunction",
                    "SparseImplicitGemmFunction")  # fmt: skip


def _on_cpu_default(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with torch.device("cpu"):
            return function(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def meta_default_device(monkeypatch):
    """Sets the default device to "meta" inside; spconv's kernels keep the CPU default."""
    monkeypatch.setattr(spconv_conv.SparseConvolution, "forward",
                        _on_cpu_default(spconv_conv.SparseConvolution.forward))  # fmt: skip
    for name in SPCONV_FUNCTIONS:
        function = getattr(spconv_functional, name)
        backward = function.backward  # a staticmethod, read through the class
        monkeypatch.setattr(function, "backward", staticmethod(_on_cpu_default(backward)))
    with torch.device("meta"):
        yield


def _small_trainer(tmp_path) -> Trainer:
    """The shipped `small` model (context levels, density term) on two tiny scenes at 5 cm."""
    config = load_config("small").replace_in("train", device="cpu", batch_size=2, val_scenes=1)
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, voxel_size_m=0.05))
    scenes = [two_boxes_scene(i) for i in range(2)]
    return Trainer(config, scenes, [two_boxes_scene(9)], tmp_path, progress=False)


def test_the_check_catches_a_tensor_made_without_a_device(monkeypatch):
    """The premise: inside the check a device-less factory call lands on "meta" and fails."""
    on_cpu = torch.ones(3, device="cpu")
    assert float((on_cpu + torch.arange(3)).sum()) == 6.0
    with meta_default_device(monkeypatch), pytest.raises((RuntimeError, NotImplementedError)):
        float((on_cpu + torch.arange(3)).sum())


def test_training_step_and_validation_make_no_tensor_off_the_model_device(tmp_path, monkeypatch):
    trainer = _small_trainer(tmp_path)  # data and model are set up on the normal default
    batch = next(iter(iterate_epoch(trainer.loader, 0, 0)))
    before = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.model.train()
    with meta_default_device(monkeypatch):
        losses = trainer._train_step(batch)
        metrics = validate(trainer.model, trainer.val_grids, trainer.classes, trainer.device,
                           features=trainer.config.data.input_features)  # fmt: skip
    assert losses is not None and all(np.isfinite(v) for v in losses.values())
    assert {"loss_sem", "loss_sp", "loss_var", "loss_cov", "loss_occ"} <= set(losses)
    assert np.isfinite(metrics["val_loss"]) and metrics["val_instances"] == 2
    after = list(trainer.model.parameters())
    changed = [not torch.equal(a, b) for a, b in zip(before, after, strict=True)]
    assert all(p.device.type == "cpu" for p in trainer.model.parameters())
    assert sum(changed) > 0.9 * len(changed)  # the step reached (nearly) every parameter


def test_segmenter_makes_no_tensor_off_the_model_device(monkeypatch, random_checkpoint):
    segmenter = Segmenter.from_checkpoint(random_checkpoint, device="cpu")
    scene = two_boxes_scene(3)
    with meta_default_device(monkeypatch):
        result = segmenter.segment(scene)
    assert len(result.instance_ids) == len(scene.xyz)


@pytest.mark.gpu
def test_training_runs_on_cuda_and_the_checkpoint_loads_on_cpu(tmp_path):
    """`train.device: auto` picks CUDA where there is one; the run's checkpoint serves on CPU."""
    scenes = [two_boxes_scene(i) for i in range(4)]
    trainer = Trainer(tiny_config(device="auto", epochs=2), scenes, [two_boxes_scene(9)],
                      tmp_path, progress=False)  # fmt: skip
    assert trainer.device.type == "cuda"
    metrics = trainer.fit(echo=lambda line: None)
    assert np.isfinite(metrics["loss"]) and np.isfinite(metrics["val_loss"])
    assert all(p.device.type == "cuda" for p in trainer.model.parameters())
    checkpoint = load_checkpoint(tmp_path / "checkpoints" / "last.pt", map_location="cpu")
    assert checkpoint["state"]["epoch"] == 2
    segmenter = Segmenter.from_checkpoint(tmp_path / "checkpoints" / "last.pt", device="cpu")
    assert len(segmenter.segment(two_boxes_scene(3)).instance_ids) == 2500
