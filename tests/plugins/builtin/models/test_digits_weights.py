from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from squeezebench.plugins.builtin.models import digits_weights, safetensors_format


def test_encode_state_dict_round_trips_through_the_format() -> None:
    state = {
        "0.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3),
        "0.bias": torch.ones(2),
    }
    payload = digits_weights.encode_state_dict(state, {"model": "m"})
    tensors, metadata = safetensors_format.decode(payload)
    assert metadata == {"model": "m"}
    for key, value in state.items():
        assert torch.equal(torch.from_numpy(tensors[key].copy()), value)


def test_write_weights_replaces_the_file_and_leaves_no_temporary(tmp_path) -> None:
    digits_weights.write_weights(tmp_path, "digits-mlp", b"old")
    path = digits_weights.write_weights(tmp_path, "digits-mlp", b"new")
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["digits-mlp.safetensors"]


def test_package_weights_folder_is_the_folder_importlib_finds() -> None:
    folder = digits_weights.package_weights_folder()
    assert folder is not None
    assert (folder / "digits-cnn.safetensors").read_bytes() == (
        digits_weights.shipped_file("digits-cnn").read_bytes()
    )


@pytest.fixture
def source_copy(tmp_path) -> Path:
    copy = tmp_path / "digits_weights.py"
    shutil.copy(digits_weights.__file__, copy)
    return copy


def test_pin_rewrites_only_the_named_entries_of_a_source_file(source_copy) -> None:
    before = dict(digits_weights.SHIPPED_SHA256)
    digits_weights.pin({"digits-cnn": "ab" * 32}, source_copy)
    text = source_copy.read_text(encoding="utf-8")
    assert f'    "digits-cnn": "{"ab" * 32}",' in text
    assert f'    "digits-mlp": "{before["digits-mlp"]}",' in text
    # a copy elsewhere does not change what this process pins
    assert before == digits_weights.SHIPPED_SHA256


def test_pin_refuses_what_is_not_a_sha256_or_not_pinned(source_copy) -> None:
    with pytest.raises(ValueError, match="not a hex sha256"):
        digits_weights.pin({"digits-cnn": "xyz"}, source_copy)
    with pytest.raises(ValueError, match="expected one pinned sha256 for digits-rnn, found 0"):
        digits_weights.pin({"digits-rnn": "ab" * 32}, source_copy)
