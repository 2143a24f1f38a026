"""The `occuseg` command: one subcommand per module in `occuseg_core.commands`.

Each command module defines `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`.
Modules are imported only when their subcommand runs, so `occuseg synth` never loads torch.
A user error (bad input, missing or corrupt file: `OccusegError`, `ValueError`, `OSError`) is
printed as one line on stderr with exit code 2; set OCCUSEG_DEBUG=1 to get the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

from occuseg_core.errors import OccusegError

COMMANDS: dict[str, str] = {
    "synth": "occuseg_core.commands.synth",
    "prepare": "occuseg_core.commands.prepare",
    "train": "occuseg_core.commands.train",
    "segment": "occuseg_core.commands.segment",
    "supervoxels": "occuseg_core.commands.supervoxels",
    "eval": "occuseg_core.commands.eval",
    "bench": "occuseg_core.commands.bench",
    "bag": "occuseg_core.commands.bag",
    "render": "occuseg_core.commands.render",
    "demo": "occuseg_core.commands.demo",
    "export": "occuseg_core.commands.export",
}


def _available_commands() -> dict[str, str]:
    return {name: mod for name, mod in COMMANDS.items() if importlib.util.find_spec(mod)}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="occuseg", description="Occupancy-aware 3D instance segmentation (OccuSeg)."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, module_name in _available_commands().items():
        if name == wanted:
            module = importlib.import_module(module_name)
            sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
            module.add_arguments(sub)
            sub.set_defaults(_run=module.run)
        else:  # listed in --help without importing the module
            subparsers.add_parser(name, help=f"see `occuseg {name} --help`")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (OccusegError, ValueError, OSError) as error:
        if os.environ.get("OCCUSEG_DEBUG"):
            raise
        message = " ".join(str(error).split())  # one line, whatever the source's layout
        print(f"occuseg {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"occuseg {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
