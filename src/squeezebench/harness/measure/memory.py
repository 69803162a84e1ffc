"""Peak resident memory of this process during a block, from Linux's VmHWM.

Writing ``5`` to ``/proc/self/clear_refs`` resets the peak (high-water mark) to the current
resident size, so VmHWM read afterwards is the peak reached inside the block. Elsewhere the
measurement is unavailable (None) rather than guessed.
"""

from __future__ import annotations

from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class PeakMemory:
    """``with PeakMemory() as peak: ...`` then ``peak.growth_bytes`` (None if unsupported)."""

    def __init__(self) -> None:
        self.growth_bytes: int | None = None
        self._start_kib: int | None = None

    def __enter__(self) -> PeakMemory:
        try:
            _CLEAR_REFS.write_text("5")
        except OSError:
            return self
        self._start_kib = _status_kib("VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        peak = _status_kib("VmHWM")
        if self._start_kib is not None and peak is not None:
            self.growth_bytes = max(0, peak - self._start_kib) * 1024
