"""Node parameters: one table of specs, declared with descriptors and read into a dataclass.

Each parameter has a description (with units), a range where it is numeric, and read_only
when changing it at run time would need a new model, QoS or timer: every other parameter takes
effect as soon as it is set (`with_changes`, applied by the nodes). Defaults live here once;
config/*.yaml restate every one of them and a test keeps the two equal, so `ros2 run` and
`ros2 launch` start alike. The instance filters default to deployment values (50 points, score
0.1), not to the library's keep-everything `SegmenterOptions`. `declare_and_read` validates
everything at start-up and raises `ParameterError` naming the parameter, so a typo stops the
node with a clear line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterException
from rclpy.node import Node

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


class ParameterError(ValueError):
    """A parameter value the node cannot start with; the message names the parameter."""


@dataclass(frozen=True)
class Spec:
    """One parameter: default, description, optional inclusive range, read-only flag, the
    node modes that declare it, and a different default in map mode (None: the same)."""

    default: Any
    description: str
    low: float | None = None
    high: float | None = None
    read_only: bool = False
    modes: tuple[str, ...] = ("cloud", "map")
    map_default: Any = None

    def default_for(self, map_mode: bool) -> Any:
        """The default of segment_node (map_mode False) or map_segment_node."""
        return self.map_default if map_mode and self.map_default is not None else self.default


MAP = ("map",)
SPECS: dict[str, Spec] = {
    "checkpoint": Spec("", "model checkpoint file or bundled model name (real, synthetic);"
                       " empty = the bundled default model 'real'",
                       read_only=True),
    "device": Spec("auto", "auto, cpu, cuda or cuda:N (auto = CUDA when available)",
                   read_only=True),
    "half": Spec(False, "float16 network on CUDA (ignored on CPU)", read_only=True),
    "voxel_size_m": Spec(0.0, "[m] grid for downsampling and for the map; 0 = the model's",
                         0.0, 0.5, read_only=True),
    "max_points": Spec(300_000, "clouds with more valid points are voxel-downsampled (warning)",
                       1_000, 50_000_000, modes=("cloud",)),
    "max_input_points": Spec(5_000_000, "clouds declaring more points are refused as absurd",
                             1_000, 100_000_000),
    "min_instance_points": Spec(50, "drop instances with fewer input points (map mode: "
                                "voxels)", 0, 10_000_000),
    "score_threshold": Spec(0.1, "drop instances scoring lower", 0.0, 1.0),
    "max_range_m": Spec(1000.0, "[m] points farther from the origin of their frame (the "
                        "sensor; map mode: the map origin) are dropped, counted and warned "
                        "about", 0.1, 5000.0),
    "class_names": Spec([""], "display-name overrides as 'ID:NAME' (e.g. '5:stool'); '' = none"),
    "input_reliability": Spec("best_effort", "input QoS: best_effort (matches every "
                              "publisher) or reliable", read_only=True),
    "input_depth": Spec(1, "input QoS queue depth (1 = only the newest cloud; map mode: 5, "
                        "every cloud is integrated)", 1, 100, read_only=True, map_default=5),
    "output_depth": Spec(5, "queue depth of the reliable output topics", 1, 100, read_only=True),
    "publish_points": Spec(True, "publish instances/points (the labelled cloud)"),
    "publish_markers": Spec(True, "publish instances/markers (boxes and labels for RViz)"),
    "warmup": Spec(True, "run the model once on a small scene at start-up", read_only=True),
    "threads": Spec(0, "CPU threads of the network; 0 = auto: before every scan, the cores "
                    "other processes left free (occuseg_core/threads.py)", 0, 256,
                    read_only=True),
    "views": Spec(1, "test-time views averaged by the network: 1, 2, 4 or 8 (turned about z;"
                  " N times the network time; occuseg_core/views.py)", 1, 8, read_only=True),
    "align_walls": Spec(True, "turn each cloud about z to its walls before the network (the "
                        "models were trained on wall-aligned rooms; results stay in the cloud's "
                        "frame; occuseg_core/alignment.py)", read_only=True),
    "diagnostics_period_s": Spec(1.0, "[s] period of /diagnostics", 0.1, 60.0, read_only=True),
    "map_frame": Spec("map", "fixed frame of the map; clouds in other frames are transformed "
                      "into it with tf2_ros (refused without tf2_ros)", read_only=True,
                      modes=MAP),
    "transform_timeout_s": Spec(0.2, "[s] how long to wait for the transform of a cloud into "
                                "map_frame at its stamp before dropping it", 0.0, 10.0,
                                modes=MAP),
    "max_voxels": Spec(2_000_000, "map size limit; the longest-unseen voxels go first",
                       1_000, 50_000_000, modes=MAP),
    "map_extent_m": Spec(15.0, "[m] voxels farther (in x, y) from the newest cloud's centre "
                         "are forgotten", 0.5, 1000.0, modes=MAP),
    "segment_period_s": Spec(2.0, "[s] re-segmentation period of the map", 0.05, 3600.0,
                             read_only=True, modes=MAP),
    "match_min_overlap": Spec(0.3, "voxel IoU an instance needs with a previous one to keep "
                              "its id", 0.01, 1.0, modes=MAP),
}  # fmt: skip


@dataclass(frozen=True)
class NodeParams:
    """The resolved parameters (see SPECS for meaning, units and defaults)."""

    checkpoint: str
    device: str
    half: bool
    voxel_size_m: float
    max_points: int
    max_input_points: int
    min_instance_points: int
    score_threshold: float
    max_range_m: float
    class_names: tuple[str, ...]
    input_reliability: str
    input_depth: int
    output_depth: int
    publish_points: bool
    publish_markers: bool
    warmup: bool
    threads: int
    views: int
    align_walls: bool
    diagnostics_period_s: float
    map_frame: str
    transform_timeout_s: float
    max_voxels: int
    map_extent_m: float
    segment_period_s: float
    match_min_overlap: float

    def class_name_overrides(self) -> dict[int, str]:
        """'ID:NAME' entries as {id: name} (validated by `validate`)."""
        pairs = (entry.split(":", 1) for entry in self.class_names if entry)
        return {int(k): v.strip() for k, v in pairs}


def descriptor(name: str, spec: Spec) -> ParameterDescriptor:
    out = ParameterDescriptor(name=name, description=spec.description, read_only=spec.read_only)
    if spec.low is not None and isinstance(spec.default, float):
        out.floating_point_range = [
            FloatingPointRange(from_value=float(spec.low), to_value=float(spec.high), step=0.0)
        ]
    elif spec.low is not None:
        out.integer_range = [IntegerRange(from_value=int(spec.low), to_value=int(spec.high),
                                          step=1)]  # fmt: skip
    return out


def declare_and_read(node: Node, *, map_mode: bool = False) -> NodeParams:
    """Declares every parameter of the node's mode, then reads and validates them.

    Raises:
        ParameterError: a value outside its range, of the wrong type, or invalid (device,
            checkpoint path, class names, QoS name).
    """
    values = {}
    for name in param_names(map_mode):
        spec = SPECS[name]
        default = spec.default_for(map_mode)
        try:
            values[name] = node.declare_parameter(name, default, descriptor(name, spec)).value
        except (ParameterException, TypeError, ValueError) as error:
            raise ParameterError(f"parameter {name!r}: {error}") from None
    return _params(values, map_mode=map_mode)


def with_changes(params: NodeParams, parameters) -> NodeParams:
    """`params` with the values of rclpy Parameters set at run time, validated.

    Names that are not node parameters (use_sim_time, ...) are ignored.

    Raises:
        ParameterError: a changed value is invalid (what descriptors cannot express).
    """
    changes = {p.name: p.value for p in parameters if p.name in SPECS}
    if "class_names" in changes:
        changes["class_names"] = tuple(changes["class_names"])
    new = replace(params, **changes)
    validate(new, names=set(changes))
    return new


def validate(params: NodeParams, names: set[str] | None = None) -> None:
    """Checks what descriptors cannot express (only `names` when given). Raises ParameterError."""

    def check(name: str) -> bool:
        return names is None or name in names

    if check("device") and not DEVICE_PATTERN.match(params.device):
        raise ParameterError(f"parameter 'device': {params.device!r} is not auto, cpu, cuda[:N]")
    if check("checkpoint"):
        from occuseg_core.bundled_models import BUNDLED_MODELS

        named = params.checkpoint in BUNDLED_MODELS
        if params.checkpoint and not named and not Path(params.checkpoint).expanduser().is_file():
            raise ParameterError(f"parameter 'checkpoint': no file at {params.checkpoint!r} (nor"
                                 f" a bundled model: {', '.join(BUNDLED_MODELS)})")  # fmt: skip
    if check("input_reliability") and params.input_reliability not in ("best_effort", "reliable"):
        raise ParameterError(
            f"parameter 'input_reliability': {params.input_reliability!r} is not best_effort"
            " or reliable"
        )
    for entry in params.class_names if check("class_names") else ():
        if entry and not re.match(r"^\s*\d+\s*:\s*\S", entry):
            raise ParameterError(f"parameter 'class_names': {entry!r} is not 'ID:NAME'")
    if check("views") and params.views not in (1, 2, 4, 8):
        raise ParameterError(f"parameter 'views': {params.views} is not 1, 2, 4 or 8")
    if check("map_frame") and not params.map_frame:
        raise ParameterError("parameter 'map_frame' must not be empty")


def default_params(**overrides) -> NodeParams:
    """The parameters segment_node would start with, plus overrides (for `occuseg bag`)."""
    return _params(overrides, map_mode=False)


def _params(values: dict[str, Any], *, map_mode: bool) -> NodeParams:
    """NodeParams from `values`, every other field at its default for the mode; validated."""
    values = {name: spec.default_for(map_mode) for name, spec in SPECS.items()} | values
    values["class_names"] = tuple(values["class_names"])
    params = NodeParams(**values)
    validate(params)
    return params


def param_names(map_mode: bool) -> list[str]:
    """Names a node of the mode declares (used by tests and docs)."""
    mode = "map" if map_mode else "cloud"
    return [n for n, s in SPECS.items() if mode in s.modes]
