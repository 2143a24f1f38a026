"""`occuseg render RESULT --out FILE.png`: a picture of a segmentation result.

RESULT is the `<scene>.json` summary or the `<scene>_instances.ply` that `occuseg segment`
wrote (the other must sit beside it). The left column shows the scan's own colours, read from
`--input SCAN` or from the scan path recorded in the summary; without either it shows the
geometry in grey shaded by height and says so in its titles.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "draw a segmentation result as a PNG (input and instance colours, top and corner views)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("result", type=Path, help="<scene>.json or <scene>_instances.ply")
    parser.add_argument("--out", required=True, type=Path, help="PNG file to write")
    parser.add_argument(
        "--input", type=Path, metavar="SCAN",
        help="the scan that was segmented, for its colours (default: the summary's 'input')",
    )  # fmt: skip
    parser.add_argument("--title", help="picture title (default: scene name and counts)")
    parser.add_argument(
        "--max-points", type=int, default=300_000, help="draw at most this many points"
    )
    parser.add_argument("--dpi", type=float, default=100.0, help="resolution (100: ~1900 px)")


def run(args: argparse.Namespace) -> int:
    from occuseg_core.render import load_written_result, read_input_scene, render_segmentation

    written = load_written_result(args.result)
    scan, note = read_input_scene(written, args.input)
    scene = written.scene if scan is None else written.scene.replace(colors=scan.colors)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    render_segmentation(
        scene, written.result, args.out, title=args.title, max_points=args.max_points,
        dpi=args.dpi, has_input_colors=scan is not None, input_note=note,
    )  # fmt: skip
    print(f"wrote {args.out}" + (f" (left column: {note})" if note else ""))
    return 0
