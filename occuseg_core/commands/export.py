"""`occuseg export`: a training checkpoint -> a deployable model file (no optimiser state)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "strip a training checkpoint down to the model (config + weights) for deployment"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint", type=Path, help="training checkpoint, e.g. RUN/checkpoints/last.pt"
    )
    parser.add_argument("--out", required=True, type=Path, help="model file to write (.pt)")


def run(args: argparse.Namespace) -> int:
    from occuseg_core.engine.checkpoint import export_model

    payload = export_model(args.checkpoint, args.out)
    size_mb = args.out.stat().st_size / 2**20
    print(f"wrote {args.out} ({size_mb:.1f} MB, config {payload['config']['name']})")
    return 0
