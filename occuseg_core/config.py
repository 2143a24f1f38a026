"""Configuration as frozen dataclasses, loaded from YAML (configs as data, no registry).

`load_config("small")` reads a named config shipped in `occuseg_core/configs/`; any other
argument is a path to a YAML file. Unknown keys, wrong types and out-of-range values raise
`OccusegError` naming the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from occuseg_core.errors import OccusegError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


@dataclass(frozen=True)
class UNetConfig:
    """Sparse U-Net: input width, widths per level (paper: m, 2m, ..., 6m), blocks per level.

    `context_levels`: coarser levels (1..len(widths)-1) whose decoder features, projected to
    `context_channels` and summed, are appended to every voxel's output features (a direct
    path from coarse context to the heads; empty: the plain U-Net output).
    """

    in_channels: int = 3
    widths: tuple[int, ...] = (16, 32, 48, 64, 80)
    blocks_per_level: int = 1
    context_levels: tuple[int, ...] = ()
    context_channels: int = 16


@dataclass(frozen=True)
class HeadsConfig:
    """Heads: feature embedding dimension E, the occupancy head's initial log count, and whether
    the occupancy head sees the scan's density (`occuseg_core.nn.heads`; for models trained
    on scenes of varying density with `norm: scene`, which otherwise hides it), centred on
    `occupancy_density_reference` (a typical training scan's log density)."""

    embedding_dim: int = 16
    initial_log_occupancy: float = 6.0
    occupancy_density: bool = False
    occupancy_density_reference: float = 0.0


NORMS = ("batch", "scene")
"""Normalisations the network can use (`ModelConfig.norm`, built by `occuseg_core.nn.norm`)."""


@dataclass(frozen=True)
class ModelConfig:
    """The network: backbone, heads, the class table that fixes K, and the normalisation.

    `norm`: "batch" (BatchNorm, running statistics at inference, as the paper's network) or
    "scene" (every layer normalised by the statistics of the scene being processed, in training
    and at inference; see `occuseg_core.nn.norm`). With "scene", train with one scene per
    batch so that training and inference normalise alike.
    """

    unet: UNetConfig = field(default_factory=UNetConfig)
    heads: HeadsConfig = field(default_factory=HeadsConfig)
    class_table: str = "scannet20"
    norm: str = "batch"


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation of each scene (applied to points before voxelization).

    `rotate_z` turns the scene about the vertical axis: by any angle, or with
    `rotate_z_right_angles` by a multiple of 90 degrees plus a uniform jitter of up to
    `rotate_z_jitter_deg` (for axis-aligned data such as aligned ScanNet scans and the synthetic
    rooms, where arbitrary angles spend capacity on staircase-voxelized walls the test data never
    shows).

    `point_keep_range` keeps a random fraction of the points, drawn uniformly from the range once
    per scene ((1, 1): off). Scans differ in density (ScanNet's decimated meshes have about 60%
    of the synthetic rooms' occupied neighbours per voxel), and a network trained at one density
    reads a sparser scan as a different class: the first bundled model, trained without it,
    labelled 94% of the real scan's walls "window".

    `auto_contrast_probability`: how often a scene's colours are stretched per channel to the
    full 0..1 range, blended with the original by a uniform random factor (real scans differ
    in exposure and white balance). `crop_m`: with probability `crop_probability`, a scene wider
    than `crop_m` metres along x or y keeps only a random window of that width (objects cut by
    its border stay, as in a partly scanned room; the targets are recomputed from what is kept).
    """

    rotate_z: bool = True
    rotate_z_right_angles: bool = False
    rotate_z_jitter_deg: float = 0.0
    flip_xy: bool = True
    scale_range: tuple[float, float] = (0.9, 1.1)
    elastic: bool = True
    elastic_granularity_m: tuple[float, float] = (0.2, 0.8)
    elastic_magnitude_m: tuple[float, float] = (0.01, 0.04)
    color_jitter: float = 0.1
    color_noise: float = 0.02
    point_keep_range: tuple[float, float] = (1.0, 1.0)
    auto_contrast_probability: float = 0.0
    crop_m: float | None = None
    crop_probability: float = 1.0


@dataclass(frozen=True)
class SourceConfig:
    """One dataset folder a training run draws scenes from (see `DataConfig.sources`).

    `root`: the dataset folder (relative paths are taken from the working directory, as
    `--data` is); `weight`: the share of training steps drawn from it, relative to the other
    sources' weights; `split`: its training split; `augment`: this source's own augmentation
    (e.g. no point dropout for real scans that are already sparse), default `data.augment`.
    """

    root: str
    weight: float = 1.0
    split: str = "train"
    augment: AugmentConfig | None = None


@dataclass(frozen=True)
class DataConfig:
    """What the network sees: voxel size, input features, splits, augmentation.

    `input_features`: "rgb" (the paper's input) and optionally "height" above the floor (see
    `occuseg_core.data.collate.input_features`); `model.unet.in_channels` must match.

    `sources`: several dataset folders to train on at once (e.g. real and synthetic rooms),
    each step's scene drawn from source i with probability weight_i / sum of weights (see
    `occuseg_core.engine.batches.MixedScenes`). Validation uses the first source's `val_split`.
    Empty: the single folder given to `occuseg train --data`, split `train_split`.
    """

    voxel_size_m: float = 0.02
    input_features: tuple[str, ...] = ("rgb",)
    train_split: str = "train"
    val_split: str = "val"
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    sources: tuple[SourceConfig, ...] = ()


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms (all 1 in the paper's eq. 1, 2 and 4)."""

    loss_sem: float = 1.0
    loss_sp: float = 1.0
    loss_var: float = 1.0
    loss_dist: float = 1.0
    loss_reg: float = 1.0
    loss_cov: float = 1.0
    loss_occ: float = 1.0


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and bookkeeping. `schedule`: constant, cosine or poly over all steps.

    `init_from`: a checkpoint (training or exported) whose weights the run starts from, with a
    fresh optimiser and its own schedule (fine-tuning; `occuseg train --init`). Its model and
    its voxel size and input features must be the run's, except input features the run adds
    after the checkpoint's, which start with zero weights (see
    `occuseg_core.engine.checkpoint.init_model_from`). A resumed run keeps its own weights.
    """

    epochs: int = 100
    batch_size: int = 2
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"
    min_lr_fraction: float = 0.05
    grad_clip_norm: float = 10.0
    checkpoint_every: int = 1
    val_every: int = 1
    val_scenes: int = 20
    seed: int = 0
    num_workers: int = 0
    device: str = "auto"
    time_limit_min: float | None = None
    loss_weights: LossWeights = field(default_factory=LossWeights)
    init_from: str | None = None


@dataclass(frozen=True)
class OccuSegConfig:
    """Everything a training run or a checkpoint needs."""

    name: str = "custom"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(dataclasses.asdict(self))

    def replace_in(self, section: str, **changes) -> OccuSegConfig:
        """A copy with fields of one section (model/data/train) replaced."""
        return dataclasses.replace(
            self, **{section: dataclasses.replace(getattr(self, section), **changes)}
        )


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value


def _convert(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        return _build(annotation, value, where)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        return _convert(value, next(a for a in options if a is not type(None)), where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise OccusegError(f"config key {where}: expected a list; got {value!r}")
        args = typing.get_args(annotation)
        item_types = [args[0]] * len(value) if args[-1] is Ellipsis else list(args)
        if len(item_types) != len(value):
            raise OccusegError(
                f"config key {where}: expected {len(item_types)} items; got {value!r}"
            )
        return tuple(
            _convert(v, t, f"{where}[{i}]")
            for i, (v, t) in enumerate(zip(value, item_types, strict=True))
        )
    if annotation is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, str, bool) and type(value) is annotation:
        return value
    raise OccusegError(f"config key {where}: expected {annotation.__name__}; got {value!r}")


def _build(cls: type, values: Any, where: str) -> Any:
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise OccusegError(f"config key {where or '<root>'}: expected a mapping; got {values!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise OccusegError(
            f"unknown config key(s) {', '.join(f'{where}.{k}' if where else k for k in unknown)};"
            f" known in {where or '<root>'}: {sorted(known)}"
        )
    kwargs = {k: _convert(v, hints[k], f"{where}.{k}" if where else k) for k, v in values.items()}
    return cls(**kwargs)


def _augment_problems(where: str, augment: AugmentConfig) -> list[str]:
    problems = []
    lo, hi = augment.scale_range
    if not 0 < lo <= hi:
        problems.append(f"{where}.scale_range must satisfy 0 < low <= high")
    lo, hi = augment.point_keep_range
    if not 0 < lo <= hi <= 1:
        problems.append(f"{where}.point_keep_range must satisfy 0 < low <= high <= 1")
    if not 0 <= augment.auto_contrast_probability <= 1 or not 0 <= augment.crop_probability <= 1:
        problems.append(f"{where}: probabilities must lie in [0, 1]")
    if augment.crop_m is not None and not augment.crop_m > 0:
        problems.append(f"{where}.crop_m must be > 0 (or null: no crop)")
    return problems


def validate_config(config: OccuSegConfig) -> OccuSegConfig:
    """Range checks that types cannot express; returns the config unchanged."""
    from occuseg_core.classes import class_table

    problems = []
    if not config.data.voxel_size_m > 0:
        problems.append("data.voxel_size_m must be > 0")
    if config.train.epochs < 1 or config.train.batch_size < 1:
        problems.append("train.epochs and train.batch_size must be >= 1")
    if not config.train.lr > 0:
        problems.append("train.lr must be > 0")
    if config.train.schedule not in ("constant", "cosine", "poly"):
        problems.append("train.schedule must be constant, cosine or poly")
    if config.train.checkpoint_every < 1 or config.train.val_every < 1:
        problems.append("train.checkpoint_every and train.val_every must be >= 1")
    unet = config.model.unet
    if any(not 1 <= level < len(unet.widths) for level in unet.context_levels):
        problems.append(f"model.unet.context_levels must lie in 1..{len(unet.widths) - 1}")
    if len(set(unet.context_levels)) != len(unet.context_levels) or unet.context_channels < 1:
        problems.append("model.unet.context_levels must differ; context_channels must be >= 1")
    if not math.isfinite(config.model.heads.occupancy_density_reference):
        problems.append("model.heads.occupancy_density_reference must be finite")
    if config.model.norm not in NORMS:
        problems.append(f"model.norm must be one of {list(NORMS)}")
    augments = [("data.augment", config.data.augment)] + [
        (f"data.sources[{k}].augment", s.augment)
        for k, s in enumerate(config.data.sources) if s.augment is not None
    ]  # fmt: skip
    for where, augment in augments:
        problems += _augment_problems(where, augment)
    from occuseg_core.data.collate import FEATURE_CHANNELS

    for k, source in enumerate(config.data.sources):
        if not (math.isfinite(source.weight) and source.weight > 0):
            problems.append(f"data.sources[{k}].weight must be > 0")
        if not source.root or not source.split:
            problems.append(f"data.sources[{k}] needs a root and a split")
    roots = [(s.root, s.split) for s in config.data.sources]
    if len(set(roots)) != len(roots):
        problems.append("data.sources lists one root and split twice")
    unknown = [f for f in config.data.input_features if f not in FEATURE_CHANNELS]
    if unknown or not config.data.input_features:
        problems.append(f"data.input_features must be some of {sorted(FEATURE_CHANNELS)}")
    elif config.model.unet.in_channels != sum(
        FEATURE_CHANNELS[f] for f in config.data.input_features
    ):
        problems.append("model.unet.in_channels must equal the width of data.input_features")
    try:
        class_table(config.model.class_table)
    except ValueError as error:
        problems.append(str(error))
    if problems:
        raise OccusegError("invalid config: " + "; ".join(problems))
    return config


def config_from_dict(values: dict[str, Any]) -> OccuSegConfig:
    """Builds and validates a config from a plain nested dict (e.g. a checkpoint's copy)."""
    return validate_config(_build(OccuSegConfig, values, ""))


def named_configs() -> list[str]:
    """Names of the configs shipped with the package."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_config(name_or_path: str | Path) -> OccuSegConfig:
    """Loads a named config (see `named_configs()`) or a YAML file.

    Raises:
        OccusegError: missing/unreadable file, invalid YAML, unknown keys, bad values.
    """
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = CONFIG_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise OccusegError(
                f"no config named {str(name_or_path)!r}; named configs: {named_configs()}"
                " (or give a path to a YAML file)"
            )
    if not path.is_file():
        raise OccusegError(f"config file {path} does not exist")
    try:
        values = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        raise OccusegError(f"config file {path} is not readable YAML: {problem}{where}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise OccusegError(f"config file {path} is not readable: {error}") from None
    try:
        return config_from_dict(values or {})
    except OccusegError as error:
        raise OccusegError(f"{path}: {error}") from None
