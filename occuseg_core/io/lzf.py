"""LZF, the byte-oriented LZ77 codec of PCD `binary_compressed` files (liblzf's stream format).

A stream is a sequence of chunks, each starting with a control byte `ctrl`:
    ctrl < 32: a literal run; the next ctrl + 1 bytes are copied to the output.
    ctrl >= 32: a back reference; length code L = ctrl >> 5 (if L == 7, one more byte is added
        to it), then one byte `low`; copy L + 2 bytes starting
        ((ctrl & 31) << 8) + low + 1 bytes back in the output (the copy may overlap itself).
The loops are compiled with numba (a 1M-point cloud is ~20 MB); numba is imported lazily, so
modules that never touch compressed PCD files do not pay for it.
"""

from __future__ import annotations

import functools

import numpy as np

from occuseg_core.errors import OccusegError

MAX_OFFSET = 8192  # a back reference reaches at most 8191 + 1 bytes back
MAX_MATCH = 7 + 255 + 2  # longest back reference: length code 7 + extra byte 255, plus 2
_HASH_BITS = 14


def _decompress_loop(src: np.ndarray, dst: np.ndarray) -> int:
    """Decodes src into dst; returns bytes written, -1 for a corrupt stream, -2 for overflow."""
    ip, op, n_in, n_out = 0, 0, src.shape[0], dst.shape[0]
    while ip < n_in:
        ctrl = np.int64(src[ip])
        ip += 1
        if ctrl < 32:
            run = ctrl + 1
            if ip + run > n_in:
                return -1
            if op + run > n_out:
                return -2
            dst[op : op + run] = src[ip : ip + run]
            ip, op = ip + run, op + run
            continue
        length = ctrl >> 5
        if length == 7:
            if ip >= n_in:
                return -1
            length += np.int64(src[ip])
            ip += 1
        if ip >= n_in:
            return -1
        ref = op - ((ctrl & 31) << 8) - 1 - np.int64(src[ip])
        ip += 1
        length += 2
        if ref < 0:
            return -1
        if op + length > n_out:
            return -2
        for k in range(length):  # byte by byte: the source may overlap the destination
            dst[op + k] = dst[ref + k]
        op += length
    return op


def _compress_loop(src: np.ndarray, dst: np.ndarray) -> int:
    """Greedy LZF: hash of the next 3 bytes -> last position seen; returns bytes written."""
    n = src.shape[0]
    table = np.full(1 << _HASH_BITS, -1, np.int64)
    i, op, literal_start = 0, 0, 0
    while True:
        length, offset = 0, 0
        if i + 2 < n:
            key = (np.int64(src[i]) << 16) | (np.int64(src[i + 1]) << 8) | np.int64(src[i + 2])
            slot = ((key * 2654435761) >> 10) & ((1 << _HASH_BITS) - 1)
            ref, table[slot] = table[slot], i
            offset = i - ref - 1
            if ref >= 0 and offset < MAX_OFFSET:
                longest = min(n - i, MAX_MATCH)
                while length < longest and src[ref + length] == src[i + length]:
                    length += 1
        if length < 3 and i < n:
            i += 1
            continue
        while literal_start < i:  # pending literals, in runs of at most 32
            run = min(i - literal_start, 32)
            dst[op] = run - 1
            dst[op + 1 : op + 1 + run] = src[literal_start : literal_start + run]
            op, literal_start = op + 1 + run, literal_start + run
        if i >= n:
            return op
        code = length - 2
        dst[op] = (min(code, 7) << 5) | (offset >> 8)
        if code >= 7:
            op += 1
            dst[op] = code - 7
        dst[op + 1] = offset & 255
        op += 2
        i += length
        literal_start = i


@functools.cache
def _compiled() -> tuple:
    import numba  # deferred: importing numba costs ~0.5 s

    jit = numba.njit(cache=True, nogil=True)
    return jit(_decompress_loop), jit(_compress_loop)


def lzf_decompress(data: bytes, uncompressed_size: int) -> bytes:
    """Decodes an LZF stream.

    Args:
        data: the compressed stream.
        uncompressed_size: the exact size of the decoded data in bytes.

    Returns:
        The decoded bytes (length `uncompressed_size`).

    Raises:
        OccusegError: the stream is corrupt or does not decode to exactly `uncompressed_size`.
    """
    decompress, _ = _compiled()
    out = np.empty(uncompressed_size, np.uint8)
    written = decompress(np.frombuffer(data, np.uint8), out) if data else 0
    if written == -1:
        raise OccusegError("corrupt LZF stream (reference before the start or cut short)")
    if written == -2 or written != uncompressed_size:
        raise OccusegError(
            f"LZF stream decodes to {'more than' if written == -2 else written} bytes,"
            f" expected {uncompressed_size}"
        )
    return out.tobytes()


def lzf_compress(data: bytes) -> bytes:
    """Encodes bytes as an LZF stream (greedy matching, never fails).

    Args:
        data: bytes to compress.

    Returns:
        The stream; at most len(data) + ceil(len(data) / 32) bytes (all literals).
    """
    _, compress = _compiled()
    src = np.frombuffer(data, np.uint8)
    out = np.empty(len(src) + len(src) // 32 + 1, np.uint8)
    return out[: compress(src, out)].tobytes()
