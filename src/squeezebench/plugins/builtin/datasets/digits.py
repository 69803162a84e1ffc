"""``digits``: scikit-learn's 1,797 real 8x8 handwritten digits, with a fixed split.

Inputs are float32 images of shape ``(N, 1, 8, 8)`` scaled to [0, 1]; labels are int64.
The split (60% train, 10% calibration, 30% test) is drawn once with a fixed seed, so every
spec and every built-in model sees the same test images.
"""

from __future__ import annotations

import functools
from typing import Any

from squeezebench.plugins.contracts import Dataset, DatasetSplits, Split
from squeezebench.plugins.markers import hookimpl

SPLIT_SEED = 0
TRAIN_FRACTION = 0.6
CALIBRATION_FRACTION = 0.1


@functools.cache
def digits_splits() -> DatasetSplits:
    """The digits splits (cached for the process)."""
    import numpy as np
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images.astype(np.float32) / 16.0)[:, None, :, :]
    labels = bunch.target.astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    n_train = int(TRAIN_FRACTION * len(labels))
    n_calibration = int(CALIBRATION_FRACTION * len(labels))
    parts = np.split(order, [n_train, n_train + n_calibration])
    train, calibration, test = (Split(np.ascontiguousarray(images[p]), labels[p]) for p in parts)
    return DatasetSplits(train=train, calibration=calibration, test=test, metric="top1")


class Digits(Dataset):
    """scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes), fixed split."""

    name = "digits"

    def load(self) -> DatasetSplits:
        return digits_splits()


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register the ``digits`` dataset."""
    registry.add_dataset(Digits)
