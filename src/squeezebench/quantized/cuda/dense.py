"""Cached dense copies of packed weights, within a documented memory budget.

At large batches a product is compute-bound and cuBLAS on a dense float16/bfloat16 weight
is the fastest thing there is; dequantizing on every call adds a full write and read of
that weight. So one dense copy per layer (and activation dtype) may be kept on the device,
but only within ``SQUEEZEBENCH_CUDA_DENSE_BUDGET`` (:data:`BUDGET_VARIABLE`) for the whole
process: a byte count (``2147483648``, ``8GiB``, ``512MiB``), a share of the device's
memory (``10%``, the default) or ``0`` (never). A copy is also refused when it would take
more than half of the memory free at that moment. It is kept cached like the layer's
launchers (dropped when its buffers change) and its bytes return to the budget when the
layer is garbage-collected. Quantization saves memory: this gives some of it back, for
speed, and the choice is recorded in the row's ``runtime_notes``.
"""

from __future__ import annotations

import os
import re
import threading

from squeezebench.errors import UserError

BUDGET_VARIABLE = "SQUEEZEBENCH_CUDA_DENSE_BUDGET"
DEFAULT_BUDGET = "10%"
_UNITS = {"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def budget_bytes(total_memory: int, value: str | None = None) -> int:
    """The budget in bytes for a device of ``total_memory`` bytes; UserError if invalid."""
    value = os.environ.get(BUDGET_VARIABLE, DEFAULT_BUDGET) if value is None else value
    text = value.strip().lower().replace(" ", "")
    if match := re.fullmatch(r"(\d+(?:\.\d+)?)%", text):
        return int(total_memory * float(match.group(1)) / 100)
    if match := re.fullmatch(r"(\d+(?:\.\d+)?)([kmgt]?i?b?)", text):
        unit = match.group(2)
        if unit in _UNITS:
            return int(float(match.group(1)) * _UNITS[unit])
    raise UserError(
        f"{BUDGET_VARIABLE}={value!r}: expected bytes (e.g. 8GiB, 512MiB, 1000000), "
        "a share of device memory (e.g. 10%) or 0"
    )


class DenseBudget:
    """Bytes of dense copies held, per device, against the budget."""

    def __init__(self) -> None:
        self._held: dict[int, int] = {}
        self._lock = threading.Lock()

    def held(self, device: int) -> int:
        """Bytes of dense copies held on ``device``."""
        return self._held.get(device, 0)

    def reserve(self, device: int, nbytes: int, total_memory: int, free_memory: int) -> bool:
        """Take ``nbytes`` from the budget if it fits (and is under half the free memory)."""
        with self._lock:
            held = self._held.get(device, 0)
            if held + nbytes > budget_bytes(total_memory) or nbytes > free_memory // 2:
                return False
            self._held[device] = held + nbytes
            return True

    def release(self, device: int, nbytes: int) -> None:
        """Give ``nbytes`` back."""
        with self._lock:
            self._held[device] = max(0, self._held.get(device, 0) - nbytes)


BUDGET = DenseBudget()
"""The process's budget."""
