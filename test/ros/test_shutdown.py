"""Both nodes as their own processes stop cleanly: exit code 0 and no traceback on one SIGINT,
on two (Ctrl-C in a `ros2 launch` terminal: the terminal's and launch's own), and on SIGTERM
(launch's escalation), also while a cloud is being segmented, and as managed nodes
(unconfigured or active)."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.ros
HERE = Path(__file__).resolve().parent


def start(kind: str, state: str) -> subprocess.Popen:
    env = dict(os.environ)  # loopback-only DDS: test/ros/conftest.py set it for this process
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    namespace = f"/shutdown_{os.getpid()}_{kind}_{state}"
    return subprocess.Popen(
        [sys.executable, str(HERE / "node_process.py"), kind, state, namespace], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def wait_for_line(proc: subprocess.Popen, wanted: str, timeout_s: float = 60.0) -> str:
    """Reads output until a line equals `wanted`; returns what was read. On timeout, the
    process prints its threads' stacks (SIGUSR1, faulthandler) into the failure message."""
    seen, deadline = "", time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=max(deadline - time.monotonic(), 0.0)):
                break
            chunk = os.read(proc.stdout.fileno(), 65536).decode(errors="replace")
            if not chunk:
                break
            seen += chunk
            if wanted in seen.splitlines():
                return seen
    raise AssertionError(f"no {wanted!r} line; output:\n{seen}{kill_with_stacks(proc)}")


def rest_of_output(proc: subprocess.Popen, timeout_s: float | None = None) -> str:
    return proc.communicate(timeout=timeout_s)[0].decode(errors="replace")


def kill_with_stacks(proc: subprocess.Popen) -> str:
    """Kills a hung process after it printed every thread's stack; returns its last output."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGUSR1)
        time.sleep(1.0)
        proc.kill()
    return rest_of_output(proc)


@pytest.mark.parametrize("kind", ["cloud", "map"])
@pytest.mark.parametrize(
    ("state", "signals", "gap_s"),
    [("idle", ["SIGINT"], 0.0), ("busy", ["SIGINT", "SIGINT"], 0.3),
     ("busy", ["SIGINT", "SIGINT"], 0.0), ("busy", ["SIGTERM"], 0.0),
     ("idle", ["SIGINT", "SIGTERM"], 0.0), ("unconfigured", ["SIGINT"], 0.0),
     ("active", ["SIGINT", "SIGINT"], 0.0)],
    ids=["sigint-idle", "two-sigints-busy", "two-sigints-at-once-busy", "sigterm-busy",
         "sigint-sigterm-idle", "managed-unconfigured-sigint", "managed-active-two-sigints"],
)  # fmt: skip
def test_node_exits_0_without_traceback(kind, state, signals, gap_s):
    """Two signals "at once" are what Ctrl-C in a `ros2 launch` terminal delivers."""
    proc = start(kind, state)
    output = wait_for_line(proc, "busy" if state == "busy" else "spinning")
    time.sleep(0.5)  # spinning; when busy, the segmenter has 2.5 s left
    for name in signals:
        proc.send_signal(getattr(signal, name))
        time.sleep(gap_s)
    try:
        output += rest_of_output(proc, timeout_s=20)
    except subprocess.TimeoutExpired:
        output += "\n(no exit within 20 s; stacks follow)\n" + kill_with_stacks(proc)
    assert proc.returncode == 0, output
    for bad in ("Traceback", "KeyboardInterrupt", "[ERROR]"):
        assert bad not in output, output
