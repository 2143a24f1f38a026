#!/usr/bin/env bash
# Builds the occuseg_ros messages with the ROS 2 wheels installed in a virtualenv and puts the
# ROS layout in place (docs/ROS.md, "Building with make"). Called by `make ros`.
#
#   tools/ros/build_messages.sh [VENV]        (default: .venv)
#
# - CMake builds a copy of the ROS files in VENV/ros-build and installs into a staging folder.
# - The ROS layout goes into VENV: lib*.so (found at run time through the LD_LIBRARY_PATH that
#   the wheels' bootstrapper sets to VENV/lib), lib/occuseg_ros/<node executables>,
#   share/occuseg_ros/{package.xml,launch,config,msg} and the ament index marker.
# - The generated Python (occuseg_ros/msg/ and the typesupport extension modules) goes next to
#   the hand-written occuseg_ros/ package of this checkout, which pip installs in editable
#   mode: a copy in site-packages would shadow the checkout's own occuseg_ros modules.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$(cd "${1:-$repo/.venv}" && pwd)"
build="$venv/ros-build"
stage="$build/stage"
mkdir -p "$build"
exec 9>"$build/lock"
flock 9  # several people may run `make test` in one checkout at once

# CMake refuses to export include folders that lie inside the source tree, and .venv usually
# does: configure a copy of the package's ROS files instead of the checkout itself.
src="$build/src"
rm -rf "$src" "$stage"
mkdir -p "$src/launch" "$src/config"
cp -r "$repo/package.xml" "$repo/CMakeLists.txt" "$repo/msg" "$src/"
cp "$repo/launch/segment.launch.py" "$src/launch/"
cp "$repo/config/segment.yaml" "$repo/config/map_segment.yaml" "$repo/config/occuseg.rviz" \
  "$src/config/"

export AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv"
export PATH="$venv/bin:$PATH"
cmake -S "$src" -B "$build/cmake" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  -DPython3_EXECUTABLE="$venv/bin/python" -DOCCUSEG_INSTALL_PYTHON_SOURCES=OFF \
  -DCMAKE_PROJECT_INCLUDE="$repo/tools/ros/wheel_include_dirs.cmake" \
  -DCMAKE_INSTALL_PREFIX="$stage" >"$build/configure.log" 2>&1 \
  || { tail -n 40 "$build/configure.log"; exit 1; }
cmake --build "$build/cmake" -j "$(nproc)" >"$build/build.log" 2>&1 \
  || { tail -n 40 "$build/build.log"; exit 1; }
cmake --install "$build/cmake" >"$build/install.log" 2>&1 \
  || { tail -n 40 "$build/install.log"; exit 1; }

generated="$(echo "$stage"/lib/python3*/site-packages/occuseg_ros)"
rm -rf "$repo/occuseg_ros/msg" "$repo"/occuseg_ros/occuseg_ros_s__rosidl_typesupport_*.so
cp -r "$generated/msg" "$repo/occuseg_ros/msg"
cp "$generated"/occuseg_ros_s__rosidl_typesupport_*.so "$repo/occuseg_ros/"
cp "$stage"/lib/liboccuseg_ros__*.so "$venv/lib/"
rm -rf "$venv/lib/occuseg_ros" "$venv/share/occuseg_ros"
cp -r "$stage/lib/occuseg_ros" "$venv/lib/occuseg_ros"
cp -r "$stage/share/occuseg_ros" "$venv/share/occuseg_ros"
for kind in "$stage"/share/ament_index/resource_index/*/; do
  mkdir -p "$venv/share/ament_index/resource_index/$(basename "$kind")"
  cp "$kind"occuseg_ros "$venv/share/ament_index/resource_index/$(basename "$kind")/"
done
echo "occuseg_ros messages built into $venv and $repo/occuseg_ros/msg"
