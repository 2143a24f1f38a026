"""`occuseg bench`: per-stage wall times and peak memory of the Segmenter (paper Table 5).

For every scene: one warm-up run (numba compilation, allocator warm-up), then `--repeat` timed
runs; the table shows the median per stage. Also timed on their own: the mesh supervoxels of
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

from occuseg_core.commands import CHECKPOINT_HELP
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
    parser.add_argument(
        "--random-init",
        action="store_true",
        help="use an untrained small model (no checkpoint needed)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _segmenter(args: argparse.Namespace):
    from occuseg_core.device import resolve_device
    from occuseg_core.inference import Segmenter
    from occuseg_core.testing import random_model

    if args.random_init:
        model, config = random_model("small", seed=0)
        return Segmenter(model=model, config=config, device=resolve_device(args.device))
    return Segmenter.from_checkpoint(args.checkpoint, device=args.device)


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

    result = segmenter.segment(scene)  # warm-up
    runs = [segmenter.segment(scene).timings_s for _ in range(repeat)]
    row = {"scene": scene.name, "points": scene.num_points, "instances": len(result.instances)}
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
    columns = ["scene", "points", "instances", *(f"{s}_s" for s in STAGES), "peak_rss_mb"]
    header = [f"{c[:-2]} ms" if c.endswith("_s") else c for c in columns]
    lines = [" | ".join(header), " | ".join("---" for _ in columns)]
    for row in rows:
        cells = [
            f"{row[c] * 1e3:.0f}"
            if c.endswith("_s")
            else (f"{row[c]:.0f}" if isinstance(row[c], float) else str(row[c]))
            for c in columns
        ]
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from occuseg_core.clustering.benchmark import benchmark_merge

    if args.repeat < 1:
        raise OccusegError("--repeat must be >= 1")
    segmenter = _segmenter(args)
    scenes = _scenes(args)
    rows = [bench_scene(segmenter, scene, args.repeat) for scene in scenes]
    mean = {f"mean_{s}_s": statistics.fmean(r[f"{s}_s"] for r in rows) for s in STAGES}
    merge = benchmark_merge(1000, 5000, repeats=20)
    report = {
        "device": str(segmenter.device),
        "threads": torch.get_num_threads(),
        "repeat": args.repeat,
        "scenes": rows,
        **mean,
        "clustering_1000_supervoxels_5000_edges_ms": merge["median_ms"],
    }
    print(format_table(rows))
    print("mean per scan: " + ", ".join(f"{s} {mean[f'mean_{s}_s'] * 1e3:.0f} ms" for s in STAGES))
    print(
        f"greedy merging, 1000 supervoxels / {int(merge['num_edges'])} edges:"
        f" {merge['median_ms']:.2f} ms (median)"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
