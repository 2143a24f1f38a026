"""launch/segment.launch.py, executed against minimal stand-ins of `launch` / `launch_ros`
(neither is on PyPI, so the real ones cannot run here): arguments, their choices, the node of
each mode, its parameter file (which must exist) and remaps."""

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


class FindPackageShare(Recorder):
    """The repository stands in for share/occuseg_ros (both hold config/)."""

    def perform(self, context) -> str:
        assert self.args == ("occuseg_ros",)
        return str(REPO)


def stub_modules() -> dict[str, types.ModuleType]:
    names = {
        "launch": ["LaunchDescription"],
        "launch.actions": ["DeclareLaunchArgument", "OpaqueFunction"],
        "launch.substitutions": ["LaunchConfiguration"],
        "launch_ros.actions": ["Node", "LifecycleNode"],
        "launch_ros.substitutions": [],
        "launch_ros": [],
    }
    modules = {}
    for module, classes in names.items():
        modules[module] = types.ModuleType(module)
        for cls in classes:
            setattr(modules[module], cls, type(cls, (Recorder,), {}))
    modules["launch_ros.substitutions"].FindPackageShare = FindPackageShare
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


def declared(description) -> dict:
    (entities,) = description.args
    return {e.args[0]: e.kwargs for e in entities if type(e).__name__ == "DeclareLaunchArgument"}


def launch(description, **arguments):
    """What the OpaqueFunction returns for these launch arguments (others at their default)."""
    config = {name: kwargs["default_value"] for name, kwargs in declared(description).items()}
    (entities,) = description.args
    (function,) = [e for e in entities if type(e).__name__ == "OpaqueFunction"]
    context = types.SimpleNamespace(launch_configurations=config | arguments)
    return function.kwargs["function"](context)


def test_declares_the_documented_arguments(description):
    defaults = {name: kwargs["default_value"] for name, kwargs in declared(description).items()}
    assert defaults == {"points": "points", "mode": "cloud", "managed": "false",
                        "params_file": "", "checkpoint": "", "device": "auto",
                        "namespace": ""}  # fmt: skip


def test_mode_has_choices_so_launch_refuses_a_typo(description):
    """`ros2 launch ... mode:=Map` is refused by launch itself (it checks `choices`)."""
    assert declared(description)["mode"]["choices"] == ["cloud", "map"]


def test_managed_has_choices_and_plain_is_the_default(description):
    assert declared(description)["managed"]["choices"] == ["false", "true"]
    (node,) = launch(description)
    assert type(node).__name__ == "Node" and node.kwargs["arguments"] == []


def test_an_unknown_mode_or_managed_value_starts_nothing(description):
    with pytest.raises(RuntimeError, match="mode:='Map' is not one of cloud, map"):
        launch(description, mode="Map")
    with pytest.raises(RuntimeError, match="managed:='True' is not one of false, true"):
        launch(description, managed="True")


@pytest.mark.parametrize(("mode", "executable"),
                         [("cloud", "segment_node"), ("map", "map_segment_node")])  # fmt: skip
def test_managed_true_starts_a_lifecycle_node_with_the_flag(description, mode, executable):
    """launch_ros' LifecycleNode (it needs name and namespace) running `<node> --managed`."""
    (node,) = launch(description, mode=mode, managed="true")
    assert type(node).__name__ == "LifecycleNode" and node.kwargs["arguments"] == ["--managed"]
    assert node.kwargs["name"] == node.kwargs["executable"] == executable
    assert node.kwargs["namespace"].args == ("namespace",)


@pytest.mark.parametrize(
    ("mode", "executable", "yaml_name"),
    [("cloud", "segment_node", "segment.yaml"), ("map", "map_segment_node", "map_segment.yaml")],
)
def test_one_node_of_the_mode_with_its_yaml_and_points_remapped(description, mode, executable,
                                                               yaml_name):  # fmt: skip
    (node,) = launch(description, mode=mode)
    assert (node.kwargs["package"], node.kwargs["executable"]) == ("occuseg_ros", executable)
    ((source, target),) = node.kwargs["remappings"]
    assert source == "points" and target.args == ("points",)
    assert node.kwargs["namespace"].args == ("namespace",)
    params_file, overrides = node.kwargs["parameters"]
    assert params_file == str(REPO / "config" / yaml_name)
    assert {k: v.args for k, v in overrides.items()} == {
        "checkpoint": ("checkpoint",), "device": ("device",)}  # fmt: skip


def test_a_given_params_file_is_used(description, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("/**:\n  ros__parameters:\n    score_threshold: 0.5\n")
    (node,) = launch(description, mode="map", params_file=str(path))
    assert node.kwargs["parameters"][0] == str(path)


def test_a_missing_params_file_is_an_error_not_a_warning(description, tmp_path):
    """launch_ros only warns about a missing file and starts the node on other defaults."""
    missing = tmp_path / "segmnet.yaml"
    with pytest.raises(RuntimeError, match=f"params_file:='{missing}': no such file"):
        launch(description, params_file=str(missing))
