"""`occuseg segment`: segment scans into instances and write the results.

`--method occuseg` (default) runs the trained model; `--method euclidean` runs the geometric
baseline of `occuseg_core.clustering.euclidean` (RANSAC plane removal + Euclidean clustering,
no model, every instance of class 39 "otherfurniture") and writes the same files.

Outputs are named after the input file (`room.ply` -> `room_*`; a ScanNet export by its scene,
`scene0000_00_vert.npy` -> `scene0000_00_*`), and those names are checked for clashes before
anything is segmented. Each scene's files are written into a hidden staging folder and moved into
DIR as soon as that scene is done: a bad input (missing or unsupported: found before the model
loads; empty, all-NaN: when it is read) leaves nothing of itself, the other scenes are still
segmented and kept, and the run then fails naming every bad input.

Supervoxels (`--supervoxels`): a scan with faces (a PLY mesh, or a ScanNet export with its own
`<scene>_vh_clean_2.ply` beside it) gets ScanNet-compatible mesh supervoxels, other scans
point-cloud supervoxels; one line per scene says which ran and why.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from tqdm import tqdm

from occuseg_core.commands import (
    CHECKPOINT_HELP,
    add_alignment_argument,
    add_threads_argument,
    add_views_argument,
    refuse_flags,
)
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
SUPERVOXELS = ("auto", "mesh", "points")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", type=Path, help="scans to segment")
    parser.add_argument(
        "--method",
        choices=METHODS,
        default="occuseg",
        help="occuseg: the trained model (default); euclidean: the geometric baseline, RANSAC"
        " plane removal + Euclidean clustering, no model and no classes",
    )
    parser.add_argument("--checkpoint", help=CHECKPOINT_HELP)
    add_threads_argument(parser)
    add_views_argument(parser)
    add_alignment_argument(parser)
    parser.add_argument(
        "--supervoxels",
        choices=SUPERVOXELS,
        help="auto (default): mesh supervoxels for scans with faces (a PLY mesh, or a ScanNet"
        " export's <scene>_vh_clean_2.ply beside it), else point-cloud ones; mesh: require"
        " faces; points: point-cloud supervoxels even for meshes (as `occuseg bag` and the"
        " ROS nodes, whose clouds have no faces)",
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="output folder; files are named after the inputs"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (occuseg)")
    parser.add_argument("--half", action="store_true", help="float16 network on CUDA")
    parser.add_argument("--min-points", type=int, default=0, help="drop smaller instances")
    parser.add_argument("--score-threshold", type=float, default=0.0, help="drop lower scores")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_tiling_arguments(parser)


def add_tiling_arguments(parser: argparse.ArgumentParser) -> None:
    """--tile-m, --tile-overlap-m and --no-tiling (segment, bench)."""
    from occuseg_core.tiling import TilingOptions

    defaults = TilingOptions()
    parser.add_argument(
        "--tile-m",
        type=float,
        metavar="M",
        help="segment every scan longer than M metres tile by tile and stitch the instances"
        f" (bounded memory for floors and buildings); default: only scans of more than"
        f" {defaults.auto_points:,} points, with {defaults.tile_m:g} m tiles",
    )
    parser.add_argument(
        "--tile-overlap-m",
        type=float,
        default=defaults.overlap_m,
        metavar="M",
        help="band around each tile that it also segments, so objects cut by a border are"
        " seen whole",
    )
    parser.add_argument("--no-tiling", action="store_true", help="segment every scan whole")


def tiling_options(args: argparse.Namespace):
    """The TilingOptions of --tile-m / --tile-overlap-m / --no-tiling.

    Raises:
        OccusegError: --tile-m with --no-tiling, or a bad size.
    """
    from occuseg_core.tiling import TilingOptions

    if args.no_tiling and args.tile_m is not None:
        raise OccusegError("--tile-m and --no-tiling contradict each other: give one")
    try:
        if args.no_tiling:
            return TilingOptions(mode="never", overlap_m=args.tile_overlap_m)
        if args.tile_m is None:
            return TilingOptions(overlap_m=args.tile_overlap_m)
        return TilingOptions(mode="always", tile_m=args.tile_m, overlap_m=args.tile_overlap_m)
    except ValueError as error:
        raise OccusegError(f"tiling: {error}") from None


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
        from occuseg_core.tiling import TilingOptions

        refuse_flags(
            {"--checkpoint": args.checkpoint is not None, "--half": args.half,
             "--supervoxels": args.supervoxels is not None, "--tile-m": args.tile_m is not None,
             "--views": args.views != 1, "--no-tiling": args.no_tiling,
             "--no-align-walls": not args.align_walls,
             "--tile-overlap-m": args.tile_overlap_m != TilingOptions().overlap_m},
            "--method euclidean (the geometric baseline has no network, no supervoxels and no"
            " tiles)",
        )  # fmt: skip
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
        min_instance_points=args.min_points,
        score_threshold=args.score_threshold,
        use_mesh=args.supervoxels != "points",
        tiling=tiling_options(args),
        views=args.views,
        align_walls=args.align_walls,
    )
    return Segmenter.from_checkpoint(
        args.checkpoint, device=args.device, half=args.half, options=options
    )


def output_name(path: Path) -> str:
    """The name of a scan's output files: the input file's name without its suffix, or the
    scene of a ScanNet export (`scene0000_00` for `scene0000_00_vert.npy` or its folder).

    Raises:
        OccusegError: a folder without exactly one export vertex file.
    """
    from occuseg_core.io.scannet import export_layout, export_scene_name, find_scannet_export
    from occuseg_core.result_io import file_stem

    if path.is_dir():
        path = find_scannet_export(path)
    if export_layout(path) is not None:
        return file_stem(export_scene_name(path))
    return file_stem(path.stem)


def output_names(paths: list[Path]) -> list[str]:
    """`output_name` of every input, checked to be distinct (before anything is segmented).

    Raises:
        OccusegError: two inputs would write files of the same name.
    """
    names: dict[str, Path] = {}
    for path in paths:
        name = output_name(path)
        if name in names:
            raise OccusegError(
                f"{names[name]} and {path} would both write {name}_* (outputs are named after"
                " the input file): segment them into different --out folders"
            )
        names[name] = path
    return list(names)


def read_scan(path: Path, supervoxels: str | None):
    """Reads a scan, with the sentence saying which supervoxels will run on it and why.

    Args:
        path: a scan `check_inputs` accepted.
        supervoxels: the --supervoxels choice (None = auto).

    Returns:
        (the scene, e.g. "mesh supervoxels: the faces of scene0000_00_vh_clean_2.ply beside
        the export").

    Raises:
        OccusegError: what the reader reports; `mesh` for a scan without faces.
    """
    from occuseg_core.io import read_scene
    from occuseg_core.io.scannet import (
        export_layout,
        find_export_mesh,
        find_scannet_export,
        read_scannet_export,
    )

    if path.is_dir() or export_layout(path) is not None:
        vertices = find_scannet_export(path)
        scene = read_scannet_export(vertices, with_mesh_faces=False)
        mesh = None if supervoxels == "points" else find_export_mesh(vertices, scene.num_points)
        scene = scene if mesh is None else scene.replace(faces=mesh[1])
        where = f"the faces of {mesh[0].name} beside the export" if mesh else ""
        lacking = f"no {scene.name}_vh_clean_2.ply with its {scene.num_points} vertices beside it"
    else:
        scene = read_scene(path)
        where, lacking = "the scan's faces", "the scan has no faces"
    has_faces = scene.faces is not None and len(scene.faces) > 0
    if supervoxels == "mesh" and not has_faces:
        raise OccusegError(f"{path}: --supervoxels mesh needs faces; {lacking}")
    if supervoxels == "points":
        return scene, "point-cloud supervoxels (--supervoxels points)"
    if has_faces:
        return scene, f"mesh supervoxels: {where} (--supervoxels points to ignore them)"
    return scene, f"point-cloud supervoxels: {lacking}"


def segment_one(args: argparse.Namespace, segmenter, path: Path, name: str) -> None:
    """Segments one scan and moves its files into --out (nothing of it when it fails)."""
    from occuseg_core.result_io import write_result

    scene, supervoxels = read_scan(path, args.supervoxels)
    result = segmenter.segment(scene)
    parent = args.out if args.out.is_dir() else args.out.parent
    staging = Path(tempfile.mkdtemp(prefix=".occuseg-segment-", dir=parent))
    try:
        write_result(staging, scene, result, input_path=path, name=name)
        commit_staging(staging, args.out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    timing = ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in result.timings_s.items())
    tqdm.write(
        f"{path} -> {args.out / name}_*: scene {scene.name!r}, {scene.num_points} points,"
        f" {len(result.instances)} instances ({timing})"
    )
    if args.method == "occuseg":
        tqdm.write(f"  {supervoxels}")
    if "stitching" in result.timings_s:
        tiling = segmenter.options.tiling
        tqdm.write(f"  segmented in tiles of at most {tiling.tile_m:g} m with a"
                   f" {tiling.overlap_m:g} m band, then stitched"
                   " (--no-tiling: whole)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    check_inputs(args.inputs)
    names = output_names(args.inputs)
    segmenter = make_segmenter(args)
    if args.method == "occuseg":  # the first scan's timings are then a steady call's
        from occuseg_core.warmup import warm_up

        warm_up(segmenter)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    failed: list[str] = []
    progress = tqdm(
        list(zip(args.inputs, names, strict=True)),
        desc="segment",
        disable=args.no_progress or len(args.inputs) < 2,
    )
    for path, name in progress:
        try:
            segment_one(args, segmenter, path, name)
        except (OccusegError, ValueError, OSError) as error:
            reason = " ".join(str(error).split())
            failed.append(reason if str(path) in reason else f"{path}: {reason}")
    done = len(names) - len(failed)
    if failed:
        kept = f" ({done} of {len(names)} scans written to {args.out})" if len(names) > 1 else ""
        raise OccusegError("; ".join(failed) + kept)
    print(f"wrote {done} scene(s) to {args.out}")
    return 0
