"""Checkpoints: written atomically (temp file + rename), validated when read.

A checkpoint is a dict with `format`, `format_version`, the full config (so a model can be
rebuilt from the file alone), the model's state dict and, for training runs, the optimiser
state, epoch, step and elapsed training time.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from occuseg_core.config import OccuSegConfig, config_from_dict
from occuseg_core.errors import OccusegError

CHECKPOINT_FORMAT = "occuseg-checkpoint"
CHECKPOINT_VERSION = 1


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Writes `payload` (plus format tags) to `path`; a crash never leaves a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    data = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, **payload}
    try:
        with open(tmp, "wb") as f:
            torch.save(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


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


def export_model(checkpoint_path: str | Path, out_path: str | Path) -> dict[str, Any]:
    """Writes a deployable copy of a checkpoint: config, weights and metrics only.

    Drops the optimiser state (two thirds of a training checkpoint's size), so the file is
    what `Segmenter.from_checkpoint` needs and nothing more.

    Returns:
        The exported dict (with "config" as a plain dict).
    """
    checkpoint = load_checkpoint(checkpoint_path)
    payload = {
        "config": checkpoint["config"].to_dict(),
        "model": checkpoint["model"],
        "metrics": checkpoint.get("metrics", {}),
        "state": checkpoint.get("state", {}),
        "exported_from": str(Path(checkpoint_path).name),
    }
    save_checkpoint(out_path, payload)
    return payload
