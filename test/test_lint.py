"""Repository-wide checks: style (ruff, 99 columns), module size, and the layering rule that
occuseg_core never imports ROS."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

PYTHON_TREES = ["occuseg_core", "occuseg_ros", "test", "tools", "launch", "setup.py"]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, *PYTHON_TREES],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_ruff_check():
    result = _ruff("check", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format():
    result = _ruff("format", "--check", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("package", ["occuseg_core", "occuseg_ros"])
def test_modules_stay_small(package):
    """STYLE.md: files of at most 400 lines (generated message code excluded)."""
    too_long = {
        str(path.relative_to(REPO_ROOT)): n
        for path in (REPO_ROOT / package).rglob("*.py")
        if "/msg/" not in path.as_posix() and (n := len(path.read_text().splitlines())) > 400
    }
    assert not too_long, too_long


def test_core_never_imports_ros():
    code = (
        "import sys, importlib, pkgutil, occuseg_core\n"
        "for m in pkgutil.walk_packages(occuseg_core.__path__, 'occuseg_core.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('rclpy', 'rosidl_runtime_py',"
        " 'sensor_msgs', 'std_msgs', 'occuseg_ros')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=Path(REPO_ROOT), check=True)
