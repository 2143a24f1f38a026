"""`occuseg bag IN.mcap --topic /points --out OUT.mcap`: segment_node's pipeline over a bag.

Thin command: arguments here, the work in `occuseg_ros.bag` (imported only when the command
runs, so `occuseg_core` itself never imports ROS).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from occuseg_core.errors import OccusegError

HELP = "Segment the PointCloud2 topic of a ROS 2 MCAP bag into a new MCAP bag."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, metavar="IN.mcap", help="ROS 2 bag (MCAP storage)")
    parser.add_argument(
        "--topic", required=True, help="PointCloud2 topic to segment, e.g. /points"
    )
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="OUT.mcap",
        help="new bag with <topic>/instances, /instances/points, /instances/markers",
    )
    parser.add_argument("--checkpoint", default=None, help="model file (default: bundled model)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument(
        "--max-points",
        type=int,
        default=300_000,
        help="clouds with more valid points are voxel-downsampled",
    )
    parser.add_argument(
        "--score-threshold", type=float, default=0.0, help="drop instances scoring lower"
    )
    parser.add_argument(
        "--min-instance-points", type=int, default=0, help="drop instances with fewer points"
    )


def run(args: argparse.Namespace) -> int:
    if not args.input.is_file():
        raise OccusegError(f"no bag at {args.input}")
    if args.out.resolve() == args.input.resolve():
        raise OccusegError("--out must differ from the input bag")
    from occuseg_core.inference import Segmenter
    from occuseg_ros.bag import segment_bag
    from occuseg_ros.params import default_params
    from occuseg_ros.pipeline import CloudPipeline

    params = default_params(max_points=args.max_points, score_threshold=args.score_threshold,
                            min_instance_points=args.min_instance_points, device=args.device,
                            checkpoint=args.checkpoint or "")  # fmt: skip
    segmenter = Segmenter.from_checkpoint(args.checkpoint, device=args.device)
    counts = segment_bag(str(args.input), str(args.out), args.topic,
                         CloudPipeline(segmenter, params))  # fmt: skip
    print(f"{counts['segmented']} of {counts['read']} clouds segmented"
          f" ({counts['skipped']} skipped) -> {args.out}")  # fmt: skip
    return 0 if counts["read"] else 1
