"""`occuseg eval`: score a ScanNet-format submission (`--pred/--gt`), or run a trained model
over a dataset split (`--dataset ... --checkpoint ...`) and print the paper's tables: the
per-class AP table (Tables 1/2, 3 or 4 by dataset), Table 5 (mean per-scan stage times),
Table 6 (`--ablation all`), semantic mIoU, and Fig. 4 (`--fig4 PNG`: the CDF of the occupancy
relative error R_c, eq. 11). `--method euclidean` runs the geometric baseline over the split
instead (ScanNet protocol datasets only): its class-agnostic AP table and stage times.
`--dataset ... --write-gt DIR` writes a split's ground truth as a `--gt` folder instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from occuseg_core.commands import (
    CHECKPOINT_HELP,
    add_alignment_argument,
    add_threads_argument,
    add_views_argument,
    refuse_flags,
)
from occuseg_core.errors import OccusegError

HELP = "evaluate: a ScanNet submission (--pred/--gt) or a checkpoint on a dataset split"

DATASETS = ("scannet", "s3dis", "scenenn", "synthetic")
ABLATIONS = ("none", "no_feature", "no_spatial", "no_occupancy", "all", "oracle_occupancy")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the submission-mode and dataset-mode arguments."""
    files = parser.add_argument_group("submission mode")
    files.add_argument(
        "--pred",
        type=Path,
        metavar="DIR",
        help="submission folder: <scene>.txt files + mask subfolder; `occuseg segment --out"
        " OUT` writes one to OUT/scannet",
    )
    files.add_argument(
        "--gt",
        type=Path,
        metavar="DIR",
        help="ground-truth folder: <scene>.txt, one nyu40*1000+instance per vertex (ScanNet's"
        " evaluation format; `--dataset D --data-root R --split S --write-gt DIR` writes one)",
    )
    files.add_argument(
        "--missing",
        choices=("skip", "empty", "error"),
        default="skip",
        help="ground-truth scenes without a prediction file: skip them (default,"
        " as the official script), count them as empty, or fail",
    )
    _add_dataset_arguments(parser.add_argument_group("dataset mode"))
    parser.add_argument(
        "--class-agnostic",
        action="store_true",
        help="score every object of the 18 instance classes as one class 'object' (the ScanNet"
        " protocol otherwise; as open-vocabulary work reports it, and comparable with methods"
        " that have no classes, such as `occuseg segment --method euclidean`)",
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the result as JSON")


def _add_dataset_arguments(model: argparse._ArgumentGroup) -> None:
    """The dataset-mode arguments (`--dataset ...`)."""
    model.add_argument("--dataset", choices=DATASETS)
    model.add_argument("--data-root", type=Path, metavar="D")
    model.add_argument("--split", metavar="S")
    model.add_argument(
        "--method",
        choices=("occuseg", "euclidean"),
        default="occuseg",
        help="occuseg: the trained model (default); euclidean: the geometric baseline (RANSAC"
        " plane removal + Euclidean clustering), scored class-agnostically",
    )
    model.add_argument("--checkpoint", metavar="C", help=CHECKPOINT_HELP)
    add_threads_argument(model)
    add_views_argument(model)
    add_alignment_argument(model)
    model.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    model.add_argument("--max-scenes", type=int, help="evaluate at most this many scenes")
    model.add_argument(
        "--keep-points",
        type=float,
        metavar="F",
        help="keep a random fraction F in (0, 1] of every scene's points (seeded; meshes become"
        " point clouds): how the model copes with sparser scans",
    )
    model.add_argument(
        "--ablation",
        choices=ABLATIONS,
        help="paper Table 6 variant (default none; all: every row), or oracle_occupancy: the"
        " full method next to the same merging with the true instance sizes as occupancy (a"
        " diagnostic, not in the paper)",
    )
    model.add_argument(
        "--fig4",
        type=Path,
        metavar="PNG",
        help="write the occupancy relative-error CDF (paper Fig. 4)",
    )
    model.add_argument(
        "--write-gt",
        type=Path,
        metavar="DIR",
        help="write the split's ground truth as a --gt folder (<scene>.txt per scene; scannet"
        " and synthetic) and stop: no model runs",
    )


def _check_mode(args: argparse.Namespace) -> None:
    submission = args.pred is not None or args.gt is not None
    if args.dataset is not None and submission:
        raise OccusegError("give either --pred/--gt or --dataset, not both")
    if args.dataset is None and (args.pred is None or args.gt is None):
        raise OccusegError("give --pred DIR and --gt DIR (or --dataset NAME ...)")
    dataset_only = (args.checkpoint, args.data_root, args.split, args.fig4, args.ablation,
                    args.max_scenes, args.keep_points, args.write_gt,
                    None if args.views == 1 else args.views,
                    None if args.align_walls else False)  # fmt: skip
    if args.dataset is None and (
        any(v is not None for v in dataset_only) or args.method != "occuseg"
    ):
        raise OccusegError(
            "--data-root, --split, --method, --checkpoint, --views, --no-align-walls,"
            " --ablation, --fig4,"
            " --max-scenes, --write-gt and --keep-points need --dataset"
        )


def _run_dataset(args: argparse.Namespace) -> int:
    from occuseg_core.commands.eval_dataset import run_dataset_evaluation, run_euclidean_evaluation

    absent = [
        flag
        for flag, value in {"--data-root": args.data_root, "--split": args.split}.items()
        if value is None
    ]
    if absent:
        raise OccusegError(f"--dataset {args.dataset} needs {', '.join(absent)}")
    if args.write_gt is not None:
        return _write_ground_truth(args)
    if args.method == "euclidean":
        return run_euclidean_evaluation(args)
    return run_dataset_evaluation(args)


def _write_ground_truth(args: argparse.Namespace) -> int:
    """`--write-gt DIR`: the split's labels as ScanNet ground-truth files, DIR/<scene>.txt."""
    from occuseg_core.commands.eval_dataset import CLASS_AGNOSTIC_DATASETS
    from occuseg_core.data.readers import make_reader
    from occuseg_core.eval import encode_ground_truth
    from occuseg_core.eval.report import write_text_atomic

    if args.dataset not in CLASS_AGNOSTIC_DATASETS:  # the datasets scored the ScanNet way
        raise OccusegError(f"--write-gt writes ScanNet's format: scannet or synthetic, not"
                           f" {args.dataset} (it has its own metric)")  # fmt: skip
    refuse_flags(
        {"--checkpoint": args.checkpoint is not None, "--ablation": args.ablation is not None,
         "--fig4": args.fig4 is not None, "--keep-points": args.keep_points is not None,
         "--views": args.views != 1, "--no-align-walls": not args.align_walls,
         "--method": args.method != "occuseg"},
        "--write-gt (no model runs)",
    )  # fmt: skip
    scenes = make_reader(args.dataset, args.data_root, args.split)
    if args.max_scenes is not None:
        scenes = scenes.head(args.max_scenes)
    args.write_gt.mkdir(parents=True, exist_ok=True)
    for index in range(len(scenes)):
        scene = scenes[index]
        if scene.semantic is None or scene.instance is None:
            raise OccusegError(f"{args.dataset} {args.split}: scene {scene.name} has no labels")
        ids = encode_ground_truth(scene.semantic, scene.instance)
        write_text_atomic(args.write_gt / f"{scene.name}.txt", "\n".join(map(str, ids)) + "\n")
    print(f"wrote {len(scenes)} ground-truth files to {args.write_gt}; score a submission with"
          f" `occuseg eval --pred OUT/scannet --gt {args.write_gt}`")  # fmt: skip
    return 0


def _run_submission(args: argparse.Namespace) -> int:
    from occuseg_core.eval import evaluate_class_agnostic, evaluate_scannet
    from occuseg_core.eval.report import write_text_atomic
    from occuseg_core.eval.scannet_submission import read_scannet_submission

    predictions, ground_truths = read_scannet_submission(args.pred, args.gt)
    evaluate = evaluate_class_agnostic if args.class_agnostic else evaluate_scannet
    result = evaluate(predictions, ground_truths, missing=args.missing)
    if result.skipped_scenes:
        shown = ", ".join(result.skipped_scenes[:5])
        more = (
            f" and {len(result.skipped_scenes) - 5} more" if len(result.skipped_scenes) > 5 else ""
        )
        print(
            f"occuseg eval: note: {len(result.skipped_scenes)} ground-truth scenes have no"
            f" prediction file and were skipped, as the official script does ({shown}{more});"
            " use --missing empty to count them",
            file=sys.stderr,
        )
    print(result.to_markdown())
    if args.json is not None:
        if not args.json.parent.is_dir():
            raise OccusegError(f"folder of --json not found: {args.json.parent}")
        write_text_atomic(args.json, result.to_json())
    return 0


def run(args: argparse.Namespace) -> int:
    """Runs the evaluation; returns 0. Raises OccusegError for any user error."""
    _check_mode(args)
    if args.dataset is not None:
        return _run_dataset(args)
    return _run_submission(args)
