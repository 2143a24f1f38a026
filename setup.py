"""pip install for occuseg: the ROS-free library `occuseg_core`, the ROS 2 nodes `occuseg_ros`
and the `occuseg` command. The distribution is named `occuseg`, not `occuseg_ros`, so that a
later CMake/colcon install of the messages does not collide with it (see docs/ROS.md)."""

from setuptools import Extension, find_packages, setup

setup(
    name="occuseg",
    version="0.1.0",
    description="Occupancy-aware 3D instance segmentation (OccuSeg, CVPR 2020) for ROS 2 robots",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(
        include=["occuseg_core", "occuseg_core.*", "occuseg_ros", "occuseg_ros.*"]
    ),
    package_data={"occuseg_core": ["configs/*.yaml", "models/*.pt", "models/*.md"]},
    # The supervoxel graph's union-find in C (called through ctypes; no numpy headers needed).
    # Optional: without a C compiler the same loops run in numba (supervoxel/graph.py).
    ext_modules=[
        Extension(
            "occuseg_core.supervoxel._felzenszwalb",
            sources=["occuseg_core/supervoxel/_felzenszwalb.c"],
            extra_compile_args=["-O2", "-std=c99"],
            optional=True,
        )
    ],
    entry_points={"console_scripts": ["occuseg = occuseg_core.cli:main"]},
    # The ROS layout for `pip install .` (not -e): ament index marker, package.xml, launch,
    # config, and node executables where launch_ros looks (docs/ROS.md).
    data_files=[
        ("share/ament_index/resource_index/packages", ["tools/ros/ament_index/occuseg_ros"]),
        ("share/occuseg_ros", ["package.xml"]),
        ("share/occuseg_ros/launch", ["launch/segment.launch.py"]),
        (
            "share/occuseg_ros/config",
            ["config/segment.yaml", "config/map_segment.yaml", "config/occuseg.rviz"],
        ),  # fmt: skip
        ("lib/occuseg_ros", ["tools/ros/bin/segment_node", "tools/ros/bin/map_segment_node"]),
    ],
)
