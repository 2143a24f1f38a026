"""Scene I/O: PLY, PCD (incl. LZF), NPZ, the ScanNet npy export and the suffix dispatch.

Files are built by hand (text, struct) or by an independent LZF codec written here, so the
readers are checked against values worked out in the docstrings, not against our own writers.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from occuseg_core.errors import OccusegError
from occuseg_core.io import (
    read_pcd,
    read_ply,
    read_ply_vertex_properties,
    read_scannet_export,
    read_scene,
    write_pcd,
    write_ply,
    write_scene,
)
from occuseg_core.io._ply_header import PLY_TYPES
from occuseg_core.io.lzf import lzf_compress, lzf_decompress
from occuseg_core.types import Scene


def make_scene(rng, n=40, *, normals=False, labels=False, faces=False, name="room_1") -> Scene:
    return Scene(
        xyz=rng.normal(size=(n, 3)).astype(np.float32) * 3.0,
        colors=rng.integers(0, 256, (n, 3), dtype=np.uint8),
        normals=rng.normal(size=(n, 3)).astype(np.float32) if normals else None,
        semantic=rng.integers(0, 41, n) if labels else None,
        instance=rng.integers(0, 9, n) if labels else None,
        faces=rng.integers(0, n, (2 * n, 3)) if faces else None,
        name=name,
    )


def assert_same(a: Scene, b: Scene, *, faces: bool = True) -> None:
    assert a.name == b.name
    np.testing.assert_array_equal(a.xyz, b.xyz)
    np.testing.assert_array_equal(a.colors, b.colors)
    for key in ("normals", "semantic", "instance") + (("faces",) if faces else ()):
        x, y = getattr(a, key), getattr(b, key)
        assert (x is None) == (y is None), key
        if x is not None:
            np.testing.assert_array_equal(x, y, err_msg=key)


# --- independent LZF codec (liblzf stream format), straightforward and slow -------------------


def reference_lzf_decompress(data: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(data):
        ctrl, i = data[i], i + 1
        if ctrl < 32:
            out += data[i : i + ctrl + 1]
            i += ctrl + 1
            continue
        length = ctrl >> 5
        if length == 7:
            length, i = length + data[i], i + 1
        start, i = len(out) - ((ctrl & 31) << 8) - data[i] - 1, i + 1
        for k in range(length + 2):
            out.append(out[start + k])
    return bytes(out)


def reference_lzf_compress(data: bytes, *, matches: bool = True) -> bytes:
    """Literal runs of <= 32 bytes; with `matches`, the longest match among the last 8
    positions sharing the next 3 bytes, up to 264 bytes long and 8192 bytes back."""
    out, literals, seen, i = bytearray(), bytearray(), {}, 0

    def flush() -> None:
        for s in range(0, len(literals), 32):
            chunk = literals[s : s + 32]
            out.extend(bytes([len(chunk) - 1]) + chunk)
        literals.clear()

    while i < len(data):
        best, best_at = 0, 0
        candidates = seen.setdefault(data[i : i + 3], []) if matches and i + 3 <= len(data) else []
        for j in candidates[-8:]:
            n = 0
            while n < 264 and i + n < len(data) and data[j + n] == data[i + n]:
                n += 1
            if n > best and i - j <= 8192:
                best, best_at = n, j
        if matches and i + 3 <= len(data):
            candidates.append(i)
        if best < 3:
            literals.append(data[i])
            i += 1
            continue
        flush()
        off, code = i - best_at - 1, best - 2
        out += bytes([(min(code, 7) << 5) | (off >> 8)] + ([code - 7] if code >= 7 else []))
        out.append(off & 255)
        i += best
    flush()
    return bytes(out)


LZF_SAMPLES = {
    "empty": b"",
    "one": b"x",
    "run_1000": b"a" * 1000,  # overlapping copies, lengths past 264
    "text": b"the quick brown fox jumps over the lazy dog; " * 40,
    "far_repeat": bytes(range(256)) * 40,  # a match 256 back, then ~9 KB of repeats
    "random": np.random.default_rng(3).integers(0, 256, 3000, dtype=np.uint8).tobytes(),
}


@pytest.mark.parametrize("name", sorted(LZF_SAMPLES))
def test_lzf_matches_the_reference_codec(name):
    data = LZF_SAMPLES[name]
    for stream in (reference_lzf_compress(data), reference_lzf_compress(data, matches=False)):
        assert reference_lzf_decompress(stream) == data  # the reference agrees with itself
        assert lzf_decompress(stream, len(data)) == data
    ours = lzf_compress(data)
    assert reference_lzf_decompress(ours) == data
    assert len(ours) <= len(data) + (len(data) + 31) // 32


def test_lzf_compresses_repetitive_data():
    """1000 x 'a' = literal 'a' then back references of <= 264 bytes, 3 bytes each: ~13 bytes."""
    assert len(lzf_compress(b"a" * 1000)) < 20


@pytest.mark.parametrize(
    "stream, size, message",
    [
        (bytes([0x20, 0x00]), 3, "corrupt"),  # back reference with nothing decoded yet
        (bytes([0x04, 0x61]), 5, "corrupt"),  # literal run of 5 with 1 byte present
        (bytes([0x02, 0x61, 0x62, 0x63]), 2, "more than"),  # 3 bytes into a 2-byte buffer
        (bytes([0x00, 0x61]), 4, "decodes to 1"),
    ],
)
def test_lzf_rejects_corrupt_streams(stream, size, message):
    with pytest.raises(OccusegError, match=message):
        lzf_decompress(stream, size)


# --- PLY ----------------------------------------------------------------------------------


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "ascii"])
@pytest.mark.parametrize("extras", [False, True], ids=["plain", "normals_labels"])
@pytest.mark.parametrize("faces", [False, True], ids=["cloud", "mesh"])
def test_ply_round_trip(tmp_path, rng, binary, extras, faces):
    scene = make_scene(rng, normals=extras, labels=extras, faces=faces)
    write_ply(tmp_path / "s.ply", scene, binary=binary)
    assert_same(read_ply(tmp_path / "s.ply"), scene)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.ply"]  # no temp file left


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "ascii"])
def test_ply_extra_properties_and_colour_override(tmp_path, rng, binary):
    scene = make_scene(rng, n=5)
    instance_colors = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 9, 9], [0, 0, 0]])
    extra = {
        "instance_id": np.array([-1, 0, 1, 1, 7], np.int32),
        "semantic_id": np.array([0, 3, 5, 5, 39], np.int64),  # written as int32
        "score": np.array([0.0, 0.25, 0.5, 1.0, 0.125], np.float32),
        "kept": np.array([True, False, True, True, False]),  # written as uchar
    }
    write_ply(tmp_path / "s.ply", scene, binary=binary, colors=instance_colors.astype(np.uint8),
              vertex_properties=extra)  # fmt: skip
    colors = read_ply(tmp_path / "s.ply").colors
    np.testing.assert_array_equal(np.round(colors * 255.0), instance_colors)
    props = read_ply_vertex_properties(tmp_path / "s.ply")
    assert list(props)[-4:] == list(extra)
    expected_dtypes = [np.int32, np.int32, np.float32, np.uint8]
    for (key, values), dtype in zip(extra.items(), expected_dtypes, strict=True):
        assert props[key].dtype == dtype
        np.testing.assert_array_equal(props[key], values.astype(dtype))


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"x": np.zeros(5)}, "already used"),
        ({"bad name": np.zeros(5)}, "invalid"),
        ({"score": np.zeros(4)}, r"must be \(5,\)"),
        ({"big": np.array([0, 0, 0, 0, 2**40])}, "32-bit"),
        ({"text": np.array(list("abcde"))}, "unsupported dtype"),
    ],
)
def test_write_ply_rejects_bad_properties(tmp_path, rng, extra, message):
    with pytest.raises(OccusegError, match=message):
        write_ply(tmp_path / "s.ply", make_scene(rng, n=5), vertex_properties=extra)
    assert not list(tmp_path.iterdir())


ASCII_PLY = """ply
format ascii 1.0
comment made by hand; properties out of order, float colours, ushort labels
element vertex 5
property float red
property float green
property float blue
property double x
property float y
property int z
property ushort semantic
property uchar instance
property uchar alpha
element face 2
property list uchar uint vertex_indices
element edge 1
property int vertex1
property int vertex2
end_header
1 0 0     0.5 -1.25 3   7 1 255
0 1 0     1.5 0 -2      7 1 255
0 0 0.5   2 2e-3 0      0 0 128
0.25 0 1  -0.5 1 1      40 2 0
1 1 1     0 0 0         0 0 0
4 0 1 2 3
3 2 3 4
0 4
"""


def test_read_hand_written_ascii_ply(tmp_path):
    """The quad (0 1 2 3) splits into (0 1 2) and (0 2 3); the triangle (2 3 4) stays."""
    (tmp_path / "hand.ply").write_text(ASCII_PLY)
    scene = read_ply(tmp_path / "hand.ply")
    np.testing.assert_array_equal(
        scene.xyz,
        np.float32([[0.5, -1.25, 3], [1.5, 0, -2], [2, 0.002, 0], [-0.5, 1, 1], [0] * 3]),
    )
    np.testing.assert_array_equal(scene.colors[:4], np.float32([[1, 0, 0], [0, 1, 0], [0, 0, .5],
                                                                [.25, 0, 1]]))  # fmt: skip
    np.testing.assert_array_equal(scene.semantic, [7, 7, 0, 40, 0])
    np.testing.assert_array_equal(scene.instance, [1, 1, 0, 2, 0])
    np.testing.assert_array_equal(scene.faces, [[0, 1, 2], [0, 2, 3], [2, 3, 4]])
    assert scene.normals is None and scene.name == "hand"


def test_read_big_endian_ply_with_mixed_types(tmp_path):
    """double x, float y, short z, uchar colours, float normals; faces via `vertex_index` with
    an int count: a triangle then a quad (variable length: the per-record path). The quad
    (3 2 1 0) fans into (3 2 1), (3 1 0)."""
    header = (
        "ply\nformat binary_big_endian 1.0\nelement vertex 4\nproperty double x\n"
        "property float y\nproperty short z\nproperty uchar red\nproperty uchar green\n"
        "property uchar blue\nproperty float nx\nproperty float ny\nproperty float nz\n"
        "element face 2\nproperty list int int vertex_index\nend_header\n"
    )
    rows = [(0.1, -2.5, 7, 255, 0, 51), (1e3, 0.0, -3, 0, 0, 0), (-1.0, 8.0, 0, 1, 2, 3),
            (2.0, 2.0, 2, 10, 20, 30)]  # fmt: skip
    body = b"".join(struct.pack(">dfhBBBfff", *r, 0.0, 0.0, 1.0) for r in rows)
    body += struct.pack(">i3i", 3, 0, 1, 2) + struct.pack(">i4i", 4, 3, 2, 1, 0)
    (tmp_path / "be.ply").write_bytes(header.encode() + body)
    scene = read_ply(tmp_path / "be.ply")
    np.testing.assert_array_equal(scene.xyz, np.float32([r[:3] for r in rows]))
    np.testing.assert_array_equal(scene.colors * 255, np.float32([r[3:] for r in rows]))
    np.testing.assert_array_equal(scene.normals, np.tile(np.float32([0, 0, 1]), (4, 1)))
    np.testing.assert_array_equal(scene.faces, [[0, 1, 2], [3, 2, 1], [3, 1, 0]])


@pytest.mark.parametrize("fmt", ["ascii", "binary_little_endian", "binary_big_endian"])
@pytest.mark.parametrize("type_name", sorted(PLY_TYPES))
def test_ply_scalar_types(tmp_path, type_name, fmt):
    """Two points (1, 2, 3) and (4, 5, 6) stored as `type_name`; no colours -> grey 0.5."""
    header = f"ply\nformat {fmt} 1.0\nelement vertex 2\n"
    header += "".join(f"property {type_name} {k}\n" for k in "xyz") + "end_header\n"
    values = np.arange(1, 7)
    if fmt == "ascii":
        body = b"1 2 3\n4 5 6\n"
    else:
        order = "<" if fmt == "binary_little_endian" else ">"
        body = values.astype(order + PLY_TYPES[type_name]).tobytes()
    (tmp_path / "t.ply").write_bytes(header.encode() + body)
    scene = read_ply(tmp_path / "t.ply")
    np.testing.assert_array_equal(scene.xyz, values.reshape(2, 3))
    np.testing.assert_array_equal(scene.colors, np.full((2, 3), 0.5, np.float32))


PLY_HEAD = "ply\nformat binary_little_endian 1.0\nelement vertex 2\n"
XYZ = "property float x\nproperty float y\nproperty float z\n"


@pytest.mark.parametrize(
    "content, message",
    [
        (b"PLY\nformat ascii 1.0\nend_header\n", "not a PLY file"),
        ((PLY_HEAD + XYZ).encode() + b"\x00" * 24, "no end_header"),
        ((PLY_HEAD + XYZ + "end_header\n").encode() + b"\x00" * 20, "truncated"),
        (
            (
                PLY_HEAD + XYZ + "element face 1\nproperty list uchar int vertex_indices\n"
                "end_header\n"
            ).encode()
            + b"\x00" * 24
            + b"\x03\x00\x00",
            "truncated",
        ),  # fmt: skip
        ((PLY_HEAD.replace("binary_little", "binary_middle") + "end_header\n").encode(), "format"),
        ((PLY_HEAD + "property float16 x\nend_header\n").encode(), "unsupported PLY type"),
        (b"ply\nformat ascii 1.0\nproperty float x\nend_header\n", "before any element"),
        (b"ply\nformat ascii 1.0\nelement vertex two\nend_header\n", "malformed"),
        (
            (PLY_HEAD + "property float x\nproperty float y\nend_header\n").encode()
            + b"\x00" * 16,
            r"lacks \['z'\]",
        ),  # fmt: skip
        (
            b"ply\nformat ascii 1.0\nelement face 0\nproperty list uchar int vertex_indices\n"
            b"end_header\n",
            "no vertex element",
        ),  # fmt: skip
        (
            (
                PLY_HEAD.replace("binary_little_endian", "ascii")
                + XYZ
                + "end_header\n1 2 x\n4 5 6\n"
            ).encode(),
            "non-numeric",
        ),  # fmt: skip
        (
            (
                PLY_HEAD.replace("binary_little_endian", "ascii") + XYZ + "element face 1\n"
                "property list uchar int vertex_indices\nend_header\n0 0 0\n1 1 1\n2 0 1\n"
            ).encode(),
            "face 0 has 2 corners",
        ),  # fmt: skip
        (
            (
                PLY_HEAD.replace("binary_little_endian", "ascii") + XYZ + "element face 1\n"
                "property list uchar int vertex_indices\nend_header\n0 0 0\n1 1 1\n3 0 1 5\n"
            ).encode(),
            "face indices",
        ),  # fmt: skip
    ],
)
def test_ply_errors_name_the_file_and_problem(tmp_path, content, message):
    (tmp_path / "bad.ply").write_bytes(content)
    with pytest.raises(OccusegError, match=message) as info:
        read_ply(tmp_path / "bad.ply")
    assert str(tmp_path / "bad.ply") in str(info.value)


# --- PCD ------------------------------------------------------------------------------------


def pcd_text(fields: str, sizes: str, types: str, width: int, data: str, *, height: int = 1,
             counts: str | None = None, points: int | None = None) -> bytes:  # fmt: skip
    counts = counts or " ".join("1" for _ in fields.split())
    points = width * height if points is None else points
    return (
        f"# .PCD v0.7 - made by hand\nVERSION 0.7\nFIELDS {fields}\nSIZE {sizes}\nTYPE {types}\n"
        f"COUNT {counts}\nWIDTH {width}\nHEIGHT {height}\nVIEWPOINT 0 0 0 1 0 0 0\n"
        f"POINTS {points}\nDATA {data}\n"
    ).encode()


@pytest.mark.parametrize("data", ["ascii", "binary", "binary_compressed"])
@pytest.mark.parametrize("extras", [False, True], ids=["plain", "normals_labels"])
def test_pcd_round_trip(tmp_path, rng, data, extras):
    scene = make_scene(rng, n=300, normals=extras, labels=extras, faces=True)
    write_pcd(tmp_path / "s.pcd", scene, data=data)
    assert_same(read_pcd(tmp_path / "s.pcd"), scene, faces=False)
    assert read_pcd(tmp_path / "s.pcd").faces is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.pcd"]


def test_read_hand_written_ascii_pcd(tmp_path):
    """PCL prints packed colours as integers (TYPE U): 4278222848 = 0xFF008000 -> (0, 128, 0),
    16711680 = 0x00FF0000 -> (255, 0, 0), 4286611584 = 0xFF808080 -> (128, 128, 128).
    `label` becomes the instance id."""
    head = pcd_text("x y z rgb normal_x normal_y normal_z label", "4 4 4 4 4 4 4 4",
                    "F F F U F F F U", 3, "ascii")  # fmt: skip
    rows = "1 2 3 4278222848 0 0 1 5\n-0.5 0.25 1e3 16711680 1 0 0 0\n0 0 0 4286611584 0 1 0 2\n"
    (tmp_path / "hand.pcd").write_bytes(head + rows.encode())
    scene = read_pcd(tmp_path / "hand.pcd")
    np.testing.assert_array_equal(scene.xyz, np.float32([[1, 2, 3], [-0.5, 0.25, 1000], [0] * 3]))
    np.testing.assert_array_equal(scene.colors * 255, [[0, 128, 0], [255, 0, 0], [128] * 3])
    np.testing.assert_array_equal(scene.normals, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(scene.instance, [5, 0, 2])
    assert scene.semantic is None and scene.name == "hand"


def test_read_ascii_pcd_with_float_printed_rgb(tmp_path):
    """Writers other than PCL print the float whose bits are the colour: 0x00FF8000 is the
    float 2.3463969e-38; 0x00000080 (blue 128) is the subnormal 1.7936620e-43."""
    packed = np.array([0x00FF8000, 0x00000080], np.uint32)
    texts = [repr(float(v)) for v in packed.view(np.float32)]
    head = pcd_text("x y z rgb", "4 4 4 4", "F F F F", 2, "ascii")
    (tmp_path / "f.pcd").write_bytes(head + f"0 0 0 {texts[0]}\n1 1 1 {texts[1]}\n".encode())
    colors = read_pcd(tmp_path / "f.pcd").colors
    np.testing.assert_array_equal(colors * 255, [[255, 128, 0], [0, 0, 128]])


def test_read_binary_pcd_with_padding_and_multi_value_fields(tmp_path):
    """Record (44 bytes): x y z, `_` padding, rgba 0x7F0A141E -> (10, 20, 30), a 3-value
    `fpfh` (skipped), label int32."""
    head = pcd_text("x y z _ rgba fpfh label", "4 4 4 4 4 4 4", "F F F F U F I", 2, "binary",
                    counts="1 1 1 1 1 3 1")  # fmt: skip
    body = struct.pack("<4fI3fi", 1, 2, 3, 9, 0x7F0A141E, 7, 7, 7, 4)
    body += struct.pack("<4fI3fi", -1, -2, -3, 9, 0x00FFFFFF, 7, 7, 7, 0)
    (tmp_path / "b.pcd").write_bytes(head + body + b"trailing bytes are ignored")
    scene = read_pcd(tmp_path / "b.pcd")
    np.testing.assert_array_equal(scene.xyz, [[1, 2, 3], [-1, -2, -3]])
    np.testing.assert_array_equal(scene.colors * 255, [[10, 20, 30], [255, 255, 255]])
    np.testing.assert_array_equal(scene.instance, [4, 0])


ORGANIZED_XYZ = np.float32([[0, 0, 1], [np.nan] * 3, [2, 0, 1], [0, 3, 1], [4, 3, np.inf],
                            [5, 3, 1]])  # fmt: skip
ORGANIZED_RGB = np.uint32([0x010203, 0, 0x040506, 0x070809, 0, 0x0A0B0C])


@pytest.mark.parametrize("data", ["ascii", "binary", "binary_compressed"])
@pytest.mark.parametrize("matches", [True, False], ids=["greedy_lzf", "literal_lzf"])
def test_read_organized_pcd_drops_non_finite_points(tmp_path, data, matches):
    """3 x 2 organized cloud with holes at flat indices 1 (NaN) and 4 (inf z): points 0, 2, 3,
    5 remain in row-major order with their colours. The compressed file also has a `_` field,
    which PCL leaves out of the field-after-field layout."""
    if data == "binary_compressed":
        head = pcd_text("x y z _ rgb", "4 4 4 4 4", "F F F F F", 3, data, height=2)
        raw = ORGANIZED_XYZ.T.tobytes() + ORGANIZED_RGB.tobytes()
        stream = reference_lzf_compress(raw, matches=matches)
        body = struct.pack("<II", len(stream), len(raw)) + stream
    else:
        head = pcd_text("x y z rgb", "4 4 4 4", "F F F U", 3, data, height=2)
        pairs = zip(ORGANIZED_XYZ, ORGANIZED_RGB, strict=True)
        rows = [" ".join(f"{v}" for v in p) + f" {c}" for p, c in pairs]
        records = np.empty(6, [("xyz", "<f4", (3,)), ("rgb", "<u4")])
        records["xyz"], records["rgb"] = ORGANIZED_XYZ, ORGANIZED_RGB
        body = ("\n".join(rows) + "\n").encode() if data == "ascii" else records.tobytes()
    (tmp_path / "o.pcd").write_bytes(head + body)
    scene = read_pcd(tmp_path / "o.pcd")
    np.testing.assert_array_equal(scene.xyz, ORGANIZED_XYZ[[0, 2, 3, 5]])
    np.testing.assert_array_equal(scene.colors * 255, [[1, 2, 3], [4, 5, 6], [7, 8, 9],
                                                       [10, 11, 12]])  # fmt: skip


XYZ_HEAD = pcd_text("x y z", "4 4 4", "F F F", 2, "binary")
NAN_BODY = np.full(6, np.nan, np.float32).tobytes()


@pytest.mark.parametrize(
    "content, message",
    [
        (XYZ_HEAD + b"\x00" * 20, "truncated PCD binary data"),
        (XYZ_HEAD + NAN_BODY, "no finite points"),
        (XYZ_HEAD.replace(b"DATA binary", b"DATA binary_compressed") + b"\x00" * 4, "no size"),
        (
            XYZ_HEAD.replace(b"DATA binary", b"DATA binary_compressed")
            + struct.pack("<II", 50, 24)
            + b"\x00" * 10,
            "50 bytes declared",
        ),  # fmt: skip
        (
            XYZ_HEAD.replace(b"DATA binary", b"DATA binary_compressed")
            + struct.pack("<II", 2, 24)
            + bytes([0x20, 0]),
            "corrupt LZF",
        ),  # fmt: skip
        (
            XYZ_HEAD.replace(b"DATA binary", b"DATA binary_compressed")
            + struct.pack("<II", 2, 1)
            + bytes([0, 7]),
            "too short for its fields",
        ),  # fmt: skip
        (
            XYZ_HEAD.replace(b"DATA binary", b"DATA binary_compressed")
            + struct.pack("<II", 2, 2**31)
            + bytes([0, 7]),
            "declares 2147483648 bytes",
        ),  # fmt: skip
        (XYZ_HEAD.replace(b"DATA binary", b"DATA lzma"), "unsupported PCD DATA"),
        (XYZ_HEAD.replace(b"DATA binary\n", b""), "no DATA line"),
        (XYZ_HEAD.replace(b"SIZE 4 4 4", b"SIZE 4 4"), "disagree"),
        (XYZ_HEAD.replace(b"TYPE F F F", b"TYPE F F H"), "TYPE H SIZE 4"),
        (XYZ_HEAD.replace(b"POINTS 2", b"POINTS 3"), "WIDTH 2 x HEIGHT 1 != POINTS 3"),
        (XYZ_HEAD.replace(b"WIDTH 2", b"WIDTH two"), "WIDTH must be integers"),
        (XYZ_HEAD.replace(b"WIDTH 2", b"WIDTH"), "WIDTH must be one integer"),
        (XYZ_HEAD.replace(b"HEIGHT 1", b"HEIGHT -1"), "HEIGHT must be one integer >= 0"),
        (XYZ_HEAD.replace(b"VERSION", b"VERSON"), "unknown PCD header line"),
        (pcd_text("x y intensity", "4 4 4", "F F F", 1, "binary") + b"\x00" * 12, "no \\['z'\\]"),
        (pcd_text("x y z", "4 4 4", "F F F", 0, "binary"), "no points"),
        (pcd_text("x y z", "4 4 4", "F F F", 2, "ascii") + b"1 2 3\n4 5\n", "truncated PCD ascii"),
        (pcd_text("x y z", "4 4 4", "F F F", 1, "ascii") + b"1 2 e\n", "bad value"),
        (pcd_text("x y z label", "4 4 4 4", "F F F I", 1, "ascii") + b"1 2 3 -4\n", ">= 0"),
    ],
)
def test_pcd_errors_name_the_file_and_problem(tmp_path, content, message):
    (tmp_path / "bad.pcd").write_bytes(content)
    with pytest.raises(OccusegError, match=message) as info:
        read_pcd(tmp_path / "bad.pcd")
    assert str(tmp_path / "bad.pcd") in str(info.value)


def test_real_scannet_mesh(scannet_scene_dir):
    path = scannet_scene_dir / "scene0000_00_vh_clean_2.labels_v1.ply"
    mesh = read_ply(path)
    assert mesh.num_points == 81369 and mesh.faces.shape == (153587, 3)
    assert mesh.normals is None and mesh.semantic is None
    label = read_ply_vertex_properties(path)["label"]  # ScanNet v1 raw category, skipped
    assert label.dtype == np.uint16 and label.shape == (81369,)


def test_scannet_export_equals_mesh_up_to_rigid_alignment(scannet_scene_dir):
    """The export's xyz = R @ mesh xyz + t (axis alignment): distances between vertices are
    equal, and the best rigid fit (Kabsch) leaves float32 round-off only, with det R = +1."""
    mesh = read_ply(scannet_scene_dir / "scene0000_00_vh_clean_2.labels_v1.ply")
    export = read_scene(scannet_scene_dir)
    assert export.name == "scene0000_00" and export.num_points == mesh.num_points
    assert export.semantic.max() <= 40 and export.instance.max() > 0
    a, b = mesh.xyz.astype(np.float64), export.xyz.astype(np.float64)
    pick = np.random.default_rng(0).choice(len(a), 300, replace=False)
    dist = lambda p: np.linalg.norm(p[:, None] - p[None], axis=-1)  # noqa: E731
    np.testing.assert_allclose(dist(a[pick]), dist(b[pick]), atol=1e-4)
    u, _, vt = np.linalg.svd((a - a.mean(0)).T @ (b - b.mean(0)))
    rotation = (u @ vt).T
    assert np.linalg.det(rotation) > 0
    residual = b - b.mean(0) - (a - a.mean(0)) @ rotation.T
    assert np.abs(residual).max() < 1e-4


# --- ScanNet npy export (synthetic) ----------------------------------------------------------


def write_export(folder, name="scene0042_01", n=6, labels=True):
    xyz_rgb = np.column_stack([np.arange(3 * n).reshape(n, 3), np.full((n, 3), 51.0)])
    np.save(folder / f"{name}_vert_all.npy", xyz_rgb.astype(np.float32))
    if labels:
        np.save(folder / f"{name}_sem_label_all.npy", np.arange(n, dtype=np.uint32))
        np.save(folder / f"{name}_ins_label_all.npy", np.arange(n, dtype=np.uint32) % 2)
    return folder / f"{name}_vert_all.npy"


def test_read_scannet_export_file_and_folder(tmp_path):
    """Colour 51 / 255 = 0.2; labels as stored."""
    path = write_export(tmp_path)
    for scene in (read_scannet_export(path), read_scene(tmp_path), read_scene(path)):
        assert scene.name == "scene0042_01"
        np.testing.assert_array_equal(scene.xyz, np.arange(18).reshape(6, 3))
        np.testing.assert_allclose(scene.colors, 0.2)
        np.testing.assert_array_equal(scene.semantic, np.arange(6))
        np.testing.assert_array_equal(scene.instance, [0, 1, 0, 1, 0, 1])
    (tmp_path / "no_labels").mkdir()
    bare = read_scene(write_export(tmp_path / "no_labels", labels=False))
    assert bare.semantic is None and bare.instance is None


def test_scannet_export_errors(tmp_path):
    with pytest.raises(OccusegError, match="found 0"):
        read_scannet_export(tmp_path)
    write_export(tmp_path, "a")
    write_export(tmp_path, "b")
    with pytest.raises(OccusegError, match="found 2"):
        read_scene(tmp_path)
    np.save(tmp_path / "a_vert_all.npy", np.zeros((4, 5), np.float32))
    with pytest.raises(OccusegError, match=r"a_vert_all.npy: expected \(N, 6\)"):
        read_scannet_export(tmp_path / "a_vert_all.npy")
    np.save(tmp_path / "b_sem_label_all.npy", np.zeros(5, np.uint32))
    with pytest.raises(OccusegError, match=r"b_sem_label_all.npy: expected \(6,\)"):
        read_scannet_export(tmp_path / "b_vert_all.npy")
    (tmp_path / "c_vert_all.npy").write_bytes(b"not numpy")
    with pytest.raises(OccusegError, match="c_vert_all.npy: not a readable"):
        read_scene(tmp_path / "c_vert_all.npy")


# --- dispatch --------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".ply", ".PCD", ".npz"])
def test_write_scene_read_scene_round_trip(tmp_path, rng, suffix):
    scene = make_scene(rng, normals=True, labels=True, name=f"s{suffix.lower()[1:]}")
    write_scene(scene, tmp_path / f"s{suffix}")
    assert_same(read_scene(tmp_path / f"s{suffix}"), scene)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"s{suffix}"]


def test_dispatch_errors(tmp_path, rng):
    with pytest.raises(OccusegError, match=r"x\.obj: unsupported.*\.ply, \.pcd, \.npz"):
        read_scene(tmp_path / "x.obj")
    with pytest.raises(OccusegError, match=r"x\.las: cannot write .las; supported: \.ply"):
        write_scene(make_scene(rng), tmp_path / "x.las")
    for name in ("missing.ply", "missing.pcd", "missing.npz", "missing_vert_all.npy"):
        with pytest.raises(OccusegError, match=f"{name}: no such file"):
            read_scene(tmp_path / name)
    with pytest.raises(OccusegError, match="does not exist"):
        write_scene(make_scene(rng), tmp_path / "no_folder" / "x.ply")


def test_scannet_export_attaches_faces_of_its_mesh(tmp_path):
    """The export's rows are the mesh vertices, so the sibling mesh's faces apply as they are;
    a mesh with another vertex count is ignored."""
    from occuseg_core.io.ply import write_ply
    from occuseg_core.io.scannet import read_scannet_export

    xyz = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], np.float32)
    np.save(
        tmp_path / "scene9_00_vert_all.npy", np.c_[xyz, np.full((4, 3), 100.0)].astype(np.float32)
    )
    assert read_scannet_export(tmp_path).faces is None
    faces = np.array([[0, 1, 2], [1, 3, 2]])
    write_ply(tmp_path / "scene9_00_vh_clean_2.ply", Scene(xyz, np.zeros((4, 3)), faces=faces))
    np.testing.assert_array_equal(read_scannet_export(tmp_path).faces, faces)
    assert read_scannet_export(tmp_path, with_mesh_faces=False).faces is None
    write_ply(
        tmp_path / "scene9_00_vh_clean_2.ply", Scene(xyz[:3], np.zeros((3, 3)), faces=faces[:1])
    )
    assert read_scannet_export(tmp_path).faces is None


def test_real_scannet_export_gets_its_mesh_faces(scannet_scene_dir):
    from occuseg_core.io.scannet import read_scannet_export

    scene = read_scannet_export(scannet_scene_dir)
    assert scene.faces.shape == (153587, 3)
