"""The dataset mode of `occuseg eval`: a checkpoint over a split, the paper's tables printed.

Not a subcommand of its own: `occuseg eval --dataset ...` calls `run_dataset_evaluation`, or
`run_euclidean_evaluation` with `--method euclidean` (the geometric baseline's class-agnostic AP).
"""

from __future__ import annotations

import argparse
import dataclasses

from occuseg_core.commands import refuse_flags
from occuseg_core.errors import OccusegError

CLASS_AGNOSTIC_DATASETS = ("scannet", "synthetic")
"""Datasets scored with the ScanNet protocol, which `--class-agnostic` changes."""


def _instance_result(dataset: str, evaluation, ablation: str, classes, agnostic: bool = False):
    """The dataset's own instance metric for one ablation's predictions (or, `agnostic`, the
    ScanNet protocol with every object one class)."""
    from occuseg_core.eval import evaluate_class_agnostic, evaluate_scannet
    from occuseg_core.eval.s3dis import evaluate_s3dis
    from occuseg_core.eval.scenenn import evaluate_scenenn

    predictions, truths = evaluation.predictions[ablation], evaluation.ground_truths
    if agnostic:
        return evaluate_class_agnostic(predictions, truths, class_table=classes)
    if dataset == "s3dis":
        return evaluate_s3dis(predictions, truths, class_table=classes)
    if dataset == "scenenn":
        return evaluate_scenenn(predictions, truths, class_table=classes)
    return evaluate_scannet(predictions, truths, class_table=classes)


def _ap_summary(result) -> dict[str, float]:
    ap = getattr(result, "instance_ap", result)
    return {"ap": ap.mean_ap, "ap50": ap.mean_ap50, "ap25": ap.mean_ap25}


def table6(rows: dict[str, dict[str, float]]) -> str:
    """Table 6 layout: one row per ablation, mAP / mAP@0.5 / mAP@0.25 in percent."""
    from occuseg_core.eval.report import markdown_table, percent

    names = {
        "none": "OccuSeg",
        "no_feature": "w/o_feature",
        "no_spatial": "w/o_spatial",
        "no_occupancy": "w/o_occupancy",
        "oracle_occupancy": "true occupancy (oracle)",
    }
    return markdown_table(
        ["", "mAP", "mAP@0.5", "mAP@0.25"],
        [
            [names[ablation], percent(row["ap"]), percent(row["ap50"]), percent(row["ap25"])]
            for ablation, row in rows.items()
        ],
    )


def table5(mean_s: dict[str, float], num_scenes: int) -> str:
    """Table 5 layout: mean seconds per scan of each stage, and over the whole split.

    The paper's rows are network, supervoxels and clustering; voxelization (which the paper
    leaves out) gets its own row rather than hiding in one of them.
    """
    from occuseg_core.eval.report import markdown_table

    return markdown_table(
        ["stage", "per scan (s)", "whole split (s)"],
        [
            [stage, f"{mean_s[stage]:.3f}", f"{mean_s[stage] * num_scenes:.1f}"]
            for stage in ("voxelize", "network", "supervoxels", "clustering")
        ],
    )


def _load(args: argparse.Namespace):
    from occuseg_core.data.readers import make_reader
    from occuseg_core.inference import Segmenter, SegmenterOptions

    scenes = make_reader(args.dataset, args.data_root, args.split)
    options = SegmenterOptions(views=args.views, align_walls=args.align_walls)
    segmenter = Segmenter.from_checkpoint(args.checkpoint, device=args.device, options=options)
    if scenes.class_table.name != segmenter.classes.name:
        raise OccusegError(
            f"the checkpoint predicts {segmenter.classes.name} classes but"
            f" {args.dataset} uses {scenes.class_table.name}"
        )
    return _narrowed(scenes, args), segmenter


def _narrowed(scenes, args: argparse.Namespace):
    """The split as --max-scenes and --keep-points narrow it."""
    if args.max_scenes is not None:
        scenes = scenes.head(args.max_scenes)
    if args.keep_points is not None:
        scenes = scenes.thinned(args.keep_points)
    return scenes


def _check_euclidean(args: argparse.Namespace) -> None:
    """Refuses the options that have no meaning without a network (one line, named)."""
    refuse_flags(
        {"--checkpoint": args.checkpoint is not None, "--ablation": args.ablation is not None,
         "--fig4": args.fig4 is not None, "--views": args.views != 1,
         "--no-align-walls": not args.align_walls},
        "--method euclidean (the geometric baseline has no network, occupancy or ablations)",
    )  # fmt: skip
    if args.dataset not in CLASS_AGNOSTIC_DATASETS:
        protocol = ", ".join(CLASS_AGNOSTIC_DATASETS)
        raise OccusegError(
            f"--method euclidean is scored class-agnostically with the ScanNet protocol"
            f" ({protocol}); {args.dataset} has its own metric"
        )


def euclidean_split(segmenter, scenes, *, progress: bool = True):
    """Runs the euclidean baseline over every labelled scene of a split.

    Args:
        segmenter: an `EuclideanSegmenter`.
        scenes: labelled scenes (len + indexing), e.g. a reader of `make_reader`.
        progress: show a progress bar.

    Returns:
        ({scene: ScenePredictions}, {scene: (V,) encoded ground truth}, {stage: mean seconds
        per scan} for "planes", "clusters" and "total").

    Raises:
        OccusegError: an empty split or a scene without semantic and instance labels.
    """
    import numpy as np
    from tqdm import tqdm

    from occuseg_core.engine.evaluate import check_labels
    from occuseg_core.eval import ScenePredictions, encode_ground_truth

    if len(scenes) == 0:
        raise OccusegError("the split has no scenes")
    predictions, truths, timings = {}, {}, {}
    for index in tqdm(range(len(scenes)), desc="evaluate", disable=not progress):
        scene = scenes[index]
        check_labels(scene)
        result = segmenter.segment(scene)
        predictions[scene.name] = ScenePredictions.from_instance_ids(
            result.instance_ids, result.instance_class_ids(), result.instance_scores()
        )
        truths[scene.name] = encode_ground_truth(scene.semantic, scene.instance)
        for stage, seconds in result.timings_s.items():
            timings.setdefault(stage, []).append(seconds)
    return predictions, truths, {stage: float(np.mean(t)) for stage, t in timings.items()}


def run_euclidean_evaluation(args: argparse.Namespace) -> int:
    """`--method euclidean`: the baseline over the split, its class-agnostic AP and timings."""
    from occuseg_core.clustering.euclidean import OBJECT_CLASS_ID, EuclideanSegmenter
    from occuseg_core.data.readers import make_reader
    from occuseg_core.eval import evaluate_class_agnostic
    from occuseg_core.eval.report import dumps, json_float, markdown_table, write_text_atomic

    _check_euclidean(args)
    scenes = make_reader(args.dataset, args.data_root, args.split)
    if not scenes.class_table.is_instance_class([OBJECT_CLASS_ID])[0]:
        raise OccusegError(
            f"{args.dataset} ({scenes.class_table.name} classes) has no instance class"
            f" {OBJECT_CLASS_ID}, the class --method euclidean gives every object"
        )
    scenes = _narrowed(scenes, args)
    segmenter = EuclideanSegmenter()
    predictions, truths, timings = euclidean_split(segmenter, scenes)
    result = evaluate_class_agnostic(predictions, truths, class_table=scenes.class_table)
    thinned = "" if args.keep_points is None else f", {args.keep_points:g} of the points kept"
    print(
        f"{args.dataset} {args.split}: {len(scenes)} scenes{thinned}, method euclidean (RANSAC"
        " planes + Euclidean clusters), class-agnostic (implied by --method euclidean: every"
        " object one class)\n"
    )
    print(result.to_markdown())
    rows = [[stage, f"{t:.3f}", f"{t * len(scenes):.1f}"] for stage, t in timings.items()]
    table = markdown_table(["stage", "per scan (s)", "whole split (s)"], rows)
    print(f"\nstage times, mean per scan and whole split (seconds)\n{table}")
    if args.json is not None:
        report = {
            "dataset": args.dataset, "split": args.split, "num_scenes": len(scenes),
            "keep_points": args.keep_points, "method": "euclidean", "class_agnostic": True,
            "config": dataclasses.asdict(segmenter.config), "instance": result.to_dict(),
            "mean_s": {stage: json_float(t) for stage, t in timings.items()},
        }  # fmt: skip
        write_text_atomic(args.json, dumps(report))
    return 0


def run_dataset_evaluation(args: argparse.Namespace) -> int:
    """Runs the model over the split and prints (and optionally writes) every table."""
    from occuseg_core.engine.evaluate import ABLATIONS, ORACLE_OCCUPANCY, evaluate_split
    from occuseg_core.eval.occupancy import fraction_below, plot_occupancy_cdf
    from occuseg_core.eval.report import dumps, json_float, write_text_atomic
    from occuseg_core.eval.semantic import evaluate_semantic

    ablations = {"all": list(ABLATIONS), ORACLE_OCCUPANCY: ["none", ORACLE_OCCUPANCY]}.get(
        args.ablation, [args.ablation or "none"]
    )
    agnostic = getattr(args, "class_agnostic", False)
    if agnostic and args.dataset not in CLASS_AGNOSTIC_DATASETS:
        protocol = ", ".join(CLASS_AGNOSTIC_DATASETS)
        raise OccusegError(f"--class-agnostic scores the ScanNet protocol ({protocol});"
                           f" {args.dataset} has its own metric")  # fmt: skip
    scenes, segmenter = _load(args)
    evaluation = evaluate_split(segmenter, scenes, ablations)
    results = {
        a: _instance_result(args.dataset, evaluation, a, segmenter.classes, agnostic)
        for a in ablations
    }
    semantic = evaluate_semantic(evaluation.semantic_pairs, segmenter.classes)
    errors = evaluation.all_occupancy_errors()
    within = fraction_below(errors, 0.3)
    timings = evaluation.mean_timings_s()
    thinned = "" if args.keep_points is None else f", {args.keep_points:g} of the points kept"
    thinned += ", class-agnostic (every object one class)" if agnostic else ""
    print(f"{args.dataset} {args.split}: {len(scenes)} scenes{thinned}, {segmenter.model_label}\n")
    print(results[ablations[0]].to_markdown())
    print(
        f"\nsemantic: mIoU {100 * semantic.mean_iou:.1f}, accuracy {100 * semantic.accuracy:.1f}"
    )
    print(f"occupancy (Fig. 4): R_c < 0.3 for {100 * within:.1f}% of {errors.size} instances")
    print("\nTable 5 (seconds)\n" + table5(timings, len(scenes)))
    rows = {a: _ap_summary(results[a]) for a in ablations}
    print("\nTable 6\n" + table6(rows))
    if args.fig4 is not None:
        plot_occupancy_cdf(errors, args.fig4)
        print(f"wrote {args.fig4}")
    if args.json is not None:
        report = {
            "dataset": args.dataset,
            "split": args.split,
            "num_scenes": len(scenes),
            "keep_points": args.keep_points,
            "class_agnostic": agnostic,
            "instance": {a: r.to_dict() for a, r in results.items()},
            "table6": {a: {k: json_float(v) for k, v in row.items()} for a, row in rows.items()},
            "semantic": semantic.to_dict(),
            "occupancy": {
                "fraction_below_0.3": json_float(within),
                "num_instances": int(errors.size),
            },
            "table5_mean_s": {stage: json_float(t) for stage, t in timings.items()},
        }
        write_text_atomic(args.json, dumps(report))
    return 0
