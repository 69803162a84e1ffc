from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from squeezebench.plugins.builtin.models.safetensors_format import (
    SafetensorsError,
    decode,
    encode,
)

TENSORS = {
    "weight": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "counts": np.array([1, -2, 3], dtype=np.int64),
    "mask": np.array([True, False]),
    "half": np.array([[0.5]], dtype=np.float16),
    "scalar": np.array(3.0, dtype=np.float64),
    "empty": np.zeros((0, 5), dtype=np.float32),
}


def test_round_trip_keeps_dtype_shape_and_bits() -> None:
    tensors, metadata = decode(encode(TENSORS, {"b": "2", "a": "1"}))
    assert metadata == {"a": "1", "b": "2"}
    assert set(tensors) == set(TENSORS)
    for name, array in TENSORS.items():
        assert tensors[name].dtype == array.dtype and tensors[name].shape == array.shape
        assert tensors[name].tobytes() == array.tobytes()


def test_encoding_is_deterministic_and_keeps_data_8_byte_aligned() -> None:
    reordered = dict(reversed(list(TENSORS.items())))
    payload = encode(TENSORS, {"k": "v"})
    assert payload == encode(reordered, {"k": "v"})
    (length,) = struct.unpack("<Q", payload[:8])
    assert length % 8 == 0


def test_big_endian_input_is_stored_little_endian() -> None:
    big = np.arange(3, dtype=">f4")
    tensors, _ = decode(encode({"x": big}))
    assert tensors["x"].dtype == np.dtype("<f4")
    assert np.array_equal(tensors["x"], big)


def test_unsupported_dtype_is_refused() -> None:
    with pytest.raises(SafetensorsError, match="complex64"):
        encode({"z": np.zeros(2, dtype=np.complex64)})


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"abc", "shorter than"),
        (struct.pack("<Q", 1000) + b"{}", "does not fit"),
        (struct.pack("<Q", 3) + b"{x}", "not JSON"),
        (struct.pack("<Q", 2) + b"{}", None),
    ],
)
def test_malformed_headers(payload: bytes, message: str | None) -> None:
    if message is None:
        assert decode(payload) == ({}, {})
        return
    with pytest.raises(SafetensorsError, match=message):
        decode(payload)


def test_offsets_that_do_not_match_the_shape_are_refused() -> None:
    header = json.dumps({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}).encode()
    with pytest.raises(SafetensorsError, match="do not match its shape"):
        decode(struct.pack("<Q", len(header)) + header + b"\0" * 8)


def test_the_reference_implementation_reads_and_writes_the_same_format() -> None:
    reference = pytest.importorskip("safetensors.numpy")
    ours = encode(TENSORS, {"k": "v"})
    for name, array in reference.load(ours).items():
        assert array.dtype == TENSORS[name].dtype and array.tobytes() == TENSORS[name].tobytes()
    tensors, metadata = decode(reference.save(TENSORS, metadata={"k": "v"}))
    assert metadata == {"k": "v"}
    assert all(tensors[name].tobytes() == TENSORS[name].tobytes() for name in TENSORS)
