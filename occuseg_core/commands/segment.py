"""`occuseg segment`: segment scans into instances and write the results.

`--method occuseg` (default) runs the trained model; `--method euclidean` runs the geometric
baseline of `occuseg_core.clustering.euclidean` (RANSAC plane removal + Euclidean clustering,
no model, every instance of class 39 "otherfurniture") and writes the same files.

All outputs are written into a hidden staging folder first and moved into DIR only when every
input succeeded, so a bad input (missing, empty, all-NaN, unsupported, wrong checkpoint) leaves
DIR exactly as it was.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from tqdm import tqdm

from occuseg_core.errors import OccusegError

HELP = "segment PLY / PCD / NPZ / ScanNet-npy scans into instances"

SUPPORTED = (
    ".ply",
    ".pcd",
    ".npz",
    "_vert_all.npy",
    "_vert.npy",
    "a folder with one of those .npy",
)
METHODS = ("occuseg", "euclidean")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", type=Path, help="scans to segment")
    parser.add_argument(
        "--method",
        choices=METHODS,
        default="occuseg",
        help="occuseg: the trained model (default); euclidean: the geometric baseline, RANSAC"
        " plane removal + Euclidean clustering, no model and no classes",
    )
    parser.add_argument("--checkpoint", help="checkpoint (default: the bundled model)")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (occuseg)")
    parser.add_argument("--half", action="store_true", help="float16 network on CUDA")
    parser.add_argument("--min-points", type=int, default=0, help="drop smaller instances")
    parser.add_argument("--score-threshold", type=float, default=0.0, help="drop lower scores")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def check_inputs(paths: list[Path]) -> None:
    """Raises OccusegError naming the first input that is missing or of an unknown kind."""
    from occuseg_core.io.scannet import export_layout

    for path in paths:
        if not path.exists():
            raise OccusegError(f"{path}: no such file")
        if path.is_file() and not (
            path.suffix.lower() in SUPPORTED or export_layout(path) is not None
        ):
            raise OccusegError(f"{path}: unsupported format; supported: {', '.join(SUPPORTED)}")


def commit_staging(staging: Path, out: Path) -> None:
    """Moves every file of `staging` to the same relative path under `out`."""
    for root, _, files in os.walk(staging):
        target_dir = out / Path(root).relative_to(staging)
        target_dir.mkdir(parents=True, exist_ok=True)
        for file in files:
            os.replace(Path(root) / file, target_dir / file)
    shutil.rmtree(staging, ignore_errors=True)


def make_segmenter(args: argparse.Namespace):
    """The segmenter `--method` names, with the filters of --min-points / --score-threshold.

    Raises:
        OccusegError: --checkpoint or --half with `--method euclidean` (it has no network);
            or whatever loading the checkpoint reports.
    """
    if args.method == "euclidean":
        from dataclasses import replace

        from occuseg_core.clustering.euclidean import SCORE, EuclideanConfig, EuclideanSegmenter

        given = {"--checkpoint": args.checkpoint is not None, "--half": args.half}
        refused = [flag for flag, used in given.items() if used]
        if refused:
            raise OccusegError(
                f"{' and '.join(refused)} cannot be used with --method euclidean"
                " (the geometric baseline has no network)"
            )
        if args.score_threshold > SCORE:
            raise OccusegError(
                f"--score-threshold {args.score_threshold:g} would drop every instance:"
                f" --method euclidean scores every instance {SCORE:g}"
            )
        config = EuclideanConfig()
        smallest = max(config.min_cluster_points, args.min_points)
        return EuclideanSegmenter(replace(config, min_cluster_points=smallest))
    from occuseg_core.inference import Segmenter, SegmenterOptions

    options = SegmenterOptions(
        min_instance_points=args.min_points, score_threshold=args.score_threshold
    )
    return Segmenter.from_checkpoint(
        args.checkpoint, device=args.device, half=args.half, options=options
    )


def run(args: argparse.Namespace) -> int:
    from occuseg_core.io import read_scene
    from occuseg_core.result_io import file_stem, write_result

    check_inputs(args.inputs)
    segmenter = make_segmenter(args)
    parent = args.out if args.out.is_dir() else args.out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".occuseg-segment-", dir=parent))
    names: set[str] = set()
    try:
        for path in tqdm(
            args.inputs, desc="segment", disable=args.no_progress or len(args.inputs) < 2
        ):
            scene = read_scene(path)
            stem = file_stem(scene.name)
            if stem in names:
                raise OccusegError(f"{path}: a second scene named {stem!r} in the inputs")
            names.add(stem)
            result = segmenter.segment(scene)
            write_result(staging, scene, result, input_path=path)
            timing = ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in result.timings_s.items())
            tqdm.write(
                f"{scene.name}: {scene.num_points} points, {len(result.instances)} instances"
                f" ({timing})"
            )
        commit_staging(staging, args.out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"wrote {len(names)} scene(s) to {args.out}")
    return 0
