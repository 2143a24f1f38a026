"""occuseg_core: occupancy-aware 3D instance segmentation (OccuSeg, CVPR 2020), without ROS.

Data flows one way: Scene -> voxels -> network -> supervoxels -> instances. This package never
imports rclpy; the ROS 2 nodes in `occuseg_ros` only convert messages and call it.
"""

from occuseg_core.types import Scene

__all__ = ["Scene"]
__version__ = "0.1.0"
