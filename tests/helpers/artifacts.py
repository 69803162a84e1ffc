"""What a model's shipped file holds, and how well it classifies the digits test split."""

from __future__ import annotations

import io
import zipfile
from typing import NamedTuple

import torch

from squeezebench.plugins.builtin.datasets.digits import digits_splits


class SavedStateDict(NamedTuple):
    """Sizes of ``torch.save(model.state_dict())``: the whole file and its tensor records."""

    file_bytes: int
    tensor_bytes: int
    tensor_records: int


def saved_state_dict(model: torch.nn.Module) -> SavedStateDict:
    """Save the state dict in memory and measure the file and the tensor data in it."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    records = [
        info.file_size
        for info in zipfile.ZipFile(buffer).infolist()
        if "/data/" in info.filename and not info.filename.endswith("serialization_id")
    ]
    return SavedStateDict(len(buffer.getvalue()), sum(records), len(records))


def digits_test_accuracy(model: torch.nn.Module) -> float:
    """Top-1 accuracy of ``model`` on the digits test split."""
    test = digits_splits().test
    with torch.inference_mode():
        predicted = model(torch.from_numpy(test.inputs)).argmax(dim=1).numpy()
    return float((predicted == test.labels).mean())
