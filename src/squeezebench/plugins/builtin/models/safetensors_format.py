"""Reading and writing the safetensors file format with numpy alone (no pickle, no new dependency).

The format (https://huggingface.co/docs/safetensors) is an 8-byte little-endian header length,
a JSON header ``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}``
and the raw little-endian tensor bytes. Files written here are read by the ``safetensors``
package and vice versa. The writer is deterministic: the same tensors and metadata give the same
bytes, so a retrained model that did not change keeps its sha256.
"""

from __future__ import annotations

import json
import struct

import numpy as np

DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NAMES = {dtype: name for name, dtype in DTYPES.items()}
_MAX_HEADER_BYTES = 100_000_000  # the reference implementation's limit


class SafetensorsError(ValueError):
    """The bytes are not a safetensors file this reader understands."""


def encode(tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    """The safetensors bytes of ``tensors`` (in name order) with string ``metadata``."""
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))
    chunks, offset = [], 0
    for name in sorted(tensors):
        array = np.asarray(tensors[name], order="C")  # ascontiguousarray makes 0-d 1-d
        little_endian = array.dtype.newbyteorder("<") if array.dtype.itemsize > 1 else array.dtype
        if little_endian not in _NAMES:
            raise SafetensorsError(f"{name}: dtype {array.dtype} is not supported")
        data = array.astype(little_endian, copy=False).tobytes()
        header[name] = {
            "dtype": _NAMES[little_endian],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # keep the data 8-byte aligned, as the reference writer does
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def decode(payload: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors (read-only views of ``payload``) and metadata of a safetensors file."""
    if len(payload) < 8:
        raise SafetensorsError("shorter than the 8-byte header length")
    (length,) = struct.unpack("<Q", payload[:8])
    if length > min(_MAX_HEADER_BYTES, len(payload) - 8):
        raise SafetensorsError(f"header length {length} does not fit the file")
    try:
        header = json.loads(payload[8 : 8 + length])
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SafetensorsError(f"header is not JSON: {error}") from None
    metadata = header.pop("__metadata__", None) or {}
    data = memoryview(payload)[8 + length :]
    tensors = {}
    for name, entry in header.items():
        try:
            dtype = DTYPES[entry["dtype"]]
            shape = tuple(int(size) for size in entry["shape"])
            begin, end = (int(offset) for offset in entry["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError(f"{name}: malformed header entry {entry!r}") from None
        expected = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
        if not 0 <= begin <= end <= len(data) or end - begin != expected:
            raise SafetensorsError(f"{name}: data offsets {begin}..{end} do not match its shape")
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape)
    return tensors, metadata
