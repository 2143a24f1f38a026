"""Clouds in any frame for map mode: transformed into `map_frame` with tf2_ros, or refused.

tf2_ros ships with every ROS 2 distribution but is not on PyPI, so it is optional here: when
it imports, `TfFrames` listens to /tf and looks up the transform from a cloud's frame into the
map frame at the cloud's stamp, waiting up to `transform_timeout_s`; without it, a cloud not
in the map frame is refused (reason `wrong_frame`) with a message that says why. Any object
with tf2_ros.Buffer's `lookup_transform(target, source, time, timeout)` can stand in for the
buffer (tests inject one).
"""

from __future__ import annotations

import numpy as np
from rclpy.duration import Duration
from rclpy.time import Time

from occuseg_ros.pointcloud import CloudError

try:
    import tf2_ros
except ImportError:  # not on PyPI; every ROS 2 distribution has it
    tf2_ros = None


class TfFrames:
    """Transforms for one map frame.

    Args:
        map_frame: the frame clouds are transformed into.
        buffer: a tf2_ros.Buffer or a stand-in; None = tf2_ros's own, filled by a
            TransformListener on `node` (no buffer when tf2_ros is not installed).
        node: the node the listener subscribes with (only when buffer is None).
    """

    def __init__(self, map_frame: str, buffer=None, node=None) -> None:
        self.map_frame = map_frame
        self.buffer, self._listener = buffer, None
        if buffer is None and tf2_ros is not None:
            self.buffer = tf2_ros.Buffer()
            self._listener = tf2_ros.TransformListener(self.buffer, node)

    def close(self) -> None:
        """Stops listening to /tf (the listener's subscriptions are destroyed)."""
        if self._listener is not None:
            self._listener.unregister()
            self._listener = None

    def to_map(self, frame: str, stamp, timeout_s: float) -> np.ndarray | None:
        """The 4x4 transform from `frame` into the map frame at `stamp` (None: the same frame).

        Raises:
            CloudError: "wrong_frame" without tf2_ros, "no_transform" when the buffer has no
                transform within timeout_s (the message gives the buffer's reason).
        """
        if frame == self.map_frame:
            return None
        if self.buffer is None:
            raise CloudError(
                "wrong_frame",
                f"frame '{frame}' is not the map frame '{self.map_frame}', and tf2_ros, which"
                " would transform it, is not installed: publish clouds in the map frame or"
                " run the node where tf2_ros is (any ROS 2 install)",
            )
        try:
            stamped = self.buffer.lookup_transform(
                self.map_frame, frame, Time.from_msg(stamp), Duration(seconds=timeout_s)
            )
        except Exception as error:  # noqa: BLE001 - tf2's Lookup/Extrapolation/Timeout/...
            raise CloudError(
                "no_transform",
                f"no transform from '{frame}' to '{self.map_frame}' at {stamp.sec}."
                f"{stamp.nanosec:09d} within {timeout_s:g} s: {error}",
            ) from None
        try:
            return transform_matrix(stamped.transform)
        except ValueError as error:
            raise CloudError(
                "no_transform", f"the transform from '{frame}' to '{self.map_frame}' at"
                f" {stamp.sec}.{stamp.nanosec:09d} is not a rotation: {error}",
            ) from None  # fmt: skip


def transform_matrix(transform) -> np.ndarray:
    """4x4 matrix of a geometry_msgs/Transform (quaternion x, y, z, w, normalised; translation).

    Raises:
        ValueError: a zero quaternion (no rotation at all).
    """
    from scipy.spatial.transform import Rotation

    q, t = transform.rotation, transform.translation
    matrix = np.eye(4)
    matrix[:3, :3] = Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix()
    matrix[:3, 3] = [t.x, t.y, t.z]
    return matrix


def transform_points(xyz: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, 3) points moved by a 4x4 matrix, computed in float64, returned as xyz's dtype."""
    moved = xyz.astype(np.float64) @ matrix[:3, :3].T + matrix[:3, 3]
    return moved.astype(xyz.dtype)
