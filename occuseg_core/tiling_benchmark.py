"""Tiled against whole segmentation on synthetic floors of 1, 4 and 16 rooms (issue 16).

`occuseg bench --floors 1,4,16 [--tile-m M] [--json F]` lays the rooms of seeds base..base+n-1
side by side (`generate_floor`), then segments each floor whole and tiled, each run in a fresh
process so that its peak resident memory is its own. A run loads the model, pays the first
scan's costs on a small room (`warm_up`), segments the floor once with its stages run one by
one, and records each stage's time and the process's peak memory at the end of each stage
(summed / maximal over tiles); then it scores ScanNet AP on the floor's labels.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGES = ("voxelize", "network", "supervoxels", "clustering", "assemble")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class StagedSegmenter:
    """`Segmenter.segment_whole` with its stages run one by one, timed and followed by a
    reading of the process's peak memory (accumulated over the calls, e.g. tiles)."""

    def __init__(self, segmenter) -> None:
        self.segmenter = segmenter
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self.peak_mb = dict.fromkeys(STAGES, 0.0)
        self.calls = 0  # scans segmented: the tiles of a tiled run

    def _lap(self, stage: str, tick: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] += now - tick
        self.peak_mb[stage] = max(self.peak_mb[stage], _peak_mb())
        return now

    def __call__(self, scene):
        from occuseg_core.data.voxelize import voxelize

        self.calls += 1
        s, tick = self.segmenter, time.perf_counter()
        grid = voxelize(scene, s.voxel_size_m)
        tick = self._lap("voxelize", tick)
        predictions = s.predict_voxels(grid)
        tick = self._lap("network", tick)
        supervoxel, edges = s.supervoxels(scene, grid)
        tick = self._lap("supervoxels", tick)
        instances = s.cluster(grid, predictions, supervoxel, edges)
        tick = self._lap("clustering", tick)
        result = s.assemble_result(scene, grid, predictions, instances, {})
        self._lap("assemble", tick)
        return result


def run_once(floor_path: Path, mode: str, tile_m: float, overlap_m: float) -> dict:
    """One floor, whole or tiled, in this process (see the module doc)."""
    from occuseg_core.eval import ScenePredictions, encode_ground_truth, evaluate_scannet
    from occuseg_core.inference import Segmenter
    from occuseg_core.io import read_scene
    from occuseg_core.tiling import TilingOptions, segment_tiled
    from occuseg_core.warmup import warm_up

    segmenter = Segmenter.from_checkpoint(device="cpu")
    warm_up(segmenter)
    floor = read_scene(floor_path)
    loaded_mb = _peak_mb()
    staged = StagedSegmenter(segmenter)
    start = time.perf_counter()
    if mode == "tiled":
        options = TilingOptions(mode="always", tile_m=tile_m, overlap_m=overlap_m)
        result = segment_tiled(floor, staged, options)
    else:
        result = staged(floor)
    total_s = time.perf_counter() - start
    peak_mb = _peak_mb()
    prediction = ScenePredictions.from_instance_ids(
        result.instance_ids, result.instance_class_ids(), result.instance_scores()
    )
    truth = encode_ground_truth(floor.semantic, floor.instance)
    scores = evaluate_scannet({floor.name: prediction}, {floor.name: truth})
    return {
        "floor": floor.name, "mode": mode, "points": floor.num_points, "tiles": staged.calls,
        "instances": len(result.instances), "total_s": total_s,
        "stitching_s": result.timings_s.get("stitching", 0.0),
        **{f"{stage}_s": staged.seconds[stage] for stage in STAGES},
        **{f"peak_rss_after_{stage}_mb": staged.peak_mb[stage] for stage in STAGES},
        "peak_rss_before_mb": loaded_mb, "peak_rss_mb": peak_mb,
        "AP": 100 * scores.mean_ap, "AP50": 100 * scores.mean_ap50, "AP25": 100 * scores.mean_ap25,
    }  # fmt: skip


def run_floors(rooms: list[int], *, tile_m: float, overlap_m: float, seed_base: int = 100,
               json_path: Path | None = None, echo=print) -> dict:  # fmt: skip
    """Every floor whole and tiled, each in a fresh process; prints a table, returns the report."""
    from occuseg_core.data.synthetic.floor import generate_floor
    from occuseg_core.io import write_npz

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for count in rooms:
            path = Path(tmp) / f"floor_{count}.npz"
            write_npz(generate_floor(range(seed_base, seed_base + count)), path)
            for mode in ("whole", "tiled"):
                child = subprocess.run(
                    [sys.executable, "-m", "occuseg_core.tiling_benchmark", str(path), mode,
                     str(tile_m), str(overlap_m)],
                    capture_output=True, text=True, check=False,
                )  # fmt: skip
                if child.returncode != 0:
                    raise RuntimeError(f"floor of {count} rooms, {mode}: {child.stderr[-2000:]}")
                rows.append({"rooms": count, **json.loads(child.stdout.strip().splitlines()[-1])})
                echo(format_row(rows[-1]))
    smallest = [r for r in rows if r["rooms"] == min(rooms) and r["mode"] == "whole"]
    one_room = [r["peak_rss_mb"] for r in smallest]
    report = {"tile_m": tile_m, "overlap_m": overlap_m, "seed_base": seed_base, "runs": rows,
              "one_room_peak_rss_mb": one_room[0]}  # fmt: skip
    for row in rows:
        row["peak_rss_vs_one_room"] = row["peak_rss_mb"] / one_room[0]
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2))
    return report


def format_row(row: dict) -> str:
    stages = ", ".join(f"{s} {row[f'{s}_s'] * 1e3:.0f}" for s in STAGES)
    return (f"{row['rooms']:>2} rooms, {row['points']:>9,} points, {row['mode']:<5}"
            f" ({row['tiles']} tiles): total {row['total_s'] * 1e3:.0f} ms ({stages},"
            f" stitching {row['stitching_s'] * 1e3:.0f}); peak RSS {row['peak_rss_mb']:.0f} MB;"
            f" AP / AP50 / AP25 {row['AP']:.1f} / {row['AP50']:.1f} /"
            f" {row['AP25']:.1f}")  # fmt: skip


if __name__ == "__main__":
    floor, mode, tile, overlap = sys.argv[1:5]
    print(json.dumps(run_once(Path(floor), mode, float(tile), float(overlap)), default=float))
