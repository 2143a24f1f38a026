"""Reading and writing scenes: PLY, PCD, NPZ and the ScanNet npy export."""

from occuseg_core.io.npz import read_npz, write_npz

__all__ = ["read_npz", "write_npz"]
