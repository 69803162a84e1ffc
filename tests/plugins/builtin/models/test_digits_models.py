from __future__ import annotations

import pytest
import torch

from squeezebench.harness.measure.quality import top1
from squeezebench.plugins.builtin.datasets.digits import digits_splits
from squeezebench.plugins.builtin.models import digits_models
from squeezebench.plugins.builtin.models.builtin_source import BuiltinModels


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


def test_trained_model_is_cached_by_content_key(_model_cache) -> None:
    digits_models.trained_model("digits-mlp")
    key = digits_models.cache_key("digits-mlp")
    assert (_model_cache / "models" / f"digits-mlp-{key}.pt").is_file()
    assert key != digits_models.cache_key("digits-cnn")


def test_builtin_source_checks_names(tmp_path) -> None:
    source = BuiltinModels()
    assert source.check("digits-cnn", tmp_path) is None
    assert "did you mean 'digits-mlp'" in source.check("digits-mpl", tmp_path)
    loaded = source.load("digits-cnn", tmp_path, seed=0)
    assert tuple(loaded.example_input.shape) == (1, 1, 8, 8)
