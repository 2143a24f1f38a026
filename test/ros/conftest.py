"""ROS test setup: DDS stays on this machine, whatever the caller's environment says.

Applied when pytest imports this file, before any test imports rclpy, and inherited by the
node processes the tests start. A robot's own settings are untouched: only tests do this.
"""

from __future__ import annotations

import os

from ros_helpers import apply_loopback_only_dds

apply_loopback_only_dds(os.environ)
