from __future__ import annotations

import fnmatch
import hashlib
import warnings
from importlib import resources
from pathlib import Path

import pytest
import torch

from squeezebench.harness.measure.quality import top1
from squeezebench.plugins.builtin.datasets.digits import digits_splits
from squeezebench.plugins.builtin.models import digits_models, digits_weights, safetensors_format
from squeezebench.plugins.builtin.models.builtin_source import BuiltinModels

REPO = Path(__file__).resolve().parents[4]


def _shipped_bytes(name: str) -> bytes:
    return (
        resources.files("squeezebench.plugins.builtin.models")
        .joinpath("weights", f"{name}.safetensors")
        .read_bytes()
    )


@pytest.mark.parametrize("name", digits_models.ARCHITECTURES)
def test_shipped_weights_are_found_via_importlib_and_match_their_pinned_sha256(name: str) -> None:
    digest = hashlib.sha256(_shipped_bytes(name)).hexdigest()
    assert digest == digits_weights.SHIPPED_SHA256[name]


def test_package_data_covers_the_shipped_weights() -> None:
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["squeezebench"]
    for name in digits_models.ARCHITECTURES:
        relative = f"plugins/builtin/models/weights/{name}.safetensors"
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative


@pytest.mark.parametrize("name", digits_models.ARCHITECTURES)
def test_loaded_model_equals_the_shipped_state_dict_bit_for_bit(name: str) -> None:
    shipped, _ = safetensors_format.decode(_shipped_bytes(name))
    loaded = digits_models.trained_model(name).state_dict()
    assert set(loaded) == set(shipped)
    for key, tensor in loaded.items():
        assert tensor.dtype == torch.float32
        assert tensor.numpy().tobytes() == shipped[key].tobytes(), key


def test_a_normal_load_neither_trains_nor_warns(monkeypatch) -> None:
    def forbidden(*args, **kwargs):
        raise AssertionError("trained although the shipped weights are intact")

    monkeypatch.setattr(digits_models, "train", forbidden)
    monkeypatch.setattr(digits_models, "cached_or_trained_model", forbidden)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in digits_models.ARCHITECTURES:
            assert not digits_models.trained_model(name).training


def test_a_sha256_mismatch_warns_and_falls_back_to_training(monkeypatch) -> None:
    monkeypatch.setitem(digits_weights.SHIPPED_SHA256, "digits-mlp", "0" * 64)
    monkeypatch.setattr(digits_models, "cached_or_trained_model", lambda name: f"trained {name}")
    with pytest.warns(
        RuntimeWarning, match=r"digits-mlp: .* have sha256 [0-9a-f]{64}, expected 0{64}"
    ):
        assert digits_models.trained_model("digits-mlp") == "trained digits-mlp"


def test_a_missing_file_warns_and_falls_back_to_training(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(digits_weights, "shipped_file", lambda name: tmp_path / "absent")
    monkeypatch.setattr(digits_models, "cached_or_trained_model", lambda name: f"trained {name}")
    with pytest.warns(RuntimeWarning, match="are missing; training it with the built-in recipe"):
        assert digits_models.trained_model("digits-cnn") == "trained digits-cnn"


@pytest.mark.parametrize("name", digits_models.ARCHITECTURES)
def test_trained_model_reaches_95_percent_on_the_test_split(name: str) -> None:
    model = digits_models.trained_model(name)
    test = digits_splits().test
    with torch.inference_mode():
        outputs = model(torch.from_numpy(test.inputs)).numpy()
    assert top1(outputs, test.labels) >= 0.95


def test_training_is_deterministic() -> None:
    first = digits_models.build_architecture("digits-mlp")
    second = digits_models.build_architecture("digits-mlp")
    digits_models.train(first)
    digits_models.train(second)
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_the_training_fallback_is_cached_by_content_key(_model_cache) -> None:
    digits_models.cached_or_trained_model("digits-mlp")
    key = digits_models.cache_key("digits-mlp")
    assert (_model_cache / "models" / f"digits-mlp-{key}.pt").is_file()
    assert key != digits_models.cache_key("digits-cnn")


def test_retrain_weights_writes_a_loadable_file_and_reports_its_sha256(monkeypatch, tmp_path):
    def constant_training(model):
        for parameter in model.parameters():
            parameter.data.fill_(0.25)

    monkeypatch.setattr(digits_models, "train", constant_training)
    result = digits_models.retrain_weights("digits-mlp", tmp_path)
    payload = result.path.read_bytes()
    assert result.path == tmp_path / "digits-mlp.safetensors"
    assert result.sha256 == hashlib.sha256(payload).hexdigest()
    assert result.previous_sha256 == digits_weights.SHIPPED_SHA256["digits-mlp"]
    tensors, metadata = safetensors_format.decode(payload)
    assert metadata["model"] == "digits-mlp" and metadata["seed"] == "0"
    model = digits_models.build_architecture("digits-mlp")
    model.load_state_dict({key: torch.from_numpy(value.copy()) for key, value in tensors.items()})
    assert all(bool((p == 0.25).all()) for p in model.parameters())
    # the package's own file is untouched
    assert hashlib.sha256(_shipped_bytes("digits-mlp")).hexdigest() == result.previous_sha256


def test_builtin_source_checks_names(tmp_path) -> None:
    source = BuiltinModels()
    assert source.check("digits-cnn", tmp_path) is None
    assert "did you mean 'digits-mlp'" in source.check("digits-mpl", tmp_path)
    loaded = source.load("digits-cnn", tmp_path, seed=0)
    assert tuple(loaded.example_input.shape) == (1, 1, 8, 8)
