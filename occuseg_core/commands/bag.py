"""`occuseg bag IN.mcap --topic /points --out OUT.mcap`: segment_node's pipeline over a bag.

Thin command: arguments here, the work in `occuseg_ros.bag` (imported only when the command
runs, so `occuseg_core` itself never imports ROS). Everything that can be checked is checked
before the model loads; a failed run leaves an existing OUT.mcap untouched and creates no file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from occuseg_core.commands import CHECKPOINT_HELP, add_threads_argument
from occuseg_core.errors import OccusegError

HELP = "segment the PointCloud2 topic of a ROS 2 MCAP bag into a new MCAP bag"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, metavar="IN.mcap", help="ROS 2 bag (MCAP storage)")
    parser.add_argument(
        "--topic", required=True, help="PointCloud2 topic to segment, e.g. /points (or points)"
    )
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="OUT.mcap",
        help="new bag with the topics <topic>/instances, <topic>/instances/points and"
        " <topic>/instances/markers; replaced only when the run succeeds",
    )
    parser.add_argument("--checkpoint", default=None, help=CHECKPOINT_HELP)
    add_threads_argument(parser)
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
    parser.add_argument(
        "--salvage",
        action="store_true",
        help="segment the readable part of a truncated or damaged bag (default: refuse it)",
    )


def check_paths(args: argparse.Namespace) -> None:
    """Refuses a missing input, an output that is the input, and a missing output folder."""
    if args.input.is_dir():
        raise OccusegError(f"{args.input}: a folder; give the .mcap file inside it")
    if not args.input.is_file():
        raise OccusegError(f"no bag at {args.input}")
    if args.out.resolve() == args.input.resolve():
        raise OccusegError("--out must differ from the input bag")
    if not args.out.resolve().parent.is_dir():
        raise OccusegError(f"--out {args.out}: folder {args.out.parent} does not exist")


def run(args: argparse.Namespace) -> int:
    from occuseg_ros.bag_input import open_topic

    check_paths(args)
    contents, topic = open_topic(args.input, args.topic, salvage=args.salvage)
    # only now torch, rclpy and the model: a bad input is refused in a fraction of a second
    from occuseg_core.inference import Segmenter
    from occuseg_ros.bag import segment_bag
    from occuseg_ros.params import default_params
    from occuseg_ros.pipeline import CloudPipeline

    params = default_params(max_points=args.max_points, score_threshold=args.score_threshold,
                            min_instance_points=args.min_instance_points, device=args.device,
                            checkpoint=args.checkpoint or "")  # fmt: skip
    segmenter = Segmenter.from_checkpoint(args.checkpoint, device=args.device)
    print(f"{args.input}: topic {topic}; supervoxels: point cloud (a PointCloud2 has no faces)")
    if contents.damage:
        print(f"{args.input}: damaged, {contents.damage}: segmenting the readable part")
    counts = segment_bag(str(args.input), str(args.out), topic, CloudPipeline(segmenter, params),
                         salvage=args.salvage, contents=contents)  # fmt: skip
    print(f"{counts['segmented']} of {counts['read']} clouds segmented"
          f" ({counts['skipped']} skipped) -> {args.out}")  # fmt: skip
    return 0
