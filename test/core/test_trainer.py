"""Training: schedule, atomic checkpoints, resume == uninterrupted run, clear errors."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from occuseg_core import Scene, losses
from occuseg_core.config import (
    AugmentConfig,
    LossWeights,
    ModelConfig,
    OccuSegConfig,
    TrainConfig,
    UNetConfig,
)
from occuseg_core.engine import checkpoint as checkpoint_module
from occuseg_core.engine.batches import iterate_epoch
from occuseg_core.engine.checkpoint import load_checkpoint, save_checkpoint
from occuseg_core.engine.trainer import Trainer, lr_factor
from occuseg_core.engine.validate import batch_targets
from occuseg_core.errors import OccusegError


def two_boxes_scene(seed: int) -> Scene:
    """A 1 m floor with a chair-like box (NYU40 5) and a table-like box (NYU40 7)."""
    r = np.random.default_rng(seed)
    floor = np.c_[r.uniform(0, 1, (1500, 2)), np.zeros(1500)]
    chair = np.c_[r.uniform(0.1, 0.3, (400, 2)), r.uniform(0, 0.3, 400)]
    table = np.c_[r.uniform(0.5, 0.9, (600, 2)), r.uniform(0, 0.2, 600)]
    xyz = np.concatenate([floor, chair, table]).astype(np.float32)
    semantic = np.r_[np.full(1500, 2), np.full(400, 5), np.full(600, 7)]
    instance = np.r_[np.full(1500, 1), np.full(400, 2), np.full(600, 3)]
    base = np.r_[np.tile([0.5, 0.5, 0.5], (1500, 1)), np.tile([0.8, 0.2, 0.2], (400, 1)),
                 np.tile([0.2, 0.2, 0.8], (600, 1))]  # fmt: skip
    colors = np.clip(base + r.normal(0, 0.02, base.shape), 0, 1)
    return Scene(xyz, colors, semantic=semantic, instance=instance, name=f"boxes_{seed}")


def tiny_config(**train) -> OccuSegConfig:
    config = OccuSegConfig(
        name="tiny",
        model=ModelConfig(unet=UNetConfig(widths=(8, 16), blocks_per_level=1)),
        train=TrainConfig(epochs=2, batch_size=2, val_scenes=1, device="cpu"),
    )
    config = dataclasses.replace(config, data=dataclasses.replace(
        config.data, voxel_size_m=0.05, augment=AugmentConfig(elastic=False)))  # fmt: skip
    return config.replace_in("train", **train)


@pytest.mark.parametrize(
    "schedule, progress, expected",
    [("constant", 0.7, 1.0), ("cosine", 0.0, 1.0), ("cosine", 1.0, 0.05),
     ("cosine", 0.5, 0.05 + 0.95 * 0.5), ("poly", 0.5, 0.5**0.9), ("poly", 1.0, 0.05)],
)  # fmt: skip
def test_lr_schedule_values(schedule, progress, expected):
    assert math.isclose(lr_factor(schedule, progress, 0.05), expected, rel_tol=1e-9)


def _trainer(tmp_path, name, epochs):
    scenes = [two_boxes_scene(i) for i in range(4)]
    return Trainer(tiny_config(epochs=epochs), scenes, [two_boxes_scene(9)], tmp_path / name,
                   progress=False)  # fmt: skip


def test_resumed_run_equals_uninterrupted_run(tmp_path, monkeypatch):
    """A 2-epoch run interrupted (Ctrl-C) right after its first checkpoint and resumed ends with
    the weights of an uninterrupted 2-epoch run: augmentation and shuffling depend only on
    (seed, epoch), and the optimiser state and schedule position are restored. One thread:
    multithreaded CPU reductions are not bitwise reproducible (two identical 2-thread runs
    already differ by ~1e-3 after 4 Adam steps)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _check_resume_matches(tmp_path, monkeypatch)
    finally:
        torch.set_num_threads(threads)


def _check_resume_matches(tmp_path, monkeypatch):
    straight = _trainer(tmp_path, "straight", epochs=2)
    straight.fit(echo=lambda _: None)

    interrupted = _trainer(tmp_path, "split", epochs=2)
    original_save = Trainer._save

    def save_then_interrupt(self, metrics):
        original_save(self, metrics)
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_save", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(echo=lambda _: None)
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")["state"]["epoch"] == 1

    resumed = _trainer(tmp_path, "split", epochs=2)
    resumed.resume()
    resumed.fit(echo=lambda _: None)
    assert resumed.state.epoch == straight.state.epoch == 2
    assert resumed.state.step == straight.state.step == 4
    pairs = zip(
        straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    )
    for (name, a), b in pairs:
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=f"parameter {name} differs")
    rows = (tmp_path / "split" / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 3  # header + one row per epoch, across the resume


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, {"config": OccuSegConfig().to_dict(), "model": {}})
    before = path.read_bytes()

    def failing_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module.torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"config": OccuSegConfig().to_dict(), "model": {}})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


def test_corrupted_and_foreign_checkpoints_are_rejected(tmp_path):
    good = tmp_path / "good.pt"
    save_checkpoint(good, {"config": OccuSegConfig().to_dict(), "model": {}})
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:100])
    with pytest.raises(OccusegError, match="corrupted"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(OccusegError, match="not an occuseg checkpoint"):
        load_checkpoint(foreign)
    newer = tmp_path / "newer.pt"
    torch.save(
        {"format": "occuseg-checkpoint", "format_version": 99, "config": {}, "model": {}}, newer
    )
    with pytest.raises(OccusegError, match="format version 99"):
        load_checkpoint(newer)
    with pytest.raises(OccusegError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_resume_with_another_model_config_is_refused(tmp_path):
    _trainer(tmp_path, "run", epochs=1).fit(echo=lambda _: None)
    other = tiny_config(epochs=2)
    other = other.replace_in("model", unet=UNetConfig(widths=(8, 16, 24)))
    trainer = Trainer(other, [two_boxes_scene(0)], [], tmp_path / "run", progress=False)
    with pytest.raises(OccusegError, match="different 'model' config"):
        trainer.resume()


def test_time_limit_stops_training(tmp_path):
    scenes = [two_boxes_scene(i) for i in range(4)]
    trainer = Trainer(tiny_config(epochs=50, time_limit_min=1e-9), scenes, [], tmp_path / "t",
                      progress=False)  # fmt: skip
    trainer.fit(echo=lambda _: None)
    assert trainer.state.epoch == 1 and trainer.state.step == 1
    assert (tmp_path / "t" / "checkpoints" / "last.pt").is_file()


def _term_gradients(model, batch) -> dict[str, list[torch.Tensor]]:
    """d L_k / d parameters of each loss term k, computed from occuseg_core.losses' separate
    term functions (not `occuseg_losses`, whose weighting is what is under test)."""
    out, targets = model(batch), batch_targets(batch)
    terms = {
        "loss_sem": losses.semantic_loss(out.semantic_logits, targets.semantic_target),
        "loss_sp": losses.spatial_loss(out.spatial_embedding, targets),
        **losses.feature_losses(out.feature_embedding, targets),
        "loss_cov": losses.covariance_loss(
            out.feature_embedding, out.spatial_embedding, out.sigma, targets
        ),
        "loss_occ": losses.occupancy_loss(out.log_occupancy, targets),
    }
    assert set(terms) == set(losses.LOSS_NAMES)
    params = list(model.parameters())
    gradients = {}
    for name, term in terms.items():
        grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
        gradients[name] = [torch.zeros_like(p) if g is None else g for p, g in zip(
            params, grads, strict=True)]  # fmt: skip
    return gradients


@pytest.mark.parametrize(
    "weights",
    [{"loss_occ": 0.0, "loss_sem": 2.0, "loss_dist": 0.0},
     {"loss_occ": 2.0, "loss_sem": 0.0, "loss_cov": 0.5, "loss_sp": 3.0}],
)  # fmt: skip
def test_training_step_applies_the_configured_loss_weights(tmp_path, monkeypatch, weights):
    """The step backpropagates sum_k w_k L_k with the config's `train.loss_weights` w (missing
    ones 1): its gradient is that weighted sum of the separate terms' gradients, computed by
    hand on the same batch and weights. Only L_c reaches the semantic head and only L_o the
    occupancy head, so there a weight of 0 leaves exactly no gradient and 2 doubles it. The
    optimiser step is disabled and clipping set out of reach, so `.grad` is the raw gradient."""
    config = tiny_config(loss_weights=LossWeights(**weights), grad_clip_norm=1e12)
    trainer = Trainer(config, [two_boxes_scene(i) for i in range(2)], [], tmp_path,
                      progress=False)  # fmt: skip
    monkeypatch.setattr(trainer.optimizer, "step", lambda *args, **kwargs: None)
    batch = next(iter(iterate_epoch(trainer.loader, 0, 0)))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # both backward passes then sum in the same order
    try:
        trainer.model.train()
        values = trainer._train_step(batch)
        got = [p.grad.clone() for p in trainer.model.parameters()]
        by_term = _term_gradients(trainer.model, batch)
    finally:
        torch.set_num_threads(threads)
    w = {name: weights.get(name, 1.0) for name in losses.LOSS_NAMES}
    assert values["loss"] == pytest.approx(sum(w[k] * values[k] for k in w), rel=1e-6)
    assert values["loss_occ"] > 0 and values["loss_sem"] > 0
    names = [name for name, _ in trainer.model.named_parameters()]
    for i, name in enumerate(names):
        want = sum(w[k] * by_term[k][i] for k in w)
        _assert_gradient_close(got[i], want, name)
    for head, term in (("heads.semantic.", "loss_sem"), ("heads.occupancy.", "loss_occ")):
        rows = [i for i, name in enumerate(names) if name.startswith(head)]
        assert rows and any(by_term[term][i].abs().max() > 0 for i in rows)
        for i in rows:
            _assert_gradient_close(got[i], w[term] * by_term[term][i], f"{names[i]} (w * d{term})")


def _assert_gradient_close(got: torch.Tensor, want: torch.Tensor, name: str) -> None:
    """Equal up to float summation order: within 1e-4 of the gradient's largest element."""
    scale = float(want.abs().max()) + 1e-12
    torch.testing.assert_close(got, want, rtol=0.0, atol=1e-4 * scale,
                               msg=lambda message: f"gradient of {name}: {message}")  # fmt: skip
