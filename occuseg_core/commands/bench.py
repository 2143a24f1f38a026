"""`occuseg bench`: per-stage wall times and peak memory of the Segmenter (paper Table 5).

For every scene: one warm-up run (numba compilation, allocator warm-up), then `--repeat` timed
runs; the table shows the median per stage. With `--busy-cores N` the same runs are repeated
beside N processes that keep one core busy each (a robot's SLAM, planners and drivers), and each
stage's busy / idle ratio is reported. Also timed on their own: the mesh supervoxels of
scenes that have faces (ScanNet-compatible segmentator) and the greedy merging on a random
1,000-supervoxel / 5,000-edge graph (the issue's clustering target).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

from occuseg_core.commands import (
    CHECKPOINT_HELP,
    add_threads_argument,
    add_views_argument,
    refuse_flags,
)
from occuseg_core.commands.segment import add_tiling_arguments, tiling_options
from occuseg_core.errors import OccusegError

HELP = "time every stage of the pipeline on given scans (median over repeats), JSON + table"
STAGES = ("voxelize", "network", "supervoxels", "clustering", "total")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenes", nargs="*", type=Path, help="scans (PLY/PCD/NPZ/ScanNet npy)")
    parser.add_argument("--dataset", type=Path, help="dataset root: bench every scene of --split")
    parser.add_argument("--split", default="val", help="split of --dataset (default val)")
    parser.add_argument("--max-scenes", type=int, help="bench at most this many dataset scenes")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per scene (median)")
    parser.add_argument("--checkpoint", help=CHECKPOINT_HELP)
    add_threads_argument(parser)
    add_views_argument(parser)
    parser.add_argument(
        "--random-init",
        action="store_true",
        help="use an untrained small model (no checkpoint needed)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument(
        "--busy-cores",
        type=int,
        default=0,
        metavar="N",
        help="also time every scene beside N busy CPU burners and report busy / idle ratios",
    )
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument(
        "--floors",
        metavar="N,N,...",
        help="instead of scans: synthetic floors of N rooms side by side (e.g. 1,4,16), each"
        " segmented whole and tiled in a fresh process: stage times, peak memory, AP",
    )
    add_tiling_arguments(parser)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _segmenter(args: argparse.Namespace):
    from occuseg_core.device import resolve_device
    from occuseg_core.inference import Segmenter, SegmenterOptions
    from occuseg_core.testing import random_model

    options = SegmenterOptions(tiling=tiling_options(args), views=args.views)
    if args.random_init:
        model, config = random_model("small", seed=0)
        return Segmenter(model=model, config=config, device=resolve_device(args.device),
                         options=options)  # fmt: skip
    return Segmenter.from_checkpoint(args.checkpoint, device=args.device, options=options)


def _scenes(args: argparse.Namespace):
    from occuseg_core.io import read_scene

    if args.dataset is not None:
        from occuseg_core.data.dataset import SceneDataset

        dataset = SceneDataset(args.dataset, args.split)
        count = min(len(dataset), args.max_scenes or len(dataset))
        return [dataset[i] for i in range(count)]
    if not args.scenes:
        raise OccusegError("give scene files or --dataset DIR")
    return [read_scene(path) for path in args.scenes]


def bench_scene(segmenter, scene, repeat: int) -> dict:
    """Median stage times (s) of `repeat` runs after a warm-up, and what was found."""
    from occuseg_core.supervoxel import segment_mesh
    from occuseg_core.threads import last_network_threads

    result = segmenter.segment(scene)  # warm-up
    runs, threads = [], []
    for _ in range(repeat):
        runs.append(segmenter.segment(scene).timings_s)
        threads.append(last_network_threads() if segmenter.device.type == "cpu" else None)
    row = {"scene": scene.name, "points": scene.num_points, "instances": len(result.instances),
           "network_threads": threads}  # fmt: skip
    row.update({f"{stage}_s": statistics.median(r[stage] for r in runs) for stage in STAGES})
    if scene.faces is not None and len(scene.faces):
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            segment_mesh(scene.xyz, scene.faces, segmenter.options.mesh_supervoxels)
            times.append(time.perf_counter() - start)
        row["mesh_supervoxels_s"] = statistics.median(times)
    row["peak_rss_mb"] = peak_rss_mb()
    if segmenter.device.type == "cuda":
        row["peak_cuda_mb"] = torch.cuda.max_memory_allocated(segmenter.device) / 2**20
    return row


def format_table(rows: list[dict]) -> str:
    """The rows as a markdown table; stage times in milliseconds (the JSON keeps seconds)."""
    columns = ["scene", "points", "instances", *(f"{s}_s" for s in STAGES), "peak_rss_mb",
               "network_threads"]  # fmt: skip
    header = [f"{c[:-2]} ms" if c.endswith("_s") else c for c in columns]
    lines = [" | ".join(header), " | ".join("---" for _ in columns)]
    for row in rows:
        cells = [
            f"{row[c] * 1e3:.0f}"
            if c.endswith("_s")
            else (f"{row[c]:.0f}" if isinstance(row[c], float) else _cell(row.get(c)))
            for c in columns
        ]
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, list):  # the thread count of each timed run
        return ",".join("-" if v is None else str(v) for v in value)
    return str(value)


def _means(rows: list[dict]) -> dict[str, float]:
    return {f"mean_{s}_s": statistics.fmean(r[f"{s}_s"] for r in rows) for s in STAGES}


def _busy(segmenter, scenes, args: argparse.Namespace, idle: dict[str, float]) -> dict:
    """The same runs beside `--busy-cores` burners, with each stage's mean busy / idle."""
    from occuseg_core.busy_cores import BusyCores

    with BusyCores(args.busy_cores):
        rows = [bench_scene(segmenter, scene, args.repeat) for scene in scenes]
    mean = _means(rows)
    ratio = {s: mean[f"mean_{s}_s"] / max(idle[f"mean_{s}_s"], 1e-9) for s in STAGES}
    print(f"\nbeside {args.busy_cores} busy core(s):\n{format_table(rows)}")
    print("busy / idle: " + ", ".join(f"{s} {ratio[s]:.2f}x" for s in STAGES))
    return {"cores": args.busy_cores, "scenes": rows, **mean, "ratio": ratio}


def _floors(args: argparse.Namespace) -> int:
    from occuseg_core.tiling_benchmark import run_floors

    try:
        rooms = [int(n) for n in args.floors.split(",")]
    except ValueError:
        raise OccusegError(f"--floors takes room counts like 1,4,16; got {args.floors!r}") \
            from None  # fmt: skip
    if not rooms or min(rooms) < 1:
        raise OccusegError(f"--floors: room counts must be >= 1; got {args.floors!r}")
    refuse_flags(
        {"scans": bool(args.scenes), "--dataset": args.dataset is not None,
         "--checkpoint": args.checkpoint is not None, "--busy-cores": args.busy_cores > 0,
         "--no-tiling": args.no_tiling, "--random-init": args.random_init,
         "--views": args.views != 1, "--device": args.device not in ("auto", "cpu"),
         "--threads": args.threads is not None, "--repeat": args.repeat != 3,
         "--max-scenes": args.max_scenes is not None, "--split": args.split != "val"},
        "--floors (it runs the default model once per floor on the CPU, each run in a fresh"
        " process)",
    )  # fmt: skip
    tiling = tiling_options(args)
    run_floors(sorted(set(rooms)), tile_m=args.tile_m or tiling.tile_m,
               overlap_m=tiling.overlap_m, json_path=args.json)  # fmt: skip
    if args.json:
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    from occuseg_core.clustering.benchmark import benchmark_merge
    from occuseg_core.threads import thread_settings

    if args.repeat < 1:
        raise OccusegError("--repeat must be >= 1")
    if args.busy_cores < 0:
        raise OccusegError("--busy-cores must be >= 0")
    if args.floors:
        return _floors(args)
    segmenter = _segmenter(args)
    scenes = _scenes(args)
    rows = [bench_scene(segmenter, scene, args.repeat) for scene in scenes]
    mean = _means(rows)
    merge = benchmark_merge(1000, 5000, repeats=20)
    report = {
        "device": str(segmenter.device),
        **thread_settings(),
        "repeat": args.repeat,
        "scenes": rows,
        **mean,
        "clustering_1000_supervoxels_5000_edges_ms": merge["median_ms"],
    }
    print(format_table(rows))
    print("mean per scan: " + ", ".join(f"{s} {mean[f'mean_{s}_s'] * 1e3:.0f} ms" for s in STAGES))
    if args.busy_cores:
        report["busy"] = _busy(segmenter, scenes, args, mean)
    print(
        f"greedy merging, 1000 supervoxels / {int(merge['num_edges'])} edges:"
        f" {merge['median_ms']:.2f} ms (median)"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
