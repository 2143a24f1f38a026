"""Datasets on disk: a folder of NPZ scenes per split plus an index, `dataset.json`.

Layout (see docs/DATASET.md):
    DIR/dataset.json          format, version, class table, splits, generator settings
    DIR/train/<scene>.npz     scenes written by `occuseg_core.io.npz.write_npz`
    DIR/val/<scene>.npz

`write_synthetic_dataset` fills a new folder with generated scenes, atomically (temp folder next
to the target, renamed at the end). `SceneDataset` reads one split of any folder laid out this
way, synthetic or prepared from ScanNet; `write_dataset_index` indexes such a prepared folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from occuseg_core.classes import ClassTable, class_table
from occuseg_core.data.scene_reader import SceneReader
from occuseg_core.data.synthetic import (
    DEFAULT_CONFIG,
    GENERATOR_NAME,
    GENERATOR_VERSION,
    SynthConfig,
    generate_scene,
)
from occuseg_core.errors import OccusegError
from occuseg_core.io._files import read_json
from occuseg_core.io.npz import read_npz, write_npz
from occuseg_core.types import Scene

FORMAT_NAME = "occuseg-dataset"
FORMAT_VERSION = 1
INDEX_NAME = "dataset.json"
SPLITS = ("train", "val")


def split_counts(num_scenes: int, val_fraction: float) -> tuple[int, int]:
    """(train, val) sizes: val = round(n * f), at least 1 and at most n - 1 when f > 0, n >= 2.

    Args:
        num_scenes: n, the number of scenes (>= 1).
        val_fraction: f, the share of scenes in val, in [0, 1).

    Returns:
        (number of train scenes, number of val scenes), summing to n.

    Raises:
        OccusegError: num_scenes < 1 or val_fraction outside [0, 1).
    """
    if isinstance(num_scenes, bool) or not isinstance(num_scenes, int | np.integer):
        raise OccusegError(f"number of scenes must be an integer; got {num_scenes!r}")
    if num_scenes < 1:
        raise OccusegError(f"number of scenes must be >= 1; got {num_scenes}")
    if not 0.0 <= val_fraction < 1.0:
        raise OccusegError(f"val fraction must be in [0, 1); got {val_fraction}")
    val = round(num_scenes * val_fraction)
    if val_fraction > 0 and num_scenes >= 2:
        val = min(max(val, 1), num_scenes - 1)
    val = min(val, num_scenes - 1)
    return num_scenes - val, val


def check_target(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise OccusegError(f"{out_dir}: exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise OccusegError(
            f"{out_dir}: directory is not empty; choose another one or overwrite it"
            " (--overwrite / overwrite=True)"
        )


def staging_dir(out_dir: Path) -> Path:
    """A fresh hidden folder beside `out_dir` to write a dataset into, with the permissions the
    umask gives new folders (mkdtemp alone makes it owner-only, but a dataset is for sharing)."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    umask = os.umask(0o022)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    return tmp


def move_into_place(tmp: Path, out_dir: Path) -> None:
    """Renames the finished temp folder to `out_dir`, replacing an existing one last."""
    if not out_dir.exists():
        tmp.rename(out_dir)
        return
    trash = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    out_dir.rename(trash / out_dir.name)
    tmp.rename(out_dir)
    shutil.rmtree(trash, ignore_errors=True)


def write_synthetic_dataset(
    out_dir: str | Path, num_scenes: int, seed: int, val_fraction: float = 0.2,
    config: SynthConfig = DEFAULT_CONFIG, progress: bool = True, overwrite: bool = False,
) -> Path:  # fmt: skip
    """Generates `num_scenes` synthetic scenes into DIR/{train,val} with DIR/dataset.json.

    Scene i is named synth_<i:05d> and generated from its own seed (drawn from `seed` with
    `np.random.SeedSequence`, stored in the index); the val scenes are a seeded random subset.

    Args:
        out_dir: target folder; must not exist or be empty unless `overwrite`.
        num_scenes: number of scenes (>= 1).
        seed: non-negative dataset seed.
        val_fraction: share of scenes in val, in [0, 1) (see `split_counts`).
        config: generator settings (stored in the index).
        progress: show a tqdm progress bar on stderr.
        overwrite: replace a non-empty `out_dir` (only once the new dataset is complete).

    Returns:
        The dataset folder.

    Raises:
        OccusegError: bad counts, fractions or seed; target not empty (without overwrite) or
            not a directory.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise OccusegError(f"seed must be a non-negative integer; got {seed!r}")
    num_train, num_val = split_counts(num_scenes, val_fraction)
    out_dir = Path(out_dir)
    check_target(out_dir, overwrite)
    index = synthetic_index(num_scenes, num_val, int(seed), config)
    tmp = staging_dir(out_dir)
    try:
        _write_scenes(tmp, index, config, progress)
        move_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def synthetic_index(num_scenes: int, num_val: int, seed: int, config: SynthConfig) -> dict:
    """The dataset.json contents of a synthetic dataset: names, splits and per-scene seeds.

    Scene i is synth_<i:05d>; its seed is word i of `SeedSequence(seed).generate_state`; the
    first `num_val` indices of `default_rng(seed).permutation` form the val split.
    """
    names = [f"synth_{i:05d}" for i in range(num_scenes)]
    scene_seeds = np.random.SeedSequence(seed).generate_state(num_scenes, dtype=np.uint32)
    val_set = set(np.random.default_rng(seed).permutation(num_scenes)[:num_val].tolist())
    split_of = ["val" if i in val_set else "train" for i in range(num_scenes)]
    return {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "class_table": "scannet20",
        "label_space": "nyu40", "seed": seed,
        "generator": {"name": GENERATOR_NAME, "version": GENERATOR_VERSION,
                      "config": config.to_dict()},
        "splits": {s: [n for n, t in zip(names, split_of, strict=True) if t == s]
                   for s in SPLITS},
        "scene_seeds": {n: int(v) for n, v in zip(names, scene_seeds, strict=True)},
    }  # fmt: skip


def _write_scenes(folder: Path, index: dict, config: SynthConfig, progress: bool) -> None:
    """Generates the indexed scenes into folder/<split>/ and writes folder/dataset.json last."""
    jobs = [(split, name) for split, names in index["splits"].items() for name in names]
    jobs.sort(key=lambda job: job[1])
    for split in SPLITS:
        (folder / split).mkdir()
    for split, name in tqdm(jobs, desc="synth", unit="scene", disable=not progress):
        scene = generate_scene(index["scene_seeds"][name], config, name=name)
        write_npz(scene, folder / split / f"{name}.npz")
    (folder / INDEX_NAME).write_text(json.dumps(index, indent=1) + "\n")


def write_dataset_index(
    root: str | Path,
    class_table_name: str = "scannet20",
    label_space: str = "nyu40",
    source: dict | None = None,
) -> Path:
    """Writes DIR/dataset.json for a folder of NPZ scenes prepared by other means (ScanNet).

    Every subfolder holding .npz files becomes a split listing its scenes in name order.

    Args:
        root: the dataset folder, holding e.g. train/ and val/ with .npz scenes.
        class_table_name: the `occuseg_core.classes` table the labels are meant for.
        label_space: what the `semantic` ids are ("nyu40" for ScanNet).
        source: optional description of where the scenes came from, stored as "source".

    Returns:
        The path of the index.

    Raises:
        OccusegError: no such folder, no split folder with scenes, unknown class table.
    """
    root = Path(root)
    if not root.is_dir():
        raise OccusegError(f"{root}: dataset directory not found")
    try:
        class_table(class_table_name)
    except ValueError as error:
        raise OccusegError(str(error)) from None
    splits = {
        d.name: sorted(p.stem for p in d.glob("*.npz"))
        for d in sorted(root.iterdir()) if d.is_dir() and any(d.glob("*.npz"))
    }  # fmt: skip
    if not splits:
        raise OccusegError(f"{root}: no split folder with .npz scenes (expected e.g. train/)")
    index = {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION,
        "class_table": class_table_name, "label_space": label_space, "splits": splits,
    }  # fmt: skip
    if source is not None:
        index["source"] = source
    path = root / INDEX_NAME
    path.write_text(json.dumps(index, indent=1) + "\n")
    return path


def read_index(root: Path) -> dict:
    """Reads and checks DIR/dataset.json.

    Args:
        root: the dataset folder.

    Returns:
        The index as a dict (see docs/DATASET.md for the keys).

    Raises:
        OccusegError: missing, unreadable or invalid index (named).
    """
    path = root / INDEX_NAME
    if not path.is_file():
        raise OccusegError(
            f"{path}: dataset index not found; make a dataset with `occuseg synth` or index a"
            " folder of NPZ scenes with occuseg_core.data.dataset.write_dataset_index"
        )
    info = read_json(path, "not a readable JSON dataset index")
    if not isinstance(info, dict) or info.get("format") != FORMAT_NAME:
        raise OccusegError(f'{path}: not an {FORMAT_NAME} index (missing "format")')
    version = info.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise OccusegError(f"{path}: unsupported format_version {version!r} (this reader: "
                           f"1..{FORMAT_VERSION})")  # fmt: skip
    try:
        class_table(info.get("class_table", ""))
    except ValueError as error:
        raise OccusegError(f"{path}: {error}") from None
    splits = info.get("splits", {})
    if not isinstance(splits, dict) or not all(
        isinstance(v, list) and all(isinstance(n, str) and _safe_name(n) for n in v)
        for v in splits.values()
    ):
        raise OccusegError(f'{path}: "splits" must map split names to lists of scene names')
    return info


def _safe_name(name: str) -> bool:
    """A scene name that stays inside its split folder."""
    return bool(name) and Path(name).name == name and not name.startswith(".")


class SceneDataset(SceneReader):
    """One split of a dataset folder: `scene_names`, `class_table` (from the index), `len`,
    indexing and iteration give `Scene`s (a `SceneReader`).

    Args:
        root: the dataset folder (with dataset.json).
        split: split folder name, e.g. "train" or "val".

    Raises:
        OccusegError: missing folder, index or split folder; split empty or not listed; a
            listed scene file missing.
    """

    def __init__(self, root: str | Path, split: str = "train") -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise OccusegError(f"{self.root}: dataset directory not found")
        self.info = read_index(self.root)
        self.split = split
        split_dir = self.root / split
        listed = self.info.get("splits")
        if not _safe_name(split) or not split_dir.is_dir():
            known = sorted(listed) if listed else [d.name for d in self.root.iterdir() if
                                                    d.is_dir()]  # fmt: skip
            raise OccusegError(f"{split_dir}: split folder {split!r} not found (splits: {known})")
        if listed is not None and split not in listed:
            raise OccusegError(f"{self.root / INDEX_NAME}: split {split!r} is not listed "
                               f"(listed: {sorted(listed)})")  # fmt: skip
        names = listed[split] if listed is not None else sorted(
            p.stem for p in split_dir.glob("*.npz"))  # fmt: skip
        if not names:
            raise OccusegError(f"{split_dir}: split {split!r} is empty (no scenes)")
        paths = tuple(split_dir / f"{name}.npz" for name in names)
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise OccusegError(f"{missing[0]}: scene file missing ({len(missing)} of "
                               f"{len(paths)} listed scenes are missing)")  # fmt: skip
        self.scene_names: tuple[str, ...] = tuple(names)
        self.paths: tuple[Path, ...] = paths

    @property
    def class_table(self) -> ClassTable:
        """The class table named in the index (e.g. SCANNET20)."""
        return class_table(self.info["class_table"])

    def _read(self, index: int) -> Scene:
        return read_npz(self.paths[index])
