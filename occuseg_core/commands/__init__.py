"""The `occuseg` subcommands, one module each (`occuseg_core.cli` lists them)."""

CHECKPOINT_HELP = (
    "a checkpoint file, or a bundled model by name: real (the default; real ScanNet rooms +"
    " synthetic rooms) or synthetic (synthetic rooms only)"
)
"""The help of every `--checkpoint` option (see `occuseg_core.inference.resolve_checkpoint`)."""
