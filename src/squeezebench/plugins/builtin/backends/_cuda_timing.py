"""CUDA helpers shared by the torch-based backends: event timing and availability reasons."""

from __future__ import annotations

from typing import Any


class CudaEventTimer:
    """Times one call with a pair of ``torch.cuda.Event`` recorded on ``stream``.

    ``start`` records the first event, ``stop`` records the second and waits for it
    (``Event.synchronize``), ``elapsed_ms`` is ``start.elapsed_time(end)``: the GPU time
    between the two marks, free of Python and launch jitter on the host side of ``stop``.
    ``stream`` None means the current stream of ``device`` at each call.
    """

    def __init__(self, device: str, stream: Any = None) -> None:
        import torch

        self._torch = torch
        self._device = torch.device(device)
        self._stream = stream
        self._start = torch.cuda.Event(enable_timing=True)
        self._end = torch.cuda.Event(enable_timing=True)

    def _current_stream(self) -> Any:
        if self._stream is not None:
            return self._stream
        return self._torch.cuda.current_stream(self._device)

    def start(self) -> None:
        """Record the start event on the stream."""
        self._start.record(self._current_stream())

    def stop(self) -> None:
        """Record the end event and block until the device reaches it."""
        self._end.record(self._current_stream())
        self._end.synchronize()

    def elapsed_ms(self) -> float:
        """GPU milliseconds between the start and end events."""
        return float(self._start.elapsed_time(self._end))


def cuda_unavailable_reason(torch: Any, device: str) -> str | None:
    """Why ``device`` (``cuda`` or ``cuda:N``) cannot run here, or None when it can."""
    if torch.version.cuda is None:
        return f"CUDA is not available (torch {torch.__version__} built without CUDA)"
    if not torch.cuda.is_available():
        return f"CUDA is not available (torch {torch.__version__}: no CUDA device visible)"
    index = torch.device(device).index
    count = torch.cuda.device_count()
    if index is not None and index >= count:
        return f"{device} does not exist: torch sees {count} CUDA device(s)"
    return None
