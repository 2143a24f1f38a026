"""Starts occuseg's segmentation node: per-cloud (segment_node) or voxel map (map_segment_node).

    ros2 launch occuseg_ros segment.launch.py points:=/camera/depth/color/points
    ros2 launch occuseg_ros segment.launch.py mode:=map points:=/map_cloud device:=cuda:0

    ros2 launch occuseg_ros segment.launch.py managed:=true   # then: ros2 lifecycle set ...

Arguments: points (input topic), mode (cloud | map; anything else is refused), managed (false
| true: a lifecycle node, started unconfigured, for a lifecycle manager to configure and
activate), params_file (default: the mode's YAML in share/occuseg_ros/config; a file that does
not exist stops the launch), checkpoint ('' = the bundled model 'real'; 'synthetic' or a
path), device (auto | cpu | cuda:N), namespace. Outputs are <namespace>/instances,
instances/points and instances/markers.
"""

import os

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

ARGUMENTS = {
    "points": ("points", "input PointCloud2 topic"),
    "mode": ("cloud", "cloud: segment every cloud; map: integrate into a voxel map"),
    "managed": ("false", "true: a lifecycle node (unconfigured until a manager configures it)"),
    "params_file": ("", "parameter YAML; empty = config/segment.yaml or map_segment.yaml"),
    "checkpoint": ("", "model checkpoint or bundled model name (real, synthetic); empty = 'real'"),
    "device": ("auto", "auto, cpu, cuda or cuda:N"),
    "namespace": ("", "namespace of the node and its topics"),
}
MODES = {
    "cloud": ("segment_node", "segment.yaml"),
    "map": ("map_segment_node", "map_segment.yaml"),
}
CHOICES = {"mode": list(MODES), "managed": ["false", "true"]}


def generate_launch_description() -> LaunchDescription:
    arguments = []
    for name, (default, text) in ARGUMENTS.items():
        choices = {"choices": CHOICES[name]} if name in CHOICES else {}
        arguments.append(DeclareLaunchArgument(name, default_value=default, description=text,
                                               **choices))  # fmt: skip
    return LaunchDescription([*arguments, OpaqueFunction(function=launch_node)])


def launch_node(context) -> list:
    """The node of the chosen mode, plain or managed, with its parameter file (must exist).

    Raises:
        RuntimeError: unknown mode or managed value, or no file at params_file (launch
            reports it and exits non-zero instead of starting a node on other parameters).
    """
    config = context.launch_configurations
    for name, choices in CHOICES.items():  # DeclareLaunchArgument's choices refuse it first
        if config[name] not in choices:
            raise RuntimeError(f"{name}:={config[name]!r} is not one of {', '.join(choices)}")
    mode = config["mode"]
    executable, yaml_name = MODES[mode]
    params_file = config["params_file"]
    if not params_file:
        share = FindPackageShare("occuseg_ros").perform(context)
        params_file = os.path.join(share, "config", yaml_name)
    params_file = os.path.expanduser(params_file)
    if not os.path.isfile(params_file):
        raise RuntimeError(f"params_file:={params_file!r}: no such file")
    managed = config["managed"] == "true"
    kind, flags = (LifecycleNode, ["--managed"]) if managed else (Node, [])
    return [kind(
        package="occuseg_ros", executable=executable, name=executable, arguments=flags,
        namespace=LaunchConfiguration("namespace"), output="screen",
        parameters=[params_file, {"checkpoint": LaunchConfiguration("checkpoint"),
                                  "device": LaunchConfiguration("device")}],
        remappings=[("points", LaunchConfiguration("points"))],
    )]  # fmt: skip
