from __future__ import annotations

import numpy as np

from squeezebench.plugins.builtin.datasets.digits import Digits


def test_split_is_fixed_disjoint_and_complete() -> None:
    splits = Digits().load()
    sizes = [len(splits.train), len(splits.calibration), len(splits.test)]
    assert sum(sizes) == 1797
    assert sizes == [1078, 179, 540]
    assert splits.test.inputs.shape[1:] == (1, 8, 8)
    assert splits.test.inputs.dtype == np.float32
    assert splits.train.inputs.min() >= 0.0 and splits.train.inputs.max() <= 1.0
    flat = [s.inputs.reshape(len(s), -1) for s in (splits.train, splits.calibration, splits.test)]
    assert len(np.unique(np.concatenate(flat), axis=0)) > 1700  # real, varied images
    assert set(np.unique(splits.test.labels)) == set(range(10))
