"""`occuseg train`: train OccuSegNet on a dataset folder (see docs/DATASET.md)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from occuseg_core.errors import OccusegError

HELP = "train the network on a dataset folder (synthetic, ScanNet, S3DIS prepared as NPZ scenes)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        help="named config (small, paper, scannet, s3dis, scenenn) or YAML path; optional with"
        " --resume (the run's own config.yaml is used)",
    )
    parser.add_argument("--out", required=True, type=Path, help="run directory to write")
    parser.add_argument("--data", type=Path, help="dataset root with train/ and val/ folders")
    parser.add_argument(
        "--resume", action="store_true", help="continue from OUT/checkpoints/last.pt"
    )
    parser.add_argument("--epochs", type=int, help="override train.epochs")
    parser.add_argument("--device", help="override train.device: auto, cpu, cuda, cuda:N")
    parser.add_argument(
        "--time-limit-min",
        type=float,
        help="stop after this many training minutes in all (a resumed run counts the minutes it"
        " already trained); the LR schedule follows the larger of the step and time fractions,"
        " so resuming with more epochs or minutes raises the LR again (a warm restart)",
    )
    parser.add_argument("--seed", type=int, help="override train.seed")
    parser.add_argument("--train-split", help="override data.train_split (e.g. fold3-train)")
    parser.add_argument("--val-split", help="override data.val_split (e.g. fold3-val)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _resolve_config(args: argparse.Namespace):
    from occuseg_core.config import load_config, validate_config

    run_config = args.out / "config.yaml"
    if args.config is None:
        if not (args.resume and run_config.is_file()):
            raise OccusegError("--config is required (except with --resume on an existing run)")
        config = load_config(run_config)
    else:
        config = load_config(args.config)
    overrides = {
        "epochs": args.epochs,
        "device": args.device,
        "time_limit_min": args.time_limit_min,
        "seed": args.seed,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if overrides:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, **overrides))
    splits = {"train_split": args.train_split, "val_split": args.val_split}
    splits = {k: v for k, v in splits.items() if v is not None}
    if splits:
        config = dataclasses.replace(config, data=dataclasses.replace(config.data, **splits))
    return validate_config(config)


def _check_run_dir(out: Path, resume: bool) -> None:
    last = out / "checkpoints" / "last.pt"
    if resume and not last.is_file():
        raise OccusegError(f"--resume: no checkpoint at {last}")
    if not resume and out.exists() and any(out.iterdir()):
        raise OccusegError(
            f"{out} already holds files; use --resume to continue it or a new --out"
        )


def run(args: argparse.Namespace) -> int:
    from occuseg_core.data.dataset import SceneDataset
    from occuseg_core.engine.trainer import Trainer

    config = _resolve_config(args)
    if args.data is None:
        raise OccusegError("--data DIR is required (make a synthetic one with `occuseg synth`)")
    _check_run_dir(args.out, args.resume)
    train_scenes = SceneDataset(args.data, config.data.train_split)
    train_scenes[0]  # fail now, before anything is written, if scenes are unreadable
    try:
        val_scenes = SceneDataset(args.data, config.data.val_split)
    except OccusegError as error:
        print(f"warning: no validation split ({error}); training without validation")
        val_scenes = []
    trainer = Trainer(config, train_scenes, val_scenes, args.out, progress=not args.no_progress)
    if args.resume:
        trainer.resume()
        print(f"resuming {args.out} at epoch {trainer.state.epoch}, step {trainer.state.step}")
    print(
        f"training {config.name} on {len(train_scenes)} scenes ({len(val_scenes)} val)"
        f" on {trainer.device}; writing {args.out}"
    )
    metrics = trainer.fit()
    last = args.out / "checkpoints" / "last.pt"
    print(
        f"done: {trainer.state.epoch} epochs, {trainer.state.step} steps,"
        f" {trainer.state.elapsed_s / 60:.1f} min; checkpoint {last}"
    )
    return 0 if metrics or trainer.state.epoch else 1
