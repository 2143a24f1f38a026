"""The second way to build (issue 5): `colcon build` of the package in a ROS 2 workspace, here
with the PyPI ROS wheels of the venv as the ROS installation (docs/ROS.md). The installed
package must provide the generated messages, occuseg_core and the share folder on its own."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["package.xml", "CMakeLists.txt", "setup.py", "msg", "launch", "config", "tools",
           "occuseg_core", "occuseg_ros"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.ros
def test_colcon_build_installs_a_usable_package(tmp_path):
    colcon = Path(sys.prefix) / "bin" / "colcon"
    source = tmp_path / "ws" / "src" / "occuseg"
    source.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.so", ".occuseg-ros-*", "msg")
    for name in SOURCES:
        path = REPO_ROOT / name
        if path.is_dir():
            # generated message code in occuseg_ros/msg is a build output, not a source
            shutil.copytree(path, source / name, ignore=ignore if name == "occuseg_ros" else None)
        else:
            shutil.copy2(path, source / name)
    env = {**os.environ, "AMENT_PREFIX_PATH": sys.prefix, "CMAKE_PREFIX_PATH": sys.prefix}
    subprocess.run(
        [str(colcon), "build", "--packages-select", "occuseg_ros", "--cmake-args",
         f"-DPython3_EXECUTABLE={sys.executable}", "-DBUILD_TESTING=OFF",
         f"-DCMAKE_PROJECT_INCLUDE={source / 'tools/ros/wheel_include_dirs.cmake'}"],
        cwd=tmp_path / "ws", env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    install = tmp_path / "ws" / "install" / "occuseg_ros"
    share_dir = install / "share" / "occuseg_ros"
    check = (
        "import occuseg_ros.msg as m, occuseg_core\n"
        "from ament_index_python.packages import get_package_share_directory as share\n"
        f"assert m.__file__.startswith({str(install)!r}), m.__file__\n"
        f"assert occuseg_core.__file__.startswith({str(install)!r})\n"
        f"assert share('occuseg_ros') == {str(share_dir)!r}\n"
        "i = m.InstanceArray(); i.instances = [m.Instance(id=7)]; assert i.instances[0].id == 7\n"
    )
    run_env = {
        **os.environ,
        "PYTHONPATH": str(
            install / f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"
        ),
        "LD_LIBRARY_PATH": str(install / "lib"),
        "AMENT_PREFIX_PATH": str(install),
    }
    subprocess.run([sys.executable, "-c", check], cwd=tmp_path, env=run_env, check=True)
    assert (install / "share/occuseg_ros/launch/segment.launch.py").is_file()
    assert (install / "share/occuseg_ros/config/segment.yaml").is_file()
