"""`occuseg synth`: writes a synthetic training dataset (train/val NPZ scenes + dataset.json)."""

from __future__ import annotations

import argparse

from occuseg_core.errors import OccusegError

HELP = "generate a synthetic indoor-scan dataset (NYU40 labels, train/val splits)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="dataset folder to create")
    parser.add_argument(
        "--scenes", type=int, default=100, metavar="N", help="number of scenes (default 100)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="dataset seed, >= 0 (default 0)"
    )
    parser.add_argument(
        "--val-fraction",
        type=float,
        default=0.2,
        metavar="F",
        help="share of scenes in the val split, in [0, 1) (default 0.2)",
    )
    parser.add_argument(
        "--room-types",
        nargs="+",
        metavar="TYPE",
        default=None,
        help="restrict to these room types (default: all six)",
    )
    parser.add_argument(
        "--scanner",
        choices=("surface", "tsdf"),
        default="surface",
        help="scan model: 'surface' samples the visible surfaces directly (fast, default); "
        "'tsdf' fuses ray-cast RGB-D frames of a hand-held camera path into a TSDF mesh, as "
        "ScanNet's scans were made (needs open3d; ~5-15 s per room)",
    )
    parser.add_argument(
        "--open-doors",
        type=float,
        default=0.0,
        metavar="P",
        help="probability that a door stands open, swung 10-100 degrees into the room (default 0)",
    )
    parser.add_argument(
        "--joined-kitchen-cabinets",
        action="store_true",
        help="label a kitchen's base cabinets as one instance and its wall cabinets as another, "
        "as ScanNet annotates kitchen cabinet runs (default: one instance per cabinet)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace DIR if it is not empty (only once the new one is complete)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from occuseg_core.data.dataset import SPLITS, write_synthetic_dataset
    from occuseg_core.data.synthetic import ROOM_TYPES, SynthConfig

    if not 0.0 <= args.open_doors <= 1.0:
        raise OccusegError(f"--open-doors must be a probability in [0, 1]; got {args.open_doors}")
    options = {
        "scanner": args.scanner,
        "open_door_prob": args.open_doors,
        "joined_kitchen_cabinets": args.joined_kitchen_cabinets,
    }
    if args.room_types:
        unknown = sorted(set(args.room_types) - set(ROOM_TYPES))
        if unknown:
            raise OccusegError(f"unknown room types {unknown}; known: {list(ROOM_TYPES)}")
        options["room_types"] = tuple(args.room_types)
    config = SynthConfig(**options)
    out = write_synthetic_dataset(
        args.out,
        args.scenes,
        args.seed,
        val_fraction=args.val_fraction,
        config=config,
        progress=not args.no_progress,
        overwrite=args.overwrite,
    )
    counts = {s: len(list((out / s).glob("*.npz"))) for s in SPLITS}
    print(
        f"wrote {args.scenes} scenes to {out} ({', '.join(f'{n} {s}' for s, n in counts.items())})"
    )
    return 0
