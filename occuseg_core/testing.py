"""Helpers shared by the tests of occuseg and of code built on it (no pytest dependency)."""

from __future__ import annotations

from pathlib import Path

import torch

from occuseg_core.config import OccuSegConfig, load_config
from occuseg_core.engine.checkpoint import save_checkpoint
from occuseg_core.model import OccuSegNet


def random_model(config_name: str = "small", seed: int = 0) -> tuple[OccuSegNet, OccuSegConfig]:
    """A named config's network with random weights drawn from `seed` (torch's global random
    state is left as it was), and the config."""
    config = load_config(config_name)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    model = OccuSegNet.from_config(config.model)
    torch.random.set_rng_state(generator_state)
    return model, config


def save_random_checkpoint(path: str | Path, config_name: str = "small", seed: int = 0) -> Path:
    """Writes a checkpoint of a named config with random (seeded) weights: an untrained model
    that every entry point must still handle (valid, if poor, results)."""
    model, config = random_model(config_name, seed)
    save_checkpoint(path, {"config": config.to_dict(), "model": model.state_dict()})
    return Path(path)
