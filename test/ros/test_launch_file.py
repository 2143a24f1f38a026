"""launch/segment.launch.py, executed against minimal stand-ins of `launch` / `launch_ros`
(neither is on PyPI, so the real ones cannot run here): arguments, remaps and node choice."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest

pytestmark = pytest.mark.ros
REPO = Path(__file__).resolve().parents[2]


class Recorder:
    """Stand-in for any launch class: remembers its arguments."""

    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs


def stub_modules() -> dict[str, types.ModuleType]:
    names = {
        "launch": ["LaunchDescription"],
        "launch.actions": ["DeclareLaunchArgument"],
        "launch.conditions": ["IfCondition"],
        "launch.substitutions": [
            "LaunchConfiguration",
            "PathJoinSubstitution",
            "PythonExpression",
        ],
        "launch_ros.actions": ["Node"],
        "launch_ros.substitutions": ["FindPackageShare"],
        "launch_ros": [],
    }
    modules = {}
    for module, classes in names.items():
        modules[module] = types.ModuleType(module)
        for cls in classes:
            setattr(modules[module], cls, type(cls, (Recorder,), {}))
    return modules


@pytest.fixture
def description(monkeypatch):
    for name, module in stub_modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location(
        "segment_launch", REPO / "launch/segment.launch.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


def test_declares_the_documented_arguments(description):
    (entities,) = description.args
    declared = {e.args[0]: e.kwargs["default_value"] for e in entities
                if type(e).__name__ == "DeclareLaunchArgument"}  # fmt: skip
    assert declared == {"points": "points", "mode": "cloud", "params_file": "",
                        "checkpoint": "", "device": "auto", "namespace": ""}  # fmt: skip


def test_one_node_per_mode_with_points_remapped(description):
    (entities,) = description.args
    nodes = [e for e in entities if type(e).__name__ == "Node"]
    assert [n.kwargs["executable"] for n in nodes] == ["segment_node", "map_segment_node"]
    for node in nodes:
        assert node.kwargs["package"] == "occuseg_ros"
        ((source, target),) = node.kwargs["remappings"]
        assert source == "points" and target.args == ("points",)
        assert node.kwargs["namespace"].args == ("namespace",)
        condition = node.kwargs["condition"].args[0].args[0]
        assert condition[0] == "'" and condition[1].args == ("mode",)
    assert [n.kwargs["condition"].args[0].args[0][3] for n in nodes] == ["cloud", "map"]
