"""Choosing a packed layer's path by timing the candidates on the device ("never slower").

A decision is made per :class:`DispatchKey`: GPU name, activation dtype, packed format,
shape and batch bucket. Every path that can run there (:data:`PATHS`: our fused kernel, our
wide kernel, dequantize + cuBLAS, a cached dense copy + cuBLAS) is run once, which also
compiles it, and its output compared with dequantize + cuBLAS (a path that disagrees or
fails is rejected, never chosen); then each is timed and the fastest wins. Ties within
:data:`TIE_MARGIN` go to the earlier path of :data:`PATHS`, so the dense copy, which costs
memory, is taken only when it is really faster.

:func:`calibrate` and :func:`pick` are pure logic: candidates, timer and comparison are
injected (CUDA events and real launches in :mod:`~squeezebench.quantized.cuda.dispatch`,
fakes in the tests). :func:`event_timer` is the real timer.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

PATHS: tuple[str, ...] = ("fused", "wide", "dequantize", "dense")
TIE_MARGIN = 0.02
"""Timings within 2% of the fastest count as a tie (noise), won by the earlier path."""
AGREEMENT = 1e-2
"""Largest relative error ``||out - ref|| / ||ref||`` against dequantize + cuBLAS."""
REFERENCE = "dequantize"


@dataclass(frozen=True)
class DispatchKey:
    """What a decision is cached under."""

    device: str
    activation: str
    format: str
    out_features: int
    in_features: int
    batch_bucket: int

    def text(self) -> str:
        """The key in the decision file."""
        return (
            f"{self.device}|{self.activation}|{self.format}|"
            f"{self.in_features}x{self.out_features}|b{self.batch_bucket}"
        )

    def describe(self) -> str:
        """The key in a note: ``8192x28672 int4-sym-g128-f16-tiled float16 batch<=64``."""
        return (
            f"{self.in_features}x{self.out_features} {self.format} {self.activation} "
            f"batch<={self.batch_bucket}"
        )


def batch_bucket(batch: int) -> int:
    """The power of two at or above ``batch``: decisions are shared within a bucket."""
    return 1 << max(0, batch - 1).bit_length()


@dataclass(frozen=True)
class Decision:
    """The path chosen for a key, how (``calibrated``, ``cached``, ``forced``,
    ``heuristic``), the timings in microseconds and the rejected paths with the reason."""

    path: str
    source: str
    timings_us: dict[str, float] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    device: str = ""

    def without(self, unavailable: set[str], heuristic: str) -> Decision:
        """This decision where ``unavailable`` paths cannot run now (a dense copy over the
        memory budget): the fastest remaining timed path, else ``heuristic``."""
        if self.path not in unavailable:
            return self
        remaining = {p: t for p, t in self.timings_us.items() if p not in unavailable}
        path = pick(remaining) if remaining else heuristic
        rejected = {**self.rejected, **{p: "not available now" for p in unavailable}}
        return Decision(path, f"{self.source}, fallback", self.timings_us, rejected, self.device)

    def note(self, key: DispatchKey) -> str:
        """One line for a result row's ``runtime_notes``."""
        parts = [f"{self.source}" + (f" on {self.device}" if self.device else "")]
        if self.timings_us:
            ranked = sorted(self.timings_us.items(), key=lambda item: item[1])
            parts.append(", ".join(f"{p} {t:.1f} us" for p, t in ranked))
        parts += [f"{p} rejected: {why}" for p, why in self.rejected.items()]
        return f"cuda linear {key.describe()}: {self.path} ({'; '.join(parts)})"

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "timings_us": self.timings_us,
            "rejected": self.rejected,
            "device": self.device,
        }

    @classmethod
    def from_json(cls, entry: Mapping[str, Any], source: str) -> Decision:
        """A decision read back (a hand-written ``{"path": ...}`` is enough)."""
        path = entry.get("path")
        if path not in PATHS:
            raise ValueError(f"path must be one of {PATHS} (got {path!r})")
        timings = {str(k): float(v) for k, v in dict(entry.get("timings_us", {})).items()}
        rejected = {str(k): str(v) for k, v in dict(entry.get("rejected", {})).items()}
        return cls(path, source, timings, rejected, str(entry.get("device", "")))


def pick(timings_us: Mapping[str, float]) -> str:
    """The fastest path; within :data:`TIE_MARGIN` of it, the earliest of :data:`PATHS`."""
    best = min(timings_us.values())
    close = [p for p, t in timings_us.items() if t <= best * (1 + TIE_MARGIN)]
    return min(close, key=lambda p: PATHS.index(p) if p in PATHS else len(PATHS))


def calibrate(
    candidates: Mapping[str, Callable[[], Any]],
    timer: Callable[[Callable[[], Any]], float],
    compare: Callable[[Any, Any], float],
    device: str = "",
) -> Decision:
    """Run, check and time ``candidates`` (path -> call returning the output); the fastest
    correct one. The :data:`REFERENCE` path must be among them and must run."""
    if REFERENCE not in candidates:
        raise ValueError(f"calibration needs the {REFERENCE} path as its reference")
    reference = candidates[REFERENCE]()
    rejected: dict[str, str] = {}
    accepted = [REFERENCE]
    for path, call in candidates.items():
        if path == REFERENCE:
            continue
        try:
            output = call()
        except Exception as error:  # a kernel that cannot compile or launch here
            rejected[path] = f"failed: {type(error).__name__}: {str(error).splitlines()[0]}"
            continue
        error_ratio = compare(output, reference)
        if not error_ratio <= AGREEMENT:  # NaN too
            rejected[path] = f"disagrees with {REFERENCE} (relative error {error_ratio:.2g})"
            continue
        accepted.append(path)
    timings = {path: float(timer(candidates[path])) for path in accepted}
    return Decision(pick(timings), "calibrated", timings, rejected, device)


def relative_error(output: Any, reference: Any) -> float:
    """``||output - reference|| / ||reference||`` of two tensors (0 when both are zero)."""
    difference = float((output.float() - reference.float()).norm())
    scale = float(reference.float().norm())
    return difference / scale if scale > 0 else difference


def event_timer(device: Any, flush_bytes: int, repeats: int = 7) -> Callable[[Callable], float]:
    """A timer: median microseconds of ``repeats`` calls, each between two CUDA events
    on the current stream, with L2 flushed before each (in a model, each layer's weights
    arrive cold)."""
    import torch

    flush = torch.empty(max(flush_bytes, 1), dtype=torch.uint8, device=device)
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)

    def time_us(call: Callable[[], Any]) -> float:
        samples = []
        for _ in range(repeats):
            flush.zero_()
            start.record()
            call()
            end.record()
            end.synchronize()
            samples.append(start.elapsed_time(end) * 1e3)
        return statistics.median(samples)

    return time_us
