"""Acceptance: the installed segment_node runs as its own process with a real Segmenter (a small
random-weight checkpoint made here), over loopback DDS; its outputs are checked against the
Segmenter run in this process on the same points."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
import torch
from rclpy.qos import QoSProfile, ReliabilityPolicy
from ros_helpers import RosSession, apply_loopback_only_dds, spin_until
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from occuseg_core.config import UNetConfig, load_config
from occuseg_core.engine.checkpoint import save_checkpoint
from occuseg_core.inference import Segmenter
from occuseg_core.model import OccuSegNet
from occuseg_core.types import Scene
from occuseg_ros.msg import InstanceArray
from occuseg_ros.pointcloud import make_cloud, pack_rgb

pytestmark = pytest.mark.ros
NODE = Path(sys.prefix) / "lib" / "occuseg_ros" / "segment_node"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    config = load_config("small")
    config = config.replace_in("model", unet=UNetConfig(widths=(8, 16, 24), blocks_per_level=1))
    torch.manual_seed(0)
    model = OccuSegNet.from_config(config.model)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(path, {"config": config.to_dict(), "model": model.state_dict()})
    return path


@pytest.fixture(scope="module")
def node_process(checkpoint):
    """segment_node started from the installed layout (lib/occuseg_ros), CPU, namespaced; its
    instance filters off, as in the Segmenter it is compared with (random weights score low)."""
    assert NODE.is_file(), f"{NODE} missing: run `make ros`"
    namespace = f"/acceptance_{os.getpid()}"
    proc = subprocess.Popen(
        [str(NODE), "--ros-args", "-r", f"__ns:={namespace}", "-p", f"checkpoint:={checkpoint}",
         "-p", "device:=cpu", "-p", "max_points:=400000", "-p", "diagnostics_period_s:=0.5",
         "-p", "min_instance_points:=0", "-p", "score_threshold:=0.0"],
        env=apply_loopback_only_dds(dict(os.environ)), start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    yield proc, namespace
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def probe(node_process):
    proc, namespace = node_process
    session = RosSession()
    node = session.add(rclpy.create_node("acceptance_probe", context=session.context,
                                         namespace=namespace))  # fmt: skip
    reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    got = {"instances": [], "points": [], "markers": []}
    node.create_subscription(InstanceArray, "instances", got["instances"].append, reliable)
    node.create_subscription(PointCloud2, "instances/points", got["points"].append, reliable)
    node.create_subscription(MarkerArray, "instances/markers", got["markers"].append, reliable)
    pub = node.create_publisher(PointCloud2, "points", reliable)
    ready = spin_until(session.executor, lambda: pub.get_subscription_count() > 0
                       or proc.poll() is not None, timeout_s=240)  # fmt: skip
    assert ready and proc.poll() is None, proc.stdout.read() if proc.poll() is not None else ""
    yield session, pub, got, proc
    session.close()


def synthetic_scene(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A floor with three coloured boxes: (N, 3) float32 xyz, (N, 3) uint8 rgb."""
    rng = np.random.default_rng(seed)
    floor = np.c_[rng.uniform(0, 4, (6000, 2)), np.zeros(6000)]
    parts, colors = [floor], [np.tile([120, 110, 100], (6000, 1))]
    for k, (cx, cy) in enumerate([(1.0, 1.0), (2.5, 1.2), (1.8, 3.0)]):
        box = rng.uniform([-0.3, -0.3, 0.0], [0.3, 0.3, 0.7], (2500, 3)) + [cx, cy, 0.0]
        parts.append(box)
        colors.append(np.tile([[200, 40, 40], [40, 200, 40], [40, 40, 200]][k], (2500, 1)))
    return np.concatenate(parts).astype(np.float32), np.concatenate(colors).astype(np.uint8)


def pcl_layout(xyz, rgb, stamp) -> PointCloud2:
    """PCL PointXYZRGB padding: step 32, rgb (alpha 255) at 16."""
    data = b"".join(struct.pack("<fff4xBBBB12x", *p, c[2], c[1], c[0], 255)
                    for p, c in zip(xyz.tolist(), rgb.tolist(), strict=True))  # fmt: skip
    fields = [PointField(name=n, offset=o, datatype=PointField.FLOAT32, count=1)
              for n, o in [("x", 0), ("y", 4), ("z", 8), ("rgb", 16)]]  # fmt: skip
    return PointCloud2(
        header=header(stamp),
        height=1,
        width=len(xyz),
        fields=fields,
        point_step=32,
        row_step=32 * len(xyz),
        data=data,
        is_dense=True,
    )


def organized_float64_layout(xyz, rgb, stamp) -> PointCloud2:
    """Organized (rows of 100, NaN holes every 7th point), float64 x, y, z, uint8 r, g, b."""
    xyz = xyz.astype(np.float64).copy()
    xyz[::7] = np.nan
    msg = make_cloud(header(stamp), {"xyz": xyz, "r": rgb[:, 0], "g": rgb[:, 1],
                                     "b": rgb[:, 2]}, height=len(xyz) // 100)  # fmt: skip
    return msg


def header(stamp: int) -> Header:
    h = Header(frame_id="camera")
    h.stamp.sec = stamp
    return h


def expected_for(segmenter, xyz, rgb):
    valid = np.flatnonzero(np.isfinite(xyz).all(axis=1))
    scene = Scene(xyz=xyz[valid].astype(np.float32), colors=rgb[valid])
    return valid, segmenter.segment(scene)


def wait_for_stamp(session, got, stamp):
    assert spin_until(session.executor, lambda: any(
        a.header.stamp.sec == stamp for a in got["instances"]), timeout_s=240)  # fmt: skip
    assert spin_until(session.executor, lambda: any(
        p.header.stamp.sec == stamp for p in got["points"]), timeout_s=30)  # fmt: skip
    assert spin_until(session.executor, lambda: any(
        m.markers[0].header.stamp.sec == stamp for m in got["markers"]), timeout_s=30)  # fmt: skip
    pick = lambda items: next(i for i in items if i.header.stamp.sec == stamp)  # noqa: E731
    markers = next(m for m in got["markers"] if m.markers[0].header.stamp.sec == stamp)
    return pick(got["instances"]), pick(got["points"]), markers


def check_outputs(arr, cloud, markers, valid, result):
    assert [i.id for i in arr.instances] == [r.id + 1 for r in result.instances]
    for inst, rec in zip(arr.instances, result.instances, strict=True):
        assert (inst.class_id, inst.class_name, inst.point_count) == (
            rec.class_id, rec.class_name, rec.point_count)  # fmt: skip
        np.testing.assert_array_equal(inst.point_indices, valid[result.instance_ids == rec.id])
        # same model in two processes: multithreaded float sums differ in the last digits
        assert inst.score == pytest.approx(rec.score, abs=1e-3)
    ids = np.frombuffer(bytes(cloud.data), np.uint8).reshape(-1, cloud.point_step)[:, 16:20]
    np.testing.assert_array_equal(ids.copy().view("<u4").ravel(), result.instance_ids + 1)
    assert len(markers.markers) == 1 + 2 * len(result.instances)


@pytest.fixture(scope="module")
def reference_segmenter(checkpoint):
    return Segmenter.from_checkpoint(str(checkpoint), device="cpu")


@pytest.mark.parametrize("layout", ["pcl_xyzrgb", "organized_float64"])
def test_synthetic_scene_outputs_match_the_segmenter(probe, reference_segmenter, layout):
    session, pub, got, proc = probe
    xyz, rgb = synthetic_scene(seed=1)
    stamp = 100 + len(layout)
    make = pcl_layout if layout == "pcl_xyzrgb" else organized_float64_layout
    msg = make(xyz, rgb, stamp)
    sent_xyz = xyz.astype(np.float64).copy()
    if layout == "organized_float64":
        sent_xyz[::7] = np.nan
    valid, result = expected_for(reference_segmenter, sent_xyz, rgb)
    pub.publish(msg)
    check_outputs(*wait_for_stamp(session, got, stamp), valid, result)


def test_real_scannet_scan_outputs_match_the_segmenter(probe, reference_segmenter,
                                                       scannet_scene_dir):  # fmt: skip
    session, pub, got, proc = probe
    vert = np.load(scannet_scene_dir / "scene0000_00_vert_all.npy")
    xyz, rgb = vert[:, :3].astype(np.float32), vert[:, 3:6].astype(np.uint8)
    valid, result = expected_for(reference_segmenter, xyz, rgb)
    pub.publish(make_cloud(header(300), {"xyz": xyz, "rgb": pack_rgb(rgb)}))
    check_outputs(*wait_for_stamp(session, got, 300), valid, result)


def test_malformed_messages_do_not_stop_the_node(probe):
    session, pub, got, proc = probe
    xyz, rgb = synthetic_scene(seed=2)
    good = make_cloud(header(400), {"xyz": xyz, "rgb": pack_rgb(rgb)})
    broken = [make_cloud(header(401), {"xyz": np.full((10, 3), np.nan, np.float32)}),
              make_cloud(header(402), {"x": xyz[:, 0], "y": xyz[:, 1]}),
              PointCloud2(header=header(403), height=1, width=10, point_step=12, row_step=120,
                          fields=good.fields[:3], data=b"\0" * 7),
              PointCloud2(header=header(404), height=100000, width=100000, point_step=12,
                          row_step=1200000, fields=good.fields[:3])]  # fmt: skip
    for msg in broken:
        pub.publish(msg)
        time.sleep(0.05)
    pub.publish(good)
    wait_for_stamp(session, got, 400)
    assert proc.poll() is None
    assert not any(a.header.stamp.sec in (401, 402, 403, 404) for a in got["instances"])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.mark.slow
def test_200_clouds_at_5_hz_leave_memory_flat(probe):
    session, pub, got, proc = probe
    xyz, rgb = synthetic_scene(seed=3)
    xyz, rgb = xyz[::4], rgb[::4]
    rss = []
    for k in range(200):
        pub.publish(make_cloud(header(1000 + k), {"xyz": xyz, "rgb": pack_rgb(rgb)}))
        spin_until(session.executor, lambda: False, timeout_s=0.2)  # 5 Hz
        if k in (40, 199):
            rss.append(rss_mib(proc.pid))
    assert spin_until(
        session.executor,
        lambda: any(a.header.stamp.sec >= 1190 for a in got["instances"]),
        timeout_s=120,
    )
    assert proc.poll() is None
    assert rss[1] - rss[0] < 40.0, f"RSS grew from {rss[0]:.0f} to {rss[1]:.0f} MiB"
