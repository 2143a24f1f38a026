"""`occuseg export`: a training checkpoint -> a deployable model file (no optimiser state);
several checkpoints of one run -> one model with their averaged weights."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "strip a training checkpoint down to the model (config + weights) for deployment"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint",
        type=Path,
        nargs="+",
        help="training checkpoint, e.g. RUN/checkpoints/last.pt; several (of one run, e.g. its"
        " last epochs): their weights are averaged, the config is the last one's",
    )
    parser.add_argument("--out", required=True, type=Path, help="model file to write (.pt)")


def run(args: argparse.Namespace) -> int:
    from occuseg_core.engine.checkpoint import export_model

    payload = export_model(args.checkpoint, args.out)
    size_mb = args.out.stat().st_size / 2**20
    averaged = (
        f", weights averaged over {len(args.checkpoint)}" if len(args.checkpoint) > 1 else ""
    )
    print(f"wrote {args.out} ({size_mb:.1f} MB, config {payload['config']['name']}{averaged})")
    return 0
