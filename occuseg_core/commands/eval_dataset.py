"""The dataset mode of `occuseg eval`: a checkpoint over a split, the paper's tables printed.

Not a subcommand of its own: `occuseg eval --dataset ...` calls `run_dataset_evaluation`.
"""

from __future__ import annotations

import argparse

from occuseg_core.errors import OccusegError


def _instance_result(dataset: str, evaluation, ablation: str, classes):
    """The dataset's own instance metric for one ablation's predictions."""
    from occuseg_core.eval import evaluate_scannet
    from occuseg_core.eval.s3dis import evaluate_s3dis
    from occuseg_core.eval.scenenn import evaluate_scenenn

    predictions, truths = evaluation.predictions[ablation], evaluation.ground_truths
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
    from occuseg_core.inference import Segmenter

    scenes = make_reader(args.dataset, args.data_root, args.split)
    segmenter = Segmenter.from_checkpoint(args.checkpoint, device=args.device)
    if scenes.class_table.name != segmenter.classes.name:
        raise OccusegError(
            f"the checkpoint predicts {segmenter.classes.name} classes but"
            f" {args.dataset} uses {scenes.class_table.name}"
        )
    if args.max_scenes is not None:
        scenes = scenes.head(args.max_scenes)
    if args.keep_points is not None:
        scenes = scenes.thinned(args.keep_points)
    return scenes, segmenter


def run_dataset_evaluation(args: argparse.Namespace) -> int:
    """Runs the model over the split and prints (and optionally writes) every table."""
    from occuseg_core.engine.evaluate import ABLATIONS, ORACLE_OCCUPANCY, evaluate_split
    from occuseg_core.eval.occupancy import fraction_below, plot_occupancy_cdf
    from occuseg_core.eval.report import dumps, json_float, write_text_atomic
    from occuseg_core.eval.semantic import evaluate_semantic

    ablations = {"all": list(ABLATIONS), ORACLE_OCCUPANCY: ["none", ORACLE_OCCUPANCY]}.get(
        args.ablation, [args.ablation or "none"]
    )
    scenes, segmenter = _load(args)
    evaluation = evaluate_split(segmenter, scenes, ablations)
    results = {
        a: _instance_result(args.dataset, evaluation, a, segmenter.classes) for a in ablations
    }
    semantic = evaluate_semantic(evaluation.semantic_pairs, segmenter.classes)
    errors = evaluation.all_occupancy_errors()
    within = fraction_below(errors, 0.3)
    timings = evaluation.mean_timings_s()
    thinned = "" if args.keep_points is None else f", {args.keep_points:g} of the points kept"
    print(
        f"{args.dataset} {args.split}: {len(scenes)} scenes{thinned}, checkpoint"
        f" {args.checkpoint or 'bundled'}\n"
    )
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
