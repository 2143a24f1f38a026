"""DDP training on CPU with gloo and 2 processes (issue 16): one step of two ranks equals one
step on their combined batch (gradients averaged by hand in one process), only rank 0 writes,
a dead rank fails the run with a clear error instead of hanging, and `occuseg train --nproc 2`
runs, resumes and reports its effective batch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
import torch
import torch.multiprocessing as mp
from test_trainer import tiny_config, two_boxes_scene

from occuseg_core.engine.batches import VoxelizedScenes, make_loader
from occuseg_core.engine.distributed import DistributedContext, context_from_env
from occuseg_core.engine.trainer import Trainer
from occuseg_core.engine.validate import batch_targets
from occuseg_core.errors import OccusegError
from occuseg_core.losses import occuseg_losses

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _loopback_env(port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), GLOO_SOCKET_IFNAME="lo")


def _one_step_worker(rank: int, port: int, out_dir: str, die_after_first_step: bool,
                     time_limit_min: float | None = None) -> None:  # fmt: skip
    _loopback_env(port)
    torch.set_num_threads(1)
    scenes = [two_boxes_scene(seed) for seed in range(4 if die_after_first_step else 2)]
    config = tiny_config(epochs=2 if die_after_first_step else 1, batch_size=1,
                         schedule="constant")  # fmt: skip
    if time_limit_min is not None:
        config = config.replace_in("train", epochs=1000, schedule="cosine",
                                   time_limit_min=time_limit_min)  # fmt: skip
        if rank == 1:  # a slower rank: its clock would run behind rank 0's
            Trainer._train_step = _slowed(Trainer._train_step)
    context = DistributedContext(rank=rank, world_size=2, local_rank=rank, timeout_min=1.0)
    trainer = Trainer(config, scenes, [two_boxes_scene(9)], f"{out_dir}/rank{rank}",
                      progress=False, context=context)  # fmt: skip
    if die_after_first_step and rank == 1:
        step = trainer._train_step

        def step_then_die(batch):
            values = step(batch)
            os._exit(3)  # as if killed: no goodbye to the process group
            return values

        trainer._train_step = step_then_die
    try:
        trainer.fit(echo=lambda line: None)
    except OccusegError as error:
        with open(f"{out_dir}/error{rank}.txt", "w") as f:
            f.write(str(error))
        return
    torch.save(dict(trainer.model.named_parameters()), f"{out_dir}/weights{rank}.pt")
    with open(f"{out_dir}/state{rank}.txt", "w") as f:
        lr = trainer.optimizer.param_groups[0]["lr"]
        f.write(f"{trainer.state.epoch} {trainer.state.step} {lr!r}")


def _slowed(step):
    def slow_step(self, batch):
        time.sleep(0.05)
        return step(self, batch)

    return slow_step


def _reference_step(scenes) -> dict[str, torch.Tensor]:
    """One process: the same initial weights, each scene's loss backpropagated on its own,
    the gradients averaged by hand, then the trainer's clipping and Adam step."""
    config = tiny_config(epochs=1, batch_size=1, schedule="constant")
    trainer = Trainer(config, scenes, [], "/nonexistent", progress=False)
    model, train = trainer.model, config.train
    grids = VoxelizedScenes(scenes, config.data, augment=True, seed=train.seed)
    loader = make_loader(grids, trainer.classes, batch_size=1, shuffle=False, num_workers=0,
                         seed=train.seed)  # fmt: skip
    model.train()
    trainer.optimizer.zero_grad()
    for batch in loader:
        losses = occuseg_losses(model(batch), batch_targets(batch),
                                weights=vars(train.loss_weights))  # fmt: skip
        (losses["loss"] / len(scenes)).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), train.grad_clip_norm)
    trainer.optimizer.step()
    return {name: value.detach() for name, value in model.named_parameters()}


def test_two_ranks_take_the_step_of_their_combined_batch(tmp_path):
    mp.spawn(_one_step_worker, args=(_free_port(), str(tmp_path), False), nprocs=2, join=True)
    expected = _reference_step([two_boxes_scene(0), two_boxes_scene(1)])
    initial = Trainer(tiny_config(epochs=1), [two_boxes_scene(0)], [], "/x", progress=False)
    for rank in (0, 1):
        weights = torch.load(tmp_path / f"weights{rank}.pt")
        assert weights.keys() == expected.keys()
        for name, value in expected.items():
            torch.testing.assert_close(weights[name], value, rtol=1e-5, atol=1e-6, msg=name)
    moved = [not torch.equal(p.detach(), expected[n]) for n, p in initial.model.named_parameters()]
    assert sum(moved) > len(moved) // 2  # the step changed the weights: not a vacuous match
    # Only rank 0 writes the run directory.
    assert (tmp_path / "rank0" / "checkpoints" / "last.pt").is_file()
    assert (tmp_path / "rank0" / "metrics.csv").is_file()
    assert not (tmp_path / "rank1").exists()


def test_a_dead_rank_fails_the_run_with_a_clear_error_in_seconds(tmp_path):
    """Rank 1 exits after its first step; rank 0 fails with one clear error long before the
    1-minute timeout (the dead peer's connection closes)."""
    start = time.monotonic()
    workers = mp.spawn(_one_step_worker, args=(_free_port(), str(tmp_path), True), nprocs=2,
                       join=False)  # fmt: skip
    rank0, rank1 = workers.processes
    rank0.join(timeout=120)  # (not workers.join: it would kill rank 0 once rank 1 has died)
    rank1.join(timeout=10)
    assert time.monotonic() - start < 45  # seconds, not the timeout
    assert (rank0.exitcode, rank1.exitcode) == (0, 3)
    message = (tmp_path / "error0.txt").read_text()
    assert "rank 0 of 2: another training process stopped or did not answer" in message
    assert not (tmp_path / "weights0.pt").exists()


def test_a_time_limit_stops_every_rank_at_the_same_step(tmp_path):
    """Rank 1 is slower; the shared clock gives both the same schedule and stopping point:
    no error, equal states, equal weights (a per-rank clock made them part)."""
    mp.spawn(_one_step_worker, args=(_free_port(), str(tmp_path), False, 0.03), nprocs=2,
             join=True)  # fmt: skip
    assert not list(tmp_path.glob("error*.txt"))
    states = [(tmp_path / f"state{rank}.txt").read_text() for rank in (0, 1)]
    assert states[0] == states[1]
    epochs = int(states[0].split()[0])
    assert 1 <= epochs < 1000  # stopped by the limit
    weights = [torch.load(tmp_path / f"weights{rank}.pt") for rank in (0, 1)]
    for name, value in weights[0].items():
        torch.testing.assert_close(weights[1][name], value, rtol=0, atol=0, msg=name)


@pytest.mark.parametrize(
    "env, expected",
    [({}, (0, 1, 0)), ({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"}, (3, 4, 1))],
)
def test_context_from_torchrun_environment(monkeypatch, env, expected):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    context = context_from_env()
    assert (context.rank, context.world_size, context.local_rank) == expected
    assert context.is_main == (expected[0] == 0)


def test_bad_torchrun_environment_is_refused(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(OccusegError, match="RANK=2 WORLD_SIZE=2"):
        context_from_env()


TINY = """name: tiny
model: {unet: {widths: [8, 16], blocks_per_level: 1}}
data: {voxel_size_m: 0.05, augment: {elastic: false}}
train: {epochs: 1, batch_size: 1, val_scenes: 1, device: cpu}
"""


def test_occuseg_train_nproc_2_runs_and_resumes(tmp_path):
    from occuseg_core.data.dataset import write_synthetic_dataset

    write_synthetic_dataset(tmp_path / "data", num_scenes=5, seed=5, val_fraction=0.2,
                            progress=False)  # fmt: skip
    (tmp_path / "tiny.yaml").write_text(TINY)
    env = dict(os.environ, GLOO_SOCKET_IFNAME="lo")
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        env.pop(name, None)
    base = [sys.executable, "-m", "occuseg_core.cli", "train", "--out", str(tmp_path / "run"),
            "--data", str(tmp_path / "data"), "--no-progress", "--nproc", "2"]  # fmt: skip
    first = subprocess.run([*base, "--config", str(tmp_path / "tiny.yaml")], env=env,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert first.returncode == 0, first.stderr[-2000:]
    assert first.stdout.count("2 process(es) x 1 scene(s) = 2 scenes per step") == 1
    assert "done: 1 epochs, 2 steps" in first.stdout  # 4 scenes over 2 ranks: 2 steps each
    second = subprocess.run([*base, "--resume", "--epochs", "2"], env=env, capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    assert second.returncode == 0, second.stderr[-2000:]
    assert "resuming" in second.stdout and "done: 2 epochs, 4 steps" in second.stdout
    rows = (tmp_path / "run" / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 3  # header + one row per epoch: rank 1 wrote none
    checkpoints = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert checkpoints == ["epoch_0001.pt", "epoch_0002.pt", "last.pt"]
    # --init under DDP: every rank starts from the checkpoint's weights.
    init = tmp_path / "run" / "checkpoints" / "last.pt"
    third = subprocess.run([*base[:5], str(tmp_path / "tuned"), *base[6:], "--config",
                            str(tmp_path / "tiny.yaml"), "--init", str(init)], env=env,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert third.returncode == 0, third.stderr[-2000:]
    assert f"starting from the weights of {init}" in third.stdout
    assert third.stdout.count("done: 1 epochs, 2 steps") == 1
