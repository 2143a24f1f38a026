"""Benchmark and statistics of the generator: time per scene, voxels, instances, classes.

Run `python -m occuseg_core.data.synthetic.bench [NUM_SCENES [SCANNER]]` (SCANNER "surface",
the default, or "tsdf") for the figures quoted in docs/DATASET.md (tests never assert timings).
"""

from __future__ import annotations

import sys
import time
from collections import Counter

import numpy as np

from occuseg_core.classes import NYU40_NAMES, SCANNET20
from occuseg_core.data.synthetic import DEFAULT_CONFIG, SynthConfig, synthesize
from occuseg_core.data.voxelize import voxelize


def generation_stats(seeds: range | list[int], config: SynthConfig = DEFAULT_CONFIG) -> dict:
    """Generates the scenes of `seeds` and summarises them.

    Returns:
        dict with seconds per scene (median, max), points and 2 cm voxels per scene (min,
        median, max), benchmark-class instances per scene (min, median, max), instance voxel
        counts (min, max), room type counts, and per NYU40 id the number of scenes and
        instances it appears in.
    """
    times, points, voxels, per_scene, sizes = [], [], [], [], []
    rooms, scenes_with, instances = Counter(), Counter(), Counter()
    for seed in seeds:
        start = time.perf_counter()
        result = synthesize(seed, config)
        times.append(time.perf_counter() - start)
        scene = result.scene
        rooms[result.layout.room_type] += 1
        grid = voxelize(scene)
        points.append(scene.num_points)
        voxels.append(grid.num_voxels)
        labelled = grid.instance > 0
        ids, counts = np.unique(grid.instance[labelled], return_counts=True)
        classes = dict(zip(scene.instance.tolist(), scene.semantic.tolist(), strict=True))
        bench = [i for i in ids.tolist() if SCANNET20.is_instance_class(classes[i])]
        per_scene.append(len(bench))
        sizes += [int(c) for i, c in zip(ids, counts, strict=True) if i in set(bench)]
        found = Counter(classes[i] for i in ids.tolist())
        scenes_with.update(found.keys())
        instances.update(found)
    return {
        "scenes": len(times), "seconds_median": float(np.median(times)),
        "seconds_max": float(np.max(times)), "points": _spread(points), "voxels": _spread(voxels),
        "benchmark_instances": _spread(per_scene), "instance_voxels": (min(sizes), max(sizes)),
        "room_types": dict(rooms),
        "classes": {c: (scenes_with[c], instances[c]) for c in sorted(scenes_with)},
    }  # fmt: skip


def _spread(values: list[int]) -> tuple[int, float, int]:
    return int(np.min(values)), float(np.median(values)), int(np.max(values))


def main(argv: list[str]) -> None:
    count = int(argv[0]) if argv else 100
    scanner = argv[1] if len(argv) > 1 else "surface"
    stats = generation_stats(range(count), SynthConfig(scanner=scanner))
    for key, value in stats.items():
        if key != "classes":
            print(f"{key}: {value}")
    print("NYU40 id  name            scenes  instances")
    for label, (scenes, found) in stats["classes"].items():
        mark = "*" if SCANNET20.is_instance_class(label) else " "
        print(f"{mark} {label:6d}  {NYU40_NAMES.get(label, '?'):15s} {scenes:6d}  {found:9d}")


if __name__ == "__main__":
    main(sys.argv[1:])
