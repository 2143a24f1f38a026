"""`occuseg prepare`: converts a ScanNet v2, S3DIS or SceneNN release into an NPZ dataset folder
(see docs/DATASETS.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from occuseg_core.errors import OccusegError

HELP = "convert a ScanNet v2, S3DIS or SceneNN release into a dataset folder for training"
_DATASETS = ("scannet", "s3dis", "scenenn")  # occuseg_core.data.readers.PREPARABLE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=_DATASETS, help="which release")
    parser.add_argument(
        "--data-root",
        required=True,
        type=Path,
        metavar="RAW",
        help="the release folder (ScanNet: holds scans/; S3DIS: "
        "Stanford3dDataset_v1.2_Aligned_Version; SceneNN: holds <id>/<id>.ply)",
    )
    parser.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="dataset folder to create"
    )
    parser.add_argument(
        "--splits",
        nargs="+",
        metavar="SPLIT",
        help="splits to write (default: scannet train val; s3dis area5-train "
        "area5-val; scenenn train val). S3DIS: area<k>-train/-val, "
        "fold<k>-train/-val (k = 1..6), all; ScanNet: train, val, test, all",
    )
    parser.add_argument(
        "--split-file",
        action="append",
        default=[],
        metavar="SPLIT=PATH",
        help="ScanNet/SceneNN: scene list for SPLIT (default: "
        "RAW/scannetv2_<split>.txt, SceneNN RAW/<split>.txt); repeatable",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace DIR if it is not empty (only once the new one is complete)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_split_files(values: list[str]) -> dict[str, Path]:
    """`SPLIT=PATH` strings -> {split: path}.

    Raises:
        OccusegError: a value without "=", an empty side, or a split given twice.
    """
    out: dict[str, Path] = {}
    for value in values:
        split, sep, path = value.partition("=")
        if not sep or not split or not path:
            raise OccusegError(f"--split-file wants SPLIT=PATH; got {value!r}")
        if split in out:
            raise OccusegError(f"--split-file: split {split!r} given twice")
        out[split] = Path(path)
    return out


def run(args: argparse.Namespace) -> int:
    from occuseg_core.data.dataset import read_index
    from occuseg_core.data.readers import prepare_dataset

    out = prepare_dataset(
        args.dataset,
        args.data_root,
        args.out,
        splits=args.splits,
        split_files=parse_split_files(args.split_file),
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    splits = read_index(out)["splits"]
    summary = ", ".join(f"{len(names)} {split}" for split, names in splits.items())
    print(f"wrote {args.dataset} to {out} ({summary})")
    return 0
