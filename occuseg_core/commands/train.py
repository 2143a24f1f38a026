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
        help="named config (small, real, paper, scannet, s3dis, scenenn) or YAML path;"
        " optional with --resume (the run's own config.yaml is used)",
    )
    parser.add_argument("--out", required=True, type=Path, help="run directory to write")
    parser.add_argument(
        "--data",
        type=Path,
        help="dataset root with train/ and val/ folders (not with a config that lists"
        " data.sources: several folders with weights, e.g. real and synthetic rooms)",
    )
    parser.add_argument(
        "--init",
        type=Path,
        metavar="CKPT",
        help="start from this checkpoint's weights (training or exported, e.g. a bundled"
        " model) with a fresh optimiser and this run's schedule: fine-tuning; the model"
        " settings must be the checkpoint's, except input features added after its own"
        " (e.g. height), which start with zero weights",
    )
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
    parser.add_argument(
        "--nproc",
        type=int,
        default=1,
        metavar="N",
        help="train in N processes on this machine with DistributedDataParallel (gloo on CPUs,"
        " NCCL on GPUs: one GPU per process), started through torch's launcher; the same as"
        " `torchrun --standalone --nproc_per_node=N -m occuseg_core.cli train ...`",
    )
    parser.add_argument(
        "--ddp-timeout-min",
        type=float,
        default=30.0,
        metavar="MIN",
        help="with several processes: fail when another process does not answer for this long",
    )


def _resolve_config(args: argparse.Namespace):
    from occuseg_core.config import load_config, validate_config

    run_config = args.out / "config.yaml"
    if args.config is None:
        if not (args.resume and run_config.is_file()):
            raise OccusegError("--config is required (except with --resume on an existing run)")
        config = load_config(run_config)
    else:
        config = load_config(args.config)
    if args.init is not None and args.resume:
        raise OccusegError("--init starts a new run from a checkpoint's weights; --resume"
                           " continues a run: give one of them")  # fmt: skip
    if args.init is not None and not args.init.is_file():
        raise OccusegError(f"--init {args.init}: no such checkpoint")
    overrides = {
        "init_from": None if args.init is None else str(args.init),
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


def _training_scenes(config, data: Path | None):
    """(train scenes or WeightedSources, val scenes, a one-line description)."""
    from occuseg_core.data.dataset import SceneDataset
    from occuseg_core.engine.batches import WeightedSources

    sources = config.data.sources
    if sources and data is not None:
        listed = ", ".join(source.root for source in sources)
        raise OccusegError(f"the config draws from data.sources ({listed}); --data is not used"
                           " with it: leave it out")  # fmt: skip
    if not sources and data is None:
        raise OccusegError("--data DIR is required (make a synthetic one with `occuseg synth`)")
    if not sources:
        roots = [(data, config.data.train_split, 1.0)]
    else:
        roots = [(Path(s.root), s.split, s.weight) for s in sources]
    readers = [SceneDataset(root, split) for root, split, _ in roots]
    for reader in readers:
        reader[0]  # fail now, before anything is written, if scenes are unreadable
        if reader.class_table.name != config.model.class_table:
            raise OccusegError(f"{reader.root} is labelled for {reader.class_table.name} but the"
                               f" model predicts {config.model.class_table}")  # fmt: skip
    val_root = roots[0][0]
    try:
        val_scenes = SceneDataset(val_root, config.data.val_split)
    except OccusegError as error:
        print(f"warning: no validation split ({error}); training without validation")
        val_scenes = []
    if not sources:
        return readers[0], val_scenes, f"{len(readers[0])} scenes"
    total = sum(weight for _, _, weight in roots)
    described = ", ".join(f"{len(r)} from {root} ({100 * w / total:.0f}% of steps)"
                          for r, (root, _, w) in zip(readers, roots, strict=True))  # fmt: skip
    weights = tuple(weight for _, _, weight in roots)
    augments = tuple(source.augment for source in sources)
    return WeightedSources(tuple(readers), weights, augments), val_scenes, described


def _without_nproc(argv: list[str]) -> list[str]:
    """The command line for the launched copies: `--nproc N` / `--nproc=N` left out."""
    out, skip = [], False
    for token in argv:
        if skip:
            skip = False
        elif token == "--nproc":
            skip = True
        elif not token.startswith("--nproc="):
            out.append(token)
    return out


def run(args: argparse.Namespace) -> int:
    from occuseg_core.engine import distributed

    context = distributed.context_from_env(args.ddp_timeout_min)
    if args.nproc < 1:
        raise OccusegError(f"--nproc must be >= 1; got {args.nproc}")
    config = _resolve_config(args)
    _check_run_dir(args.out, args.resume)
    if args.nproc > 1 and not context.active:
        return distributed.launch(args.nproc, _without_nproc(args._argv))
    try:
        return _train(args, config, context)
    finally:
        distributed.shutdown(context)


def _widened(config) -> str:
    """What the log adds when `--init` widens the model's inputs (else nothing)."""
    from occuseg_core.engine.checkpoint import added_input_features, load_checkpoint

    source = load_checkpoint(config.train.init_from)["config"]
    added = added_input_features(source, config)
    return f" (new input {', '.join(added)}: zero weights to start)" if added else ""


def _train(args: argparse.Namespace, config, context) -> int:
    from occuseg_core.engine.trainer import Trainer

    say = print if context.is_main else (lambda *_, **__: None)
    train_scenes, val_scenes, described = _training_scenes(config, args.data)
    trainer = Trainer(config, train_scenes, val_scenes, args.out,
                      progress=not args.no_progress, context=context)  # fmt: skip
    if config.train.init_from and not args.resume:
        trainer.init_weights()  # refuse an incompatible checkpoint before anything is written
        say(f"starting from the weights of {config.train.init_from}{_widened(config)}")
    if args.resume:
        trainer.resume()
        say(f"resuming {args.out} at epoch {trainer.state.epoch}, step {trainer.state.step}")
    say(
        f"training {config.name} on {described} ({len(val_scenes)} val)"
        f" on {trainer.device}; writing {args.out}"
    )
    batch = config.train.batch_size
    say(
        f"{context.world_size} process(es) x {batch} scene(s) = {context.world_size * batch}"
        f" scenes per step; learning rate {config.train.lr:g} (not scaled with the processes)"
    )
    metrics = trainer.fit(echo=say)
    last = args.out / "checkpoints" / "last.pt"
    say(
        f"done: {trainer.state.epoch} epochs, {trainer.state.step} steps,"
        f" {trainer.state.elapsed_s / 60:.1f} min; checkpoint {last}"
    )
    return 0 if metrics or trainer.state.epoch else 1
