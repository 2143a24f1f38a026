"""Starts occuseg's segmentation node: per-cloud (segment_node) or voxel map (map_segment_node).

    ros2 launch occuseg_ros segment.launch.py points:=/camera/depth/color/points
    ros2 launch occuseg_ros segment.launch.py mode:=map points:=/map_cloud device:=cuda:0

Arguments: points (input topic), mode (cloud | map), params_file (default: the mode's YAML in
share/occuseg_ros/config), checkpoint ('' = bundled model), device (auto | cpu | cuda:N),
namespace. Outputs are <namespace>/instances, instances/points and instances/markers.
"""

from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

ARGUMENTS = {
    "points": ("points", "input PointCloud2 topic"),
    "mode": ("cloud", "cloud: segment every cloud; map: integrate into a voxel map"),
    "params_file": ("", "parameter YAML; empty = config/segment.yaml or map_segment.yaml"),
    "checkpoint": ("", "model checkpoint; empty = the bundled default model"),
    "device": ("auto", "auto, cpu, cuda or cuda:N"),
    "namespace": ("", "namespace of the node and its topics"),
}


def generate_launch_description() -> LaunchDescription:
    arguments = [DeclareLaunchArgument(name, default_value=default, description=text)
                 for name, (default, text) in ARGUMENTS.items()]  # fmt: skip
    mode, params_file = LaunchConfiguration("mode"), LaunchConfiguration("params_file")
    config_dir = PathJoinSubstitution([FindPackageShare("occuseg_ros"), "config"])
    nodes = []
    for mode_name, executable, yaml_name in [
        ("cloud", "segment_node", "segment.yaml"),
        ("map", "map_segment_node", "map_segment.yaml"),
    ]:
        default_params = PathJoinSubstitution([config_dir, yaml_name])
        chosen_params = PythonExpression(["'", params_file, "' or '", default_params, "'"])
        nodes.append(Node(
            package="occuseg_ros", executable=executable, name=executable,
            namespace=LaunchConfiguration("namespace"), output="screen",
            parameters=[chosen_params, {"checkpoint": LaunchConfiguration("checkpoint"),
                                        "device": LaunchConfiguration("device")}],
            remappings=[("points", LaunchConfiguration("points"))],
            condition=IfCondition(PythonExpression(["'", mode, "' == '", mode_name, "'"])),
        ))  # fmt: skip
    return LaunchDescription([*arguments, *nodes])
