"""Everything our code makes lands on the model's device, so the CUDA path has no stray CPU tensor.

No GPU here: the check runs a training step, validation and the Segmenter on the CPU with the
default device set to "meta". A tensor our code makes without naming a device (`torch.arange(n)`
instead of `torch.arange(n, device=x.device)`: the classic bug that only shows on CUDA) then lands
on "meta" and the first operation that mixes it with the model's tensors raises, or, where no
operation raises (indexing a CPU tensor with a meta index returns garbage silently), gives values
that differ from a plain CPU run's: so every check compares its losses, metrics, updated weights
and outputs with the same run on the normal default device. spconv's own CPU kernels make
scratch tensors on the default device (its CUDA path names the device), so its convolutions run
with the default device set back to the CPU. The gpu-marked test trains for real on CUDA where
there is one.
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


@contextlib.contextmanager
def _one_thread():
    """Bitwise-reproducible CPU reductions, so the two runs compared differ only by the device."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _first_batch(trainer: Trainer):
    """The first batch of epoch 0, drawn on the normal default device (data loading is not
    what the check is about)."""
    return next(iter(iterate_epoch(trainer.loader, 0, 0)))


def _step_and_validate(trainer: Trainer, batch) -> tuple[dict[str, float], dict[str, float]]:
    """One training step on `batch`, then validation: (losses, metrics)."""
    trainer.model.train()
    losses = trainer._train_step(batch)
    metrics = validate(trainer.model, trainer.val_grids, trainer.classes, trainer.device,
                       features=trainer.config.data.input_features)  # fmt: skip
    return losses, metrics


def _assert_same_values(got: dict[str, float], want: dict[str, float], what: str) -> None:
    assert set(got) == set(want), what
    for name, value in want.items():
        assert got[name] == pytest.approx(value, rel=1e-5, abs=1e-7), f"{what} {name}"


def test_training_step_and_validation_make_no_tensor_off_the_model_device(tmp_path, monkeypatch):
    """The same step on two identically seeded trainers, one with the default device "meta":
    equal losses, validation metrics and updated weights (no term may come out as garbage)."""
    with _one_thread():
        plain = _small_trainer(tmp_path / "plain")  # same seed, data and batch as `checked`
        want_losses, want_metrics = _step_and_validate(plain, _first_batch(plain))
        checked = _small_trainer(tmp_path / "meta")  # set up on the normal default
        batch = _first_batch(checked)
        before = [p.detach().clone() for p in checked.model.parameters()]
        with meta_default_device(monkeypatch):
            losses, metrics = _step_and_validate(checked, batch)
    assert losses is not None and all(np.isfinite(v) for v in losses.values())
    assert {"loss_sem", "loss_sp", "loss_var", "loss_dist", "loss_cov", "loss_occ"} <= set(losses)
    assert want_losses["loss_dist"] > 0 and metrics["val_instances"] == 2  # terms with content
    _assert_same_values(losses, want_losses, "training loss")
    _assert_same_values(metrics, want_metrics, "validation metric")
    after = list(checked.model.parameters())
    assert all(p.device.type == "cpu" for p in after)
    changed = [not torch.equal(a, b) for a, b in zip(before, after, strict=True)]
    assert sum(changed) > 0.9 * len(changed)  # the step reached (nearly) every parameter
    for (name, want), got in zip(plain.model.named_parameters(), after, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6, msg=f"{name} after the step")


def test_segmenter_makes_no_tensor_off_the_model_device(monkeypatch, random_checkpoint):
    """Head outputs, supervoxels and instances with the default device "meta" are a plain
    run's."""
    segmenter = Segmenter.from_checkpoint(random_checkpoint, device="cpu")
    scene = two_boxes_scene(3)
    with _one_thread():
        want_prepared, want = segmenter.prepare(scene), segmenter.segment(scene)
        with meta_default_device(monkeypatch):
            prepared, result = segmenter.prepare(scene), segmenter.segment(scene)
    assert len(result.instance_ids) == len(scene.xyz) and want.instances  # something to compare
    for field in dataclasses.fields(want_prepared.predictions):
        np.testing.assert_allclose(getattr(prepared.predictions, field.name),
                                   getattr(want_prepared.predictions, field.name),
                                   rtol=1e-5, atol=1e-6, err_msg=field.name)  # fmt: skip
    np.testing.assert_array_equal(prepared.supervoxel, want_prepared.supervoxel)
    np.testing.assert_array_equal(result.instance_ids, want.instance_ids)
    np.testing.assert_array_equal(result.semantic_ids, want.semantic_ids)
    assert [i.class_name for i in result.instances] == [i.class_name for i in want.instances]
    np.testing.assert_allclose(_instance_numbers(result), _instance_numbers(want), rtol=1e-5,
                               atol=1e-6, err_msg="instance records")  # fmt: skip


def _instance_numbers(result) -> np.ndarray:
    """(K, 16): every number of each InstanceRecord (id, class, score, counts, boxes...)."""
    rows = [np.hstack([v for v in dataclasses.astuple(r) if not isinstance(v, str)])
            for r in result.instances]  # fmt: skip
    return np.array(rows, dtype=np.float64).reshape(len(rows), -1)


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
