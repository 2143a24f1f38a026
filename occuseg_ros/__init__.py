"""ROS 2 side of occuseg: PointCloud2 conversions, parameters and the segmentation nodes.

`occuseg_ros.msg` (Instance, InstanceArray) is generated from msg/ by rosidl: `make ros` puts
it beside these modules, a colcon build installs it with them (docs/ROS.md). Only this
package imports rclpy; `occuseg_core` stays ROS-free.
"""
