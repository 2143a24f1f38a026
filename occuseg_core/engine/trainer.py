"""The training loop: Adam, an LR schedule, checkpoints, metrics, resume.

Layout of a run directory:
    config.yaml              the resolved config of the run
    metrics.csv              one row per epoch: mean losses, lr, time, validation metrics
    tensorboard/             the same per step and per epoch (when tensorboard is installed)
    checkpoints/last.pt      after every epoch (atomic), used by --resume
    checkpoints/epoch_NNNN.pt  every `checkpoint_every` epochs

Under torchrun every rank runs a Trainer on its share of the scenes and only rank 0 writes
(`occuseg_core.engine.distributed`).

The LR schedule runs on `progress` in [0, 1]: the larger of the fraction of planned steps done
and, with a time limit, the fraction of the time budget used, so a time-limited run still
anneals to its final learning rate.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml
from tqdm import tqdm

from occuseg_core.classes import class_table
from occuseg_core.config import OccuSegConfig
from occuseg_core.device import resolve_device
from occuseg_core.engine import distributed
from occuseg_core.engine.batches import (
    MixedScenes,
    VoxelizedScenes,
    WeightedSources,
    iterate_epoch,
    make_loader,
)
from occuseg_core.engine.checkpoint import (
    check_compatible,
    init_model_from,
    load_checkpoint,
    save_checkpoint,
)
from occuseg_core.engine.metrics_log import MetricsLog
from occuseg_core.engine.validate import batch_targets, validate
from occuseg_core.errors import OccusegError
from occuseg_core.losses import occuseg_losses
from occuseg_core.model import OccuSegNet


def lr_factor(schedule: str, progress: float, min_fraction: float) -> float:
    """Multiplier of the base learning rate at `progress` in [0, 1]."""
    progress = min(max(progress, 0.0), 1.0)
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return min_fraction + (1 - min_fraction) * 0.5 * (1 + math.cos(math.pi * progress))
    if schedule == "poly":
        return max(min_fraction, (1 - progress) ** 0.9)
    raise ValueError(f"unknown schedule {schedule!r}")


@dataclass
class TrainState:
    """Where a run stands: completed epochs, optimiser steps, training seconds so far."""

    epoch: int = 0
    step: int = 0
    elapsed_s: float = 0.0


class Trainer:
    """Trains an OccuSegNet on labelled scenes and writes a run directory.

    Args:
        config: the run's config; with `train.init_from` the model starts from that
            checkpoint's weights (fine-tuning: fresh optimiser, the run's own schedule).
        train_scenes: labelled training scenes (len + indexing), or `WeightedSources` to draw
            each step's scene from several sources with set weights (`MixedScenes`).
        val_scenes: labelled validation scenes (may be empty).
        run_dir: output directory.
        progress: show a progress bar (rank 0 only).
        context: this process's rank among DDP processes (default: the only one).
    """

    def __init__(
        self, config, train_scenes, val_scenes, run_dir: Path, *, progress: bool = True,
        context: distributed.DistributedContext | None = None,
    ) -> None:  # fmt: skip
        self.config: OccuSegConfig = config
        self.run_dir = Path(run_dir)
        self.context = context or distributed.DistributedContext()
        self.is_main = self.context.is_main
        self.progress = progress and self.is_main
        self.classes = class_table(config.model.class_table)
        self.device = distributed.init_process_group(
            self.context, resolve_device(config.train.device)
        )
        torch.manual_seed(config.train.seed)
        self.model = OccuSegNet.from_config(config.model).to(self.device)
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=config.train.lr, weight_decay=config.train.weight_decay
        )
        if isinstance(train_scenes, WeightedSources):
            train_set = MixedScenes(
                train_scenes.sources, train_scenes.weights, config.data, seed=config.train.seed,
                augments=train_scenes.augments,
            )  # fmt: skip
        else:
            train_set = VoxelizedScenes(
                train_scenes, config.data, augment=True, seed=config.train.seed
            )
        self.loader = make_loader(
            train_set,
            self.classes,
            batch_size=config.train.batch_size,
            shuffle=not isinstance(train_set, MixedScenes),  # read in its plan's (random) order
            num_workers=config.train.num_workers,
            seed=config.train.seed,
            rank=self.context.rank,
            world_size=self.context.world_size,
        )
        self.network = self.model  # DDP-wrapped in `fit`, once the weights are final
        limit = min(config.train.val_scenes, len(val_scenes))
        val_subset = [val_scenes[i] for i in range(limit)]
        self.val_grids = VoxelizedScenes(val_subset, config.data, augment=False, seed=0)
        self.state = TrainState()
        self._initialised = False

    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    def resume(self) -> None:
        """Restores model, optimiser and progress from `checkpoints/last.pt`."""
        path = self.checkpoint_dir / "last.pt"
        checkpoint = load_checkpoint(path, map_location=self.device)
        check_compatible(checkpoint["config"], self.config, path)
        try:
            self.model.load_state_dict(checkpoint["model"])
            self.optimizer.load_state_dict(checkpoint["optimizer"])
        except (KeyError, RuntimeError, ValueError) as error:
            raise OccusegError(f"checkpoint {path} does not fit this model: {error}") from None
        self.state = TrainState(**checkpoint["state"])

    def _progress(self) -> float:
        train = self.config.train
        by_steps = self.state.step / max(train.epochs * len(self.loader), 1)
        if train.time_limit_min:
            return max(by_steps, self.state.elapsed_s / (60.0 * train.time_limit_min))
        return by_steps

    def _out_of_time(self) -> bool:
        limit = self.config.train.time_limit_min
        return bool(limit) and self.state.elapsed_s >= 60.0 * limit

    def _train_step(self, batch) -> dict[str, float] | None:
        train = self.config.train
        for group in self.optimizer.param_groups:
            group["lr"] = train.lr * lr_factor(
                train.schedule, self._progress(), train.min_lr_fraction
            )
        batch = batch.to(self.device)
        try:
            losses = occuseg_losses(
                self.network(batch), batch_targets(batch), weights=vars(train.loss_weights)
            )
            if distributed.any_rank(not bool(torch.isfinite(losses["loss"])), self.context):
                return None  # on every rank alike: DDP's backward needs all of them
            self.optimizer.zero_grad(set_to_none=True)
            losses["loss"].backward()  # (DDP: gradients averaged over the ranks here)
        except RuntimeError as error:
            if self.context.active and distributed.is_collective_failure(error):
                raise distributed.peer_failure(error, self.context) from None
            raise
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), train.grad_clip_norm)
        self.optimizer.step()
        return {name: float(value.detach()) for name, value in losses.items()}

    def _train_epoch(self, log: MetricsLog) -> dict[str, float]:
        sums, count, skipped = defaultdict(float), 0, 0
        epoch = self.state.epoch
        bar = tqdm(
            total=len(self.loader),
            desc=f"epoch {epoch + 1}/{self.config.train.epochs}",
            disable=not self.progress,
            leave=False,
            dynamic_ncols=True,
        )
        tick = time.perf_counter()  # training time includes data loading, not validation
        for batch in iterate_epoch(self.loader, epoch, self.config.train.seed):
            values = self._train_step(batch)
            now = time.perf_counter()
            self.state.elapsed_s += now - tick
            tick = now
            # The slowest rank's clock: the same LR and time limit on every rank.
            self.state.elapsed_s = distributed.max_over_ranks(self.state.elapsed_s, self.context)
            if values is None:
                skipped += 1
                if skipped > 10:
                    raise OccusegError("training diverged: loss was not finite for 10 batches")
                continue
            self.state.step += 1
            count += 1
            for name, value in values.items():
                sums[name] += value
            log.step(self.state.step, {**values, "lr": self.optimizer.param_groups[0]["lr"]})
            bar.update(1)
            bar.set_postfix({k.removeprefix("loss_"): f"{v / count:.3f}" for k, v in sums.items()})
            if self._out_of_time():
                break
        bar.close()
        means = {name: value / max(count, 1) for name, value in sums.items()}
        return distributed.mean_over_ranks(means, self.context)

    def _save(self, metrics: dict[str, float]) -> None:
        if not self.is_main:
            return
        payload = {
            "config": self.config.to_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "state": vars(self.state).copy(),
            "metrics": metrics,
        }
        save_checkpoint(self.checkpoint_dir / "last.pt", payload)
        if self.state.epoch % self.config.train.checkpoint_every == 0:
            save_checkpoint(self.checkpoint_dir / f"epoch_{self.state.epoch:04d}.pt", payload)

    def init_weights(self) -> None:
        """Loads `train.init_from`'s weights into the model (fine-tuning; see TrainConfig).

        `fit` calls it before anything is written when the run has not taken a step yet, so a
        resumed run keeps its own weights and needs no init checkpoint any more.

        Raises:
            OccusegError: see `init_model_from` (the differing settings are named).
        """
        if self.config.train.init_from and not self._initialised:
            init_model_from(self.model, self.config.train.init_from, self.config)
        self._initialised = True

    def fit(self, echo=print) -> dict[str, float]:
        """Trains until `train.epochs` or the time limit; returns the last epoch's metrics."""
        if self.state.step == 0 and self.state.epoch == 0:
            self.init_weights()
        if self.network is self.model:
            self.network = distributed.wrap_model(self.model, self.context, self.device)
            self.model = getattr(self.network, "module", self.network)  # (SyncBatchNorm)
        if self.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.yaml").write_text(
                yaml.safe_dump(self.config.to_dict(), sort_keys=False)
            )
        metrics: dict[str, float] = {}
        self.model.train()
        with MetricsLog(self.run_dir, enabled=self.is_main) as log:
            while self.state.epoch < self.config.train.epochs and not self._out_of_time():
                epoch_start = time.perf_counter()
                metrics = self._train_epoch(log)
                self.state.epoch += 1
                # Every rank validates (same weights, same result): none waits meanwhile.
                if self.val_grids and (
                    self.state.epoch % self.config.train.val_every == 0
                    or self._out_of_time()
                    or self.state.epoch == self.config.train.epochs
                ):
                    metrics.update(
                        validate(
                            self.model,
                            self.val_grids,
                            self.classes,
                            self.device,
                            features=self.config.data.input_features,
                        )
                    )
                metrics.update(
                    epoch=self.state.epoch,
                    step=self.state.step,
                    lr=self.optimizer.param_groups[0]["lr"],
                    epoch_s=time.perf_counter() - epoch_start,
                    train_s=self.state.elapsed_s,
                )
                log.epoch(self.state.step, metrics)
                self._save(metrics)
                if self.is_main:
                    echo(format_epoch(metrics))
        return metrics


def format_epoch(metrics: dict[str, float]) -> str:
    """One human-readable line per epoch."""
    parts = [f"epoch {int(metrics['epoch'])}", f"loss {metrics.get('loss', float('nan')):.3f}"]
    if "val_semantic_accuracy" in metrics:
        parts.append(f"val acc {metrics['val_semantic_accuracy']:.3f}")
        parts.append(f"val R_c<0.3 {metrics['val_occupancy_within_0_3']:.3f}")
    parts.append(f"{metrics['train_s'] / 60:.1f} min")
    return " | ".join(parts)
