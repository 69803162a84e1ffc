"""A plugin that makes every model 30% slower (SQUEEZEBENCH_TEST_SLOWDOWN=0.3).

Loaded into the worker processes through SQUEEZEBENCH_PLUGINS: the code under test "got
slower" while the jobs, and so their identities, stay the same.
"""

from __future__ import annotations

import os
import time

import torch

_factor = float(os.environ.get("SQUEEZEBENCH_TEST_SLOWDOWN", "0"))
_original_forward = torch.nn.Sequential.forward


def _slower_forward(self, *args, **kwargs):
    start = time.perf_counter()
    result = _original_forward(self, *args, **kwargs)
    until = time.perf_counter() + _factor * (time.perf_counter() - start)
    while time.perf_counter() < until:  # busy-wait: sleep is too coarse for microseconds
        pass
    return result


if _factor > 0:
    torch.nn.Sequential.forward = _slower_forward
