"""The `occuseg` subcommands, one module each (`occuseg_core.cli` lists them)."""

from occuseg_core.errors import OccusegError

CHECKPOINT_HELP = (
    "a checkpoint file, or a bundled model by name: real (the default; real ScanNet rooms +"
    " synthetic rooms) or synthetic (synthetic rooms only)"
)
"""The help of every `--checkpoint` option (see `occuseg_core.inference.resolve_checkpoint`)."""


def refuse_flags(used: dict[str, bool], what: str) -> None:
    """Raises one OccusegError naming every flag of `used` that was given, e.g. "--checkpoint,
    --half cannot be used with --method euclidean (...)"; `what` completes the sentence."""
    given = [flag for flag, is_used in used.items() if is_used]
    if given:
        raise OccusegError(f"{', '.join(given)} cannot be used with {what}")


def add_views_argument(parser) -> None:
    """`--views N`: test-time views averaged by the network stage (`occuseg_core.views`)."""
    parser.add_argument(
        "--views",
        type=int,
        choices=(1, 2, 4, 8),
        default=1,
        metavar="N",
        help="average the network over N test-time views of the scan: 1, 2, 4 (turned by 90"
        " degrees about z) or 8 (and mirrored); N times the network time (default 1)",
    )


def add_alignment_argument(parser) -> None:
    """`--no-align-walls`: segment the scan at its own heading (`SegmenterOptions.align_walls`)."""
    parser.add_argument(
        "--no-align-walls",
        dest="align_walls",
        action="store_false",
        help="do not turn the scan about z to its walls before the network (by default a scan"
        " more than 2 degrees off its walls is turned, and the results given in its own frame;"
        " occuseg_core/alignment.py)",
    )


def add_threads_argument(parser) -> None:
    """`--threads N` for every command that runs the network (applied by `occuseg_core.cli`)."""
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads of the network (default: auto, the cores other processes left free"
        " since the previous scan; see occuseg_core/threads.py)",
    )
