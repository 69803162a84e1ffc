"""Turning a dataset's raw inputs into the model's: the model source's ``preprocess`` step.

Datasets do not know the model. A text dataset gives strings; a model source whose model
reads token ids gives a ``preprocess`` callable (its tokenizer) on the
:class:`~squeezebench.plugins.contracts.LoadedModel`. The workspace applies it to every
split as soon as the dataset is loaded, so methods (calibration, pruning traces), the
latency batches and the accuracy pass all see the same model inputs.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from squeezebench.errors import UserError
from squeezebench.plugins.contracts import DatasetSplits, LoadedModel, Split


def is_text(inputs: np.ndarray) -> bool:
    """True for arrays of strings (numpy ``str``, ``bytes`` or ``object`` dtype)."""
    return np.asarray(inputs).dtype.kind in "OUS"


def model_inputs(
    splits: DatasetSplits, model: LoadedModel, dataset: str, model_source: str
) -> DatasetSplits:
    """``splits`` with every split's inputs passed through ``model.preprocess`` (if any).

    Raises :class:`UserError` when the dataset gives text and the model takes none, or when
    the preprocessing step refuses the dataset's inputs.
    """
    parts = {field.name: getattr(splits, field.name) for field in dataclasses.fields(splits)}
    split_names = [name for name, value in parts.items() if isinstance(value, Split)]
    if model.preprocess is None:
        if any(is_text(parts[name].inputs) for name in split_names):
            raise UserError(
                f"dataset {dataset} gives text, but {model_source} has no tokenizer to turn it "
                "into model inputs (a text model comes from a source such as hf:)"
            )
        return splits
    converted = {
        name: Split(model.preprocess(parts[name].inputs), parts[name].labels)
        for name in split_names
    }
    return dataclasses.replace(splits, **converted)
