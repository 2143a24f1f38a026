"""`occuseg demo`: the main job on a built-in default, for `make demo`.

Generates a fixed synthetic room (the same every time), segments it with the default bundled
model (the real-room model, which also learnt the synthetic rooms), prints which model runs and
why the room is synthetic, the instances and per-stage timings, scores the result against the
room's ground truth, and writes OUT/: the input scan, the instance-coloured PLY, the JSON
summary, per-point labels, the ScanNet submission files and a PNG of input and instance colours
side by side.

What is segmented is the input scan as written (read back from OUT/<room>_input.ply), so
`occuseg segment OUT/<room>_input.ply` gives the same instances: the generated room has float
colours, the PLY stores them as 8-bit, and that rounding (at most 1/510) can tip a borderline
merge (32 vs 31 instances with the synthetic model).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from occuseg_core.commands import CHECKPOINT_HELP, add_threads_argument

HELP = "segment a built-in synthetic room with the default model and draw the result"

WHY_SYNTHETIC = (
    "the demo room is synthetic because real scans cannot ship (ScanNet's terms); the default"
    " model 'real' was trained on real ScanNet rooms and on synthetic rooms like this one"
    " (--checkpoint synthetic: the synthetic-only model)"
)

DEMO_SEED = 7
"""Seed of the demo room: a conference room with a long table, rows of 12 identical touching
chairs (the case occupancy is for), cabinets, curtains and a picture. Datasets made by
`occuseg synth` draw 32-bit scene seeds at random, so this room is not a training scene."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder")
    parser.add_argument("--checkpoint", help=CHECKPOINT_HELP)
    add_threads_argument(parser)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--seed", type=int, default=DEMO_SEED, help="seed of the synthetic room")


def instance_table(result) -> str:
    """The instances as a fixed-width text table."""
    header = f"{'id':>3}  {'class':<16}{'score':>6}{'points':>8}{'voxels':>8}{'occ. ratio':>11}"
    lines = [header, "-" * len(header)]
    for r in result.instances:
        lines.append(
            f"{r.id:>3}  {r.class_name:<16}{r.score:>6.2f}{r.point_count:>8}{r.voxel_count:>8}"
            f"{r.occupancy_ratio:>11.2f}"
        )
    return "\n".join(lines)


def ground_truth_scores(scene, result) -> str:
    """AP / AP50 / AP25 of the result against the synthetic room's own labels."""
    from occuseg_core.eval import ScenePredictions, encode_ground_truth, evaluate_scannet

    prediction = ScenePredictions.from_instance_ids(
        result.instance_ids, result.instance_class_ids(), result.instance_scores()
    )
    score = evaluate_scannet([prediction], [encode_ground_truth(scene.semantic, scene.instance)])
    return (
        f"against this room's ground truth: AP {score.mean_ap:.3f}, AP50 {score.mean_ap50:.3f},"
        f" AP25 {score.mean_ap25:.3f} (ScanNet protocol, classes present in the room)"
    )


def run(args: argparse.Namespace) -> int:
    from occuseg_core.data.synthetic import generate_scene
    from occuseg_core.inference import Segmenter
    from occuseg_core.io import read_scene, write_scene
    from occuseg_core.render import render_segmentation
    from occuseg_core.result_io import file_stem, write_result

    segmenter = Segmenter.from_checkpoint(args.checkpoint, device=args.device)
    scene = generate_scene(args.seed, name=f"demo_room_{args.seed}")
    args.out.mkdir(parents=True, exist_ok=True)
    scan_path = args.out / f"{file_stem(scene.name)}_input.ply"
    write_scene(scene.replace(semantic=None, instance=None), scan_path)
    scan = read_scene(scan_path)  # what `occuseg segment` of that file sees: 8-bit colours
    segmenter.segment(scan)  # warm-up: numba compilation and allocator, not part of timings
    result = segmenter.segment(scan)
    written = write_result(args.out, scan, result, input_path=scan_path)
    picture = render_segmentation(scan, result, args.out / f"{file_stem(scene.name)}.png")
    print(f"model: {segmenter.model_label}; {WHY_SYNTHETIC}")
    print(
        f"{scene.name}: {scene.num_points} points, {len(result.instances)} instances"
        f" on {segmenter.device}\n"
    )
    print(instance_table(result))
    print("\ntimings: " + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in result.timings_s.items()))
    print(ground_truth_scores(scene, result))
    names = [str(p.relative_to(args.out)) for p in [scan_path, *written, picture]]
    print(f"\nwrote {args.out}/: " + ", ".join(names))
    return 0
