"""A small reader for TensorFlow (V2 "tensor bundle") checkpoints, without TensorFlow.

A checkpoint is ``PREFIX.index`` (a LevelDB-style sorted table mapping variable names to a
``BundleEntryProto``: dtype, shape, shard, offset, size) and ``PREFIX.data-00000-of-00001`` (raw
little-endian tensor bytes). Only what musicnn's checkpoints use is supported: one shard,
uncompressed table blocks, float32/int64 tensors without slices.
Used once by ``scripts/convert_musicnn.py``; the product never imports it.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER_SIZE = 5  # compression type (1 byte) + crc32 (4 bytes)
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64}  # tensorflow DataType enum values


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _block(data: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """Key/value entries of one table block (prefix-compressed keys)."""
    if data[offset + size] != 0:
        raise ValueError("compressed checkpoint index blocks are not supported")
    block = data[offset: offset + size]
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    entries, pos, key = [], 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        non_shared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        key = key[:shared] + block[pos: pos + non_shared]
        pos += non_shared
        entries.append((key, block[pos: pos + value_len]))
        pos += value_len
    return entries


def _fields(message: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs of a protobuf message: varints, fixed32/64 and length-delimited."""
    out, pos = [], 0
    while pos < len(message):
        tag, pos = _varint(message, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(message, pos)
        elif wire == 1:
            value, pos = struct.unpack_from("<Q", message, pos)[0], pos + 8
        elif wire == 2:
            length, pos = _varint(message, pos)
            value, pos = message[pos: pos + length], pos + length
        elif wire == 5:
            value, pos = struct.unpack_from("<I", message, pos)[0], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((number, value))
    return out


def _entry(value: bytes) -> dict:
    """BundleEntryProto -> dtype, shape, shard_id, offset, size."""
    entry = {"dtype": 1, "shape": [], "shard_id": 0, "offset": 0, "size": 0}
    for number, field in _fields(value):
        if number == 1:
            entry["dtype"] = field
        elif number == 2:  # TensorShapeProto: repeated Dim dim = 2 { int64 size = 1 }
            for dim_number, dim in _fields(field):
                if dim_number == 2:
                    entry["shape"].append(next((v for n, v in _fields(dim) if n == 1), 0))
        elif number in (3, 4, 5):
            entry[{3: "shard_id", 4: "offset", 5: "size"}[number]] = field
        elif number == 7:
            raise ValueError("sliced checkpoint variables are not supported")
    return entry


def read_checkpoint(prefix: str | Path) -> dict[str, np.ndarray]:
    """Every variable of the checkpoint ``prefix`` (``prefix.index`` must exist) by name."""
    prefix = str(prefix)
    index = Path(prefix + ".index").read_bytes()
    data = Path(prefix + ".data-00000-of-00001").read_bytes()
    footer = index[-FOOTER_SIZE:]
    if struct.unpack_from("<Q", footer, FOOTER_SIZE - 8)[0] != TABLE_MAGIC:
        raise ValueError(f"{prefix}.index is not a TensorFlow checkpoint index")
    _, pos = _varint(footer, 0)  # metaindex handle, unused
    _, pos = _varint(footer, pos)
    index_offset, pos = _varint(footer, pos)
    index_size, pos = _varint(footer, pos)
    tensors: dict[str, np.ndarray] = {}
    for _, handle in _block(index, index_offset, index_size):
        offset, p = _varint(handle, 0)
        size, _ = _varint(handle, p)
        for key, value in _block(index, offset, size):
            if key == b"":  # the BundleHeaderProto
                continue
            entry = _entry(value)
            if entry["shard_id"] != 0:
                raise ValueError("multi-shard checkpoints are not supported")
            dtype = np.dtype(DTYPES[entry["dtype"]]).newbyteorder("<")
            raw = data[entry["offset"]: entry["offset"] + entry["size"]]
            tensors[key.decode()] = np.frombuffer(raw, dtype=dtype).reshape(entry["shape"]).copy()
    return tensors
