"""Scenes -> augmented voxel grids -> batches, for training and validation.

Augmentation is seeded by (run seed, epoch, scene index), so a run is reproducible whatever the
number of loader workers, and a resumed run sees the same augmentations it would have seen.
`MixedScenes` draws the training scenes of an epoch from several sources with set weights
(real and synthetic rooms), by a plan that is likewise a function of (seed, epoch) alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from occuseg_core.classes import ClassTable
from occuseg_core.config import AugmentConfig, DataConfig
from occuseg_core.data.collate import VoxelBatch, collate
from occuseg_core.data.transforms import augment_scene
from occuseg_core.data.voxelize import VoxelGrid, voxelize
from occuseg_core.types import Scene


class VoxelizedScenes(Dataset):
    """A sequence of scenes seen as (optionally augmented) voxel grids.

    Args:
        scenes: anything with `len()` and integer indexing that returns labelled `Scene`s.
        data: voxel size and augmentation settings.
        augment: apply `data.augment` (training) or not (validation).
        seed: run seed; with `set_epoch` it fixes each scene's augmentation.
    """

    def __init__(self, scenes: Sequence[Scene], data: DataConfig, *, augment: bool, seed: int):
        self.scenes = scenes
        self.data = data
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, index: int) -> VoxelGrid:
        scene = self.scenes[index]
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            scene = augment_scene(scene, self.data.augment, rng)
        return voxelize(scene, self.data.voxel_size_m)


@dataclass(frozen=True)
class WeightedSources:
    """Training scenes from several sources (sequences of scenes), each with its weight and
    optionally its own augmentation (None: the run's `data.augment`)."""

    sources: tuple[Sequence[Scene], ...]
    weights: tuple[float, ...]
    augments: tuple[AugmentConfig | None, ...] | None = None


class MixedScenes(Dataset):
    """Training scenes drawn from several sources with set weights, as augmented voxel grids.

    An epoch is `len(self)` draws (by default as many as all sources hold together); draw k
    takes source i with probability weights[i] / sum(weights), independently of the others,
    and the source's next scene in a random order that is reshuffled whenever the source runs
    out, so the scenes of one source are drawn equally often (within one). The plan and the
    augmentation of draw k are functions of (seed, epoch, k).

    Args:
        sources: sequences of labelled scenes (len + integer indexing), each non-empty.
        weights: one positive weight per source.
        data: voxel size and augmentation settings.
        seed: run seed.
        epoch_length: draws per epoch (default: the total number of scenes).
        augments: per source, its own augmentation or None for `data.augment`.
    """

    def __init__(
        self, sources: Sequence[Sequence[Scene]], weights: Sequence[float], data: DataConfig, *,
        seed: int, epoch_length: int | None = None,
        augments: Sequence[AugmentConfig | None] | None = None,
    ) -> None:  # fmt: skip
        if len(sources) != len(weights) or not sources:
            raise ValueError("MixedScenes needs one weight per source and at least one source")
        if any(len(source) == 0 for source in sources):
            raise ValueError("every source of MixedScenes needs at least one scene")
        weights = np.asarray(weights, np.float64)
        if not np.all(np.isfinite(weights) & (weights > 0)):
            raise ValueError(f"source weights must be positive; got {weights.tolist()}")
        self.sources = list(sources)
        augments = augments or [None] * len(self.sources)
        if len(augments) != len(self.sources):
            raise ValueError("MixedScenes needs one augmentation (or None) per source")
        self.augments = [a or data.augment for a in augments]
        self.probabilities = weights / weights.sum()
        self.data = data
        self.seed = seed
        self.length = int(epoch_length or sum(len(source) for source in sources))
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Fixes the epoch's plan: `self.plan[k]` = (source, scene index) of draw k."""
        self.epoch = epoch
        rng = np.random.default_rng([self.seed, epoch, 1_000_003])
        source_of = rng.choice(len(self.sources), size=self.length, p=self.probabilities)
        self.plan: list[tuple[int, int]] = []
        queues: dict[int, list[int]] = {}
        for source in source_of.tolist():
            if not queues.get(source):
                queues[source] = rng.permutation(len(self.sources[source])).tolist()
            self.plan.append((source, queues[source].pop()))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> VoxelGrid:
        source, scene_index = self.plan[index]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        scene = augment_scene(self.sources[source][scene_index], self.augments[source], rng)
        return voxelize(scene, self.data.voxel_size_m)


def make_loader(
    dataset: VoxelizedScenes,
    classes: ClassTable,
    *,
    batch_size: int,
    shuffle: bool,
    num_workers: int,
    seed: int,
    rank: int = 0,
    world_size: int = 1,
) -> DataLoader:
    """A DataLoader yielding `VoxelBatch`es with training targets.

    The shuffle order depends only on (seed, epoch) through a generator reseeded each epoch by
    `iterate_epoch`. With `world_size` > 1 the loader reads rank `rank`'s share of each epoch
    (a `DistributedSampler`, shuffled by (seed, epoch) alike on every rank; the last share is
    padded with repeats so that every rank takes the same number of steps).
    """
    generator = torch.Generator().manual_seed(seed)
    sampler = None
    if world_size > 1:
        sampler = DistributedSampler(
            dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed
        )
        shuffle = False
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=lambda grids: collate(grids, classes, dataset.data.input_features),
        generator=generator,
        drop_last=False,
        persistent_workers=False,
    )


def iterate_epoch(loader: DataLoader, epoch: int, seed: int) -> Iterator[VoxelBatch]:
    """Batches of one epoch; the order and augmentations are a function of (seed, epoch)."""
    loader.dataset.set_epoch(epoch)
    if isinstance(loader.sampler, DistributedSampler):
        loader.sampler.set_epoch(epoch)
    if loader.generator is not None:
        loader.generator.manual_seed(seed * 100_003 + epoch)
    yield from loader
