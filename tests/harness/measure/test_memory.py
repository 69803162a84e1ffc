from __future__ import annotations

import sys

import numpy as np
import pytest

from squeezebench.harness.measure.memory import PeakMemory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_peak_growth_sees_a_temporary_allocation() -> None:
    with PeakMemory() as peak:
        block = np.ones(64 * 1024 * 1024 // 8)  # 64 MiB, touched
        del block
    assert peak.growth_bytes is not None
    assert peak.growth_bytes >= 48 * 1024 * 1024
