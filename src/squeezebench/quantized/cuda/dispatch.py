"""Which path a packed Linear layer takes on a CUDA tensor, and running it.

Per layer shape, activation dtype and batch bucket the fastest of the paths that can run
(:mod:`~squeezebench.quantized.cuda.paths`: fused kernel, wide kernel, dequantize + cuBLAS,
a dense copy within its memory budget) is chosen by a short calibration on the device,
timed with CUDA events, checked against dequantize + cuBLAS, and cached per GPU name and
shape on disk (:mod:`~squeezebench.quantized.cuda.decisions`; ``SQUEEZEBENCH_CUDA_DISPATCH``
overrides it). Layers under :data:`MIN_CALIBRATED_WEIGHTS` weights, and calls during CUDA
graph capture, take the static plan. Every call records its choice
(:mod:`~squeezebench.quantized.cuda.record`), which the torch backend hands to the
harness as the row's ``runtime_notes``.

The ``reference`` path (the layer's pure-torch forward) runs when CuPy is missing (said once
per process), kernels are switched off (``SQUEEZEBENCH_CUDA_KERNELS=0``) or the dtype is
float64.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import warnings
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from squeezebench.quantized.cuda import calibration, paths, source
from squeezebench.quantized.cuda.calibration import Decision, DispatchKey
from squeezebench.quantized.cuda.decisions import DecisionStore, choose, dispatch_setting
from squeezebench.quantized.cuda.record import record_use

if TYPE_CHECKING:
    from squeezebench.quantized.layers import QuantizedLinear

KERNELS_VARIABLE = "SQUEEZEBENCH_CUDA_KERNELS"
MIN_CALIBRATED_WEIGHTS = 1 << 20
"""Smaller layers are not worth a calibration (their paths differ by launch overheads)."""
MISSING_CUPY = (
    "CuPy is not installed, so packed (weight-only quantized) layers on CUDA run the "
    "reference path: the weight is dequantized on every forward. For squeezebench's CUDA "
    "kernels install the extra: pip install 'squeezebench[cuda]' (cupy-cuda12x; use the "
    "CuPy wheel matching your CUDA version)"
)
_RUNS_ON_KERNELS = (torch.float16, torch.bfloat16, torch.float32)

_logger = logging.getLogger("squeezebench")
_cupy_state: dict[str, object] = {}


def kernels_enabled() -> bool:
    """False when ``SQUEEZEBENCH_CUDA_KERNELS`` is ``0`` (compare with the reference path)."""
    return os.environ.get(KERNELS_VARIABLE, "1").strip().lower() not in ("0", "false", "no")


def cupy_problem() -> str | None:
    """Why CuPy cannot be used here (a message), or None; said once per process."""
    if "problem" not in _cupy_state:
        try:
            import cupy  # noqa: F401
        except Exception as error:  # ImportError, or a CUDA library CuPy cannot load
            problem = (
                MISSING_CUPY
                if isinstance(error, ModuleNotFoundError)
                else (
                    f"CuPy cannot be imported ({error}); packed layers on CUDA run the "
                    "reference path"
                )
            )
        else:
            problem = None
        _cupy_state["problem"] = problem
    problem = _cupy_state["problem"]
    if problem is not None and not _cupy_state.get("warned"):
        _cupy_state["warned"] = True
        warnings.warn(str(problem), RuntimeWarning, stacklevel=3)
        _logger.warning("%s", problem)
    return problem  # type: ignore[return-value]


@dataclass(frozen=True)
class Plan:
    """A prepared path for one (layer, dtype, batch): the runner and what to record."""

    path: str
    run: paths.Runner
    key_text: str
    note: str


def cuda_linear(x: torch.Tensor, layer: QuantizedLinear) -> torch.Tensor:
    """``layer(x)`` for a CUDA tensor ``x``, through the path chosen for its shape."""
    fmt = layer.format
    if not kernels_enabled() or cupy_problem() is not None:
        return layer.reference_forward(x)
    rows = x.reshape(-1, fmt.in_features)
    if rows.shape[0] == 0 or x.dtype not in _RUNS_ON_KERNELS:
        return layer.reference_forward(x)
    plan = plan_for(layer, rows)
    record_use(plan.key_text, plan.note)
    return plan.run(rows).reshape(*x.shape[:-1], fmt.out_features)


_plans: weakref.WeakKeyDictionary[Any, dict[tuple, tuple[tuple, Plan]]] = (
    weakref.WeakKeyDictionary()
)
"""Per layer, per (dtype, rows): the buffers' state the plan was made for, and the plan."""


def buffer_state(layer: QuantizedLinear) -> tuple:
    """Identity and version of the layer's buffers: a ``load_state_dict``, ``.to()`` or an
    in-place change makes every prepared runner stale."""
    buffers = (layer.packed_weight, layer.scales, layer.zero_points, layer.bias)
    return tuple((b.data_ptr(), b._version) if b is not None else None for b in buffers)


def plan_for(layer: QuantizedLinear, rows: torch.Tensor) -> Plan:
    """The plan for ``rows`` through ``layer``, made once per shape while the buffers stay."""
    state = buffer_state(layer)
    per_shape = _plans.setdefault(layer, {})
    shape = (rows.dtype, rows.shape[0])
    cached = per_shape.get(shape)
    if cached is not None and cached[0] == state:
        return cached[1]
    if any(entry[0] != state for entry in per_shape.values()):
        per_shape.clear()  # the buffers changed: every older plan is stale
    plan, keep = make_plan(layer, rows, state)
    if keep:
        per_shape[shape] = (state, plan)
    return plan


def make_plan(layer: QuantizedLinear, rows: torch.Tensor, state: tuple) -> tuple[Plan, bool]:
    """Decide the path for ``rows`` and prepare it; whether the plan may be cached."""
    dtype, batch = rows.dtype, rows.shape[0]
    available = paths.available_paths(layer, dtype, batch)
    heuristic = paths.heuristic_path(available, batch)
    key = dispatch_key(layer, dtype, batch, rows.device)
    runners: dict[str, paths.Runner | None] = {}

    def runner(path: str) -> paths.Runner | None:
        if path not in runners:
            runners[path] = build_runner(path, layer, dtype, batch, state)
        return runners[path]

    capturing = torch.cuda.is_current_stream_capturing()
    fmt = layer.format
    worth_it = fmt.out_features * fmt.in_features >= MIN_CALIBRATED_WEIGHTS

    def calibrate() -> Decision:
        candidates = {}
        for path in available:
            run = runner(path)
            if run is not None:  # None: a dense copy over the budget
                candidates[path] = functools.partial(run, rows)
        timer = calibration.event_timer(rows.device, _l2_bytes(rows.device))
        return calibration.calibrate(
            candidates, timer, calibration.relative_error, device=key.device
        )

    setting = dispatch_setting()
    decision = choose(
        key, available, heuristic, setting, _store(setting.file),
        calibrate if worth_it and not capturing else None,
    )  # fmt: skip
    run = runner(decision.path)
    if run is None:  # the dense copy no longer fits the budget
        decision = decision.without({decision.path}, heuristic)
        run = runner(decision.path)
    if run is None:
        raise RuntimeError(f"cuda dispatch: no runnable path for {key.describe()}")
    if decision.path != "dense":
        paths.drop_unused_dense(layer, dtype)
    else:
        paths.mark_dense_used(layer, dtype)
    plan = Plan(decision.path, run, key.text(), decision.note(key))
    return plan, not capturing


def build_runner(
    path: str, layer: QuantizedLinear, dtype: torch.dtype, batch: int, state: tuple
) -> paths.Runner | None:
    """The runner of ``path`` (None: the dense copy does not fit the budget)."""
    if path == "fused":
        return paths.fused_runner(layer, dtype, batch)
    if path == "wide":
        return paths.wide_runner(layer, dtype, batch)
    if path == "dense":
        return paths.dense_runner(layer, dtype, state)
    return paths.dequantize_runner(layer, dtype)


def dispatch_key(
    layer: QuantizedLinear, dtype: torch.dtype, batch: int, device: torch.device
) -> DispatchKey:
    """What the decision for this call is cached under."""
    fmt = layer.format
    groups = "ch" if fmt.groups == 1 else f"g{fmt.group_size}"
    scales = {torch.float16: "f16", torch.float32: "f32"}.get(layer.scales.dtype, "other")
    label = f"int{fmt.bits}-{fmt.scheme[:4]}-{groups}-{scales}-{fmt.layout}"
    return DispatchKey(
        _device_name(device),
        str(dtype).removeprefix("torch."),
        label,
        fmt.out_features,
        fmt.padded_in_features,
        calibration.batch_bucket(batch),
    )


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device)


def _l2_bytes(device: torch.device) -> int:
    return int(getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0) or 0)


@functools.cache
def _store(file: Path | None) -> DecisionStore:
    return DecisionStore(file, kernels_fingerprint())


def kernels_fingerprint() -> str:
    """What decisions depend on besides the GPU: the kernel source and launch shapes."""
    from squeezebench.quantized.cuda import wide_source

    text = source.source() + repr(source.configs_in_use()) + repr(wide_source.DEFAULT_WIDE_CONFIGS)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
