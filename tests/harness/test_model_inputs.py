"""The model source's preprocessing step applied to a dataset's splits."""

from __future__ import annotations

import numpy as np
import pytest

from squeezebench.errors import UserError
from squeezebench.harness.model_inputs import model_inputs
from squeezebench.plugins.contracts import DatasetSplits, LoadedModel, Split


def _texts(*texts: str) -> Split:
    return Split(np.array(texts), np.arange(len(texts)))


TEXT_SPLITS = DatasetSplits(
    train=_texts("a b", "c"), calibration=_texts("d"), test=_texts("e f g", "h"), metric="x"
)


def test_every_split_goes_through_preprocess_and_keeps_its_labels() -> None:
    def word_counts(texts: np.ndarray) -> np.ndarray:
        return np.array([[len(str(t).split()), 0] for t in texts], dtype=np.int64)

    model = LoadedModel(artifact=None, example_input=None, preprocess=word_counts)
    splits = model_inputs(TEXT_SPLITS, model, "texts", "hf:enc")
    assert splits.test.inputs.tolist() == [[3, 0], [1, 0]]
    assert splits.train.inputs.tolist() == [[2, 0], [1, 0]]
    assert splits.calibration.inputs.shape == (1, 2)
    assert splits.test.labels.tolist() == [0, 1] and splits.metric == "x"


def test_text_for_a_model_without_a_tokenizer_is_a_user_error() -> None:
    model = LoadedModel(artifact=None, example_input=None)
    with pytest.raises(UserError, match="dataset texts gives text, but builtin:digits-mlp"):
        model_inputs(TEXT_SPLITS, model, "texts", "builtin:digits-mlp")


def test_numeric_data_without_preprocess_is_left_alone() -> None:
    numbers = Split(np.zeros((2, 3), dtype=np.float32), None)
    splits = DatasetSplits(train=numbers, calibration=numbers, test=numbers)
    model = LoadedModel(artifact=None, example_input=None)
    assert model_inputs(splits, model, "numbers", "builtin:x") is splits
