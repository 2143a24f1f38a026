"""Shared fixtures: seeded RNG, the real ScanNet scan from ../shared (skipped, saying why, when
absent), and the `gpu` marker skip."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """The project's shared folder: $OCCUSEG_SHARED_DIR, else ../shared beside the repository."""
    return Path(os.environ.get("OCCUSEG_SHARED_DIR", REPO_ROOT.parent / "shared"))


SCANNET_SCENE_DIR = shared_dir() / "data" / "scannet_scene0000_00"


@pytest.fixture(scope="session")
def _session_threads() -> int:
    """torch's thread count at the session's start."""
    import torch

    return torch.get_num_threads()


@pytest.fixture(autouse=True)
def _network_threads_fixed(_session_threads):
    """Every test runs the network on one fixed thread count, torch's at the session's start:
    results compared between two runs must not depend on this machine's load, which auto mode
    (occuseg_core/threads.py, the default outside tests) follows. Tests of auto mode switch to
    it themselves; whatever a test sets is undone after it."""
    from occuseg_core.threads import set_threads

    set_threads(_session_threads)
    yield
    set_threads(_session_threads)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def scannet_scene_dir() -> Path:
    """Folder of the real ScanNet scan scene0000_00 (CI has it; elsewhere the test skips)."""
    if not (SCANNET_SCENE_DIR / "scene0000_00_vert_all.npy").is_file():
        pytest.skip(
            f"real ScanNet scan not found at {SCANNET_SCENE_DIR} (it lives in ../shared, which"
            " CI provides; set OCCUSEG_SHARED_DIR to point elsewhere)"
        )
    return SCANNET_SCENE_DIR


@pytest.fixture(scope="session")
def scannet_rooms_dir() -> Path:
    """Folder of the 17 real ScanNet scans in the votenet layout (CI has it; elsewhere skips)."""
    root = shared_dir() / "data" / "scannet_rooms"
    if not (root / "val.txt").is_file():
        pytest.skip(
            f"real rooms not found at {root} (they live in ../shared, which CI provides; set"
            " OCCUSEG_SHARED_DIR to point elsewhere)"
        )
    return root


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if has_cuda:
        return
    skip_gpu = pytest.mark.skip(reason="needs CUDA; torch.cuda.is_available() is false here")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def random_checkpoint(tmp_path_factory) -> Path:
    """The `small` config with random weights, saved as a checkpoint."""
    from occuseg_core.testing import save_random_checkpoint

    return save_random_checkpoint(tmp_path_factory.mktemp("checkpoint") / "random.pt")
