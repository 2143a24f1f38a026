"""The `occuseg` command: one subcommand per module in `occuseg_core.commands`.

Each command module defines `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`.
Modules are imported only when their subcommand runs, so `occuseg synth` never loads torch;
`occuseg --help` reads each module's `HELP` from its source instead. Option help shows the
option's default.
A user error (bad input, missing or corrupt file: `OccusegError`, `ValueError`, `OSError`) is
printed as one line on stderr with exit code 2; set OCCUSEG_DEBUG=1 to get the traceback instead.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import os
import sys
from pathlib import Path

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


def module_help(module_name: str) -> str:
    """A command module's `HELP` line, read from its source without importing it.

    Returns:
        The string assigned to `HELP` at the module's top level ("" if there is none).
    """
    source = Path(importlib.util.find_spec(module_name).origin).read_text()
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == "HELP" for t in targets):
            return ast.literal_eval(node.value)
    return ""


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Appends "(default: X)" to an option's help, unless it has no default worth showing
    (None, False) or its help already speaks of the default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        unshown = action.default is None or action.default is False
        if not action.option_strings or unshown or action.default == argparse.SUPPRESS:
            return text
        return text if "default" in text else f"{text} (default: %(default)s)"


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="occuseg", description="Occupancy-aware 3D instance segmentation (OccuSeg)."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, module_name in _available_commands().items():
        if name == wanted:
            module = importlib.import_module(module_name)
            sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP,
                                        formatter_class=DefaultsHelpFormatter)  # fmt: skip
            module.add_arguments(sub)
            sub.set_defaults(_run=module.run)
        elif wanted in COMMANDS:  # another command runs: its help line is never shown
            subparsers.add_parser(name)
        else:  # listed in --help without importing the module
            subparsers.add_parser(name, help=module_help(module_name))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    args._argv = list(argv)  # (`train --nproc` starts copies of this command)
    try:
        if getattr(args, "threads", None) is not None:  # else auto (occuseg_core/threads.py)
            from occuseg_core.threads import set_threads

            set_threads(args.threads)
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
