"""Starts occuseg's segmentation node: per-cloud (segment_node) or voxel map (map_segment_node).

    ros2 launch occuseg_ros segment.launch.py points:=/camera/depth/color/points
    ros2 launch occuseg_ros segment.launch.py mode:=map points:=/map_cloud device:=cuda:0

Arguments: points (input topic), mode (cloud | map; anything else is refused), params_file
(default: the mode's YAML in share/occuseg_ros/config; a file that does not exist stops the
launch), checkpoint ('' = the bundled model 'real'; 'synthetic' or a path), device (auto | cpu
| cuda:N), namespace. Outputs are <namespace>/instances, instances/points and
instances/markers.
"""

import os

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

ARGUMENTS = {
    "points": ("points", "input PointCloud2 topic"),
    "mode": ("cloud", "cloud: segment every cloud; map: integrate into a voxel map"),
    "params_file": ("", "parameter YAML; empty = config/segment.yaml or map_segment.yaml"),
    "checkpoint": ("", "model checkpoint or bundled model name (real, synthetic); empty = 'real'"),
    "device": ("auto", "auto, cpu, cuda or cuda:N"),
    "namespace": ("", "namespace of the node and its topics"),
}
MODES = {
    "cloud": ("segment_node", "segment.yaml"),
    "map": ("map_segment_node", "map_segment.yaml"),
}


def generate_launch_description() -> LaunchDescription:
    arguments = [DeclareLaunchArgument(name, default_value=default, description=text)
                 for name, (default, text) in ARGUMENTS.items() if name != "mode"]  # fmt: skip
    default, text = ARGUMENTS["mode"]
    mode = DeclareLaunchArgument("mode", default_value=default, description=text,
                                 choices=list(MODES))  # fmt: skip
    return LaunchDescription([mode, *arguments, OpaqueFunction(function=launch_node)])


def launch_node(context) -> list:
    """The node of the chosen mode with its parameter file, which must exist.

    Raises:
        RuntimeError: unknown mode, or no file at params_file (launch reports it and exits
            non-zero instead of starting a node on other parameters).
    """
    config = context.launch_configurations
    mode = config["mode"]
    if mode not in MODES:  # DeclareLaunchArgument's choices refuse it first
        raise RuntimeError(f"mode:={mode!r} is not one of {', '.join(MODES)}")
    executable, yaml_name = MODES[mode]
    params_file = config["params_file"]
    if not params_file:
        share = FindPackageShare("occuseg_ros").perform(context)
        params_file = os.path.join(share, "config", yaml_name)
    params_file = os.path.expanduser(params_file)
    if not os.path.isfile(params_file):
        raise RuntimeError(f"params_file:={params_file!r}: no such file")
    return [Node(
        package="occuseg_ros", executable=executable, name=executable,
        namespace=LaunchConfiguration("namespace"), output="screen",
        parameters=[params_file, {"checkpoint": LaunchConfiguration("checkpoint"),
                                  "device": LaunchConfiguration("device")}],
        remappings=[("points", LaunchConfiguration("points"))],
    )]  # fmt: skip
