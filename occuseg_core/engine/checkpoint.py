"""Checkpoints: written atomically (temp file + rename), validated when read.

A checkpoint is a dict with `format`, `format_version`, the full config (so a model can be
rebuilt from the file alone), the model's state dict and, for training runs, the optimiser
state, epoch, step and elapsed training time.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from occuseg_core.atomic import atomic_destination
from occuseg_core.config import OccuSegConfig, config_from_dict
from occuseg_core.errors import OccusegError

CHECKPOINT_FORMAT = "occuseg-checkpoint"
CHECKPOINT_VERSION = 1


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Writes `payload` (plus format tags) to `path`; a crash never leaves a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, **payload}
    with atomic_destination(path, fsync=True) as tmp, open(tmp, "wb") as f:
        torch.save(data, f)


def load_checkpoint(
    path: str | Path, *, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Reads and validates a checkpoint.

    Returns:
        The checkpoint dict, with "config" parsed into an `OccuSegConfig`.

    Raises:
        OccusegError: missing file, not a checkpoint (corrupted/truncated), another format or a
            newer version, or a config this version cannot read.
    """
    path = Path(path)
    if not path.is_file():
        raise OccusegError(f"checkpoint {path} does not exist")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, OSError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise OccusegError(
            f"checkpoint {path} is corrupted or not a checkpoint ({reason})"
        ) from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise OccusegError(f"{path} is not an occuseg checkpoint (no '{CHECKPOINT_FORMAT}' tag)")
    version = data.get("format_version")
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise OccusegError(
            f"checkpoint {path} has format version {version!r}; this occuseg reads up to"
            f" {CHECKPOINT_VERSION} (upgrade occuseg)"
        )
    for key in ("config", "model"):
        if key not in data:
            raise OccusegError(f"checkpoint {path} lacks '{key}'")
    try:
        data["config"] = config_from_dict(data["config"])
    except OccusegError as error:
        raise OccusegError(f"checkpoint {path} has an incompatible config: {error}") from None
    return data


def check_compatible(checkpoint_config: OccuSegConfig, config: OccuSegConfig, path: Path) -> None:
    """Raises OccusegError when a checkpoint's model or data settings differ from the run's."""
    for section in ("model", "data"):
        if getattr(checkpoint_config, section) != getattr(config, section):
            raise OccusegError(
                f"checkpoint {path} was trained with a different '{section}' config;"
                f" resume with the run's own config ({path.parent.parent / 'config.yaml'})"
            )


INIT_DATA_SETTINGS = ("voxel_size_m", "input_features")
"""Data settings a model's weights depend on: a checkpoint trained with others cannot be
fine-tuned (its voxels and inputs would mean something else)."""


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}"))
        return out
    return {prefix: value}


def config_differences(
    checkpoint_config: OccuSegConfig, config: OccuSegConfig
) -> list[tuple[str, Any, Any]]:
    """The settings a model's weights depend on that differ between two configs.

    Returns:
        (dotted key, checkpoint's value, run's value) for every differing key of `model` and of
        `data.voxel_size_m` / `data.input_features`, in key order.
    """
    a, b = checkpoint_config.to_dict(), config.to_dict()
    left = _flatten(a["model"], "model")
    right = _flatten(b["model"], "model")
    for key in INIT_DATA_SETTINGS:
        left[f"data.{key}"], right[f"data.{key}"] = a["data"][key], b["data"][key]
    return [(k, left.get(k), right.get(k)) for k in sorted(set(left) | set(right))
            if left.get(k) != right.get(k)]  # fmt: skip


def added_input_features(
    checkpoint_config: OccuSegConfig, config: OccuSegConfig
) -> tuple[str, ...]:
    """The input features a run adds after a checkpoint's, when that is all that differs.

    A model trained on `rgb` can be fine-tuned on `rgb` + `height`: its first convolution gets
    the new input channels with zero weights, so the widened model computes what the checkpoint
    did until training teaches it to use them (`init_model_from`).

    Returns:
        The added features in order, or () when the run's features are not the checkpoint's
        followed by more, or when anything else the weights depend on differs.
    """
    old, new = checkpoint_config.data.input_features, config.data.input_features
    keys = {key for key, _, _ in config_differences(checkpoint_config, config)}
    if len(new) <= len(old) or new[: len(old)] != old:
        return ()
    if keys != {"data.input_features", "model.unet.in_channels"}:
        return ()
    return tuple(new[len(old) :])


STEM_WEIGHT = "backbone.stem.0.weight"
"""The first convolution's weights, the only ones that see the input features."""


def _widened_stem(weights: dict[str, Any], model: torch.nn.Module) -> dict[str, Any]:
    """`weights` with the stem's input dimension zero-padded to the model's width."""
    old = weights[STEM_WEIGHT]
    target = model.state_dict()[STEM_WEIGHT]
    differing = [d for d in range(old.dim()) if old.shape[d] != target.shape[d]]
    if len(differing) != 1 or old.shape[differing[0]] > target.shape[differing[0]]:
        raise OccusegError(f"cannot widen {STEM_WEIGHT} {tuple(old.shape)} to"
                           f" {tuple(target.shape)}")  # fmt: skip
    pad_shape = list(old.shape)
    pad_shape[differing[0]] = target.shape[differing[0]] - old.shape[differing[0]]
    zeros = torch.zeros(pad_shape, dtype=old.dtype)
    return {**weights, STEM_WEIGHT: torch.cat([old, zeros], dim=differing[0])}


def init_model_from(model: torch.nn.Module, path: str | Path, config: OccuSegConfig) -> dict:
    """Loads a checkpoint's weights into `model` (built from `config`) for fine-tuning.

    Only the weights are taken: no optimiser state, epoch or step. A run that adds input
    features after the checkpoint's (`added_input_features`, e.g. `height` to an `rgb` model)
    gets them as zero-weighted input channels of the first convolution.

    Returns:
        The checkpoint's metrics (for the log), possibly empty.

    Raises:
        OccusegError: an unreadable checkpoint, or one whose architecture or data settings
            differ from the run's otherwise (every differing setting named with both values).
    """
    checkpoint = load_checkpoint(path)
    weights = checkpoint["model"]
    differences = config_differences(checkpoint["config"], config)
    if differences and added_input_features(checkpoint["config"], config):
        weights = _widened_stem(weights, model)
    elif differences:
        shown = "; ".join(f"{key}: checkpoint {old!r}, this run {new!r}"
                          for key, old, new in differences)  # fmt: skip
        raise OccusegError(f"--init {path}: the checkpoint's model differs from this run's"
                           f" config ({shown}); fine-tune with the checkpoint's own model"
                           " settings, or add input features after its own")  # fmt: skip
    try:
        model.load_state_dict(weights)
    except (RuntimeError, ValueError) as error:
        raise OccusegError(f"--init {path}: weights do not fit the model: {error}") from None
    return checkpoint.get("metrics", {})


def average_weights(checkpoint_paths: Sequence[str | Path]) -> dict[str, Any]:
    """The last checkpoint with its floating-point weights replaced by the mean over all.

    Averaging the weights of the last checkpoints of one run (Izmailov et al. 2018, "Averaging
    Weights Leads to Wider Optima") gives a model between them, steadier than any single one
    when each epoch's model scores differently (docs/RESULTS.md, "Real rooms"). Integer buffers
    (counters) are the last checkpoint's.

    Raises:
        OccusegError: no checkpoint, or checkpoints of different models (the differing setting
            named) or with different weight names or shapes.
    """
    if not checkpoint_paths:
        raise OccusegError("no checkpoint to average")
    checkpoints = [load_checkpoint(path) for path in checkpoint_paths]
    last, last_path = checkpoints[-1], checkpoint_paths[-1]
    for path, checkpoint in zip(checkpoint_paths, checkpoints, strict=True):
        differences = config_differences(checkpoint["config"], last["config"])
        if differences:
            key, value, other = differences[0]
            raise OccusegError(f"cannot average {path} with {last_path}: {key} is {value!r} in"
                               f" one and {other!r} in the other")  # fmt: skip
        shapes = {k: tuple(v.shape) for k, v in checkpoint["model"].items()}
        if shapes != {k: tuple(v.shape) for k, v in last["model"].items()}:
            raise OccusegError(f"cannot average {path} with {last_path}: their weights differ"
                               " in names or shapes")  # fmt: skip
    averaged = dict(last["model"])
    for key, value in averaged.items():
        if value.is_floating_point():
            total = sum(c["model"][key].double() for c in checkpoints)
            averaged[key] = (total / len(checkpoints)).to(value.dtype)
    return {**last, "model": averaged}


def export_model(
    checkpoint_path: str | Path | Sequence[str | Path], out_path: str | Path
) -> dict[str, Any]:
    """Writes a deployable copy of a checkpoint: config, weights and metrics only.

    Drops the optimiser state (two thirds of a training checkpoint's size), so the file is
    what `Segmenter.from_checkpoint` needs and nothing more. Given several checkpoints (of one
    run), their weights are averaged (`average_weights`); config and metrics are the last's.

    Returns:
        The exported dict (with "config" as a plain dict).
    """
    paths = (
        [checkpoint_path] if isinstance(checkpoint_path, (str, Path)) else list(checkpoint_path)
    )
    checkpoint = average_weights(paths) if len(paths) > 1 else load_checkpoint(paths[0])
    payload = {
        "config": checkpoint["config"].to_dict(),
        "model": checkpoint["model"],
        "metrics": checkpoint.get("metrics", {}),
        "state": checkpoint.get("state", {}),
        "exported_from": ", ".join(Path(path).name for path in paths),
    }
    save_checkpoint(out_path, payload)
    return payload
