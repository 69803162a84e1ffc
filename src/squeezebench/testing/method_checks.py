"""Conformance of a :class:`~squeezebench.plugins.Method`: what ``apply`` must give."""

from __future__ import annotations

import copy
import io
import warnings
from dataclasses import dataclass
from typing import Any

from squeezebench.errors import MethodError
from squeezebench.plugins.contracts import ONNX_MODEL, TORCH_MODULE, MethodContext
from squeezebench.testing.cases import MethodCase
from squeezebench.testing.failures import fail, skip
from squeezebench.testing.params_checks import check_params_model
from squeezebench.testing.reference import (
    fingerprint,
    onnx_outputs,
    reference_data,
    reference_model,
    torch_outputs,
)


@dataclass
class Applied:
    """One application of a method: what went in, what came out, the context it used."""

    original: Any
    result: Any
    example: Any
    context: MethodContext


def check_method_declares_its_contract(case: MethodCase) -> None:
    """``name``, ``takes``, ``gives`` and a one-line summary are set and well formed."""
    cls = case.method
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name or name != name.strip():
        fail(cls.__name__, "set the class attribute name, e.g. 'mine.halve'")
    takes = cls.takes
    if not (isinstance(takes, tuple) and takes and all(isinstance(t, str) for t in takes)):
        fail(name, f"takes must be a non-empty tuple of format strings, got {takes!r}")
    if not isinstance(cls.gives, str) or not cls.gives:
        fail(name, f"gives must be a format string, got {cls.gives!r}")
    if not (cls.__doc__ or "").strip():
        fail(name, "give the class a docstring: its first line is the method's summary")


def check_method_params(case: MethodCase) -> None:
    """The ``Params`` model is closed and the case's params round-trip through JSON."""
    check_params_model(case.label, case.method.Params, case.params)


def check_method_changes_the_model(case: MethodCase) -> None:
    """``apply`` gives its ``gives`` format and a different artifact (or adds an encoder)."""
    applied = apply_once(case)
    gives = case.method.gives
    _check_format(case.label, applied.result, gives)
    if not case.changes_model:
        return
    before = fingerprint(applied.original, _input_format(case))
    after = fingerprint(applied.result, gives)
    if before == after and not applied.context.encoders:
        fail(
            case.label,
            f"apply with {dict(case.params)!r} returned the model unchanged (same weights, "
            "no encoder added); give params that change it, or MethodCase(changes_model="
            "False) for a method that only records something",
        )


def check_method_result_runs_and_serializes(case: MethodCase) -> None:
    """The result runs on a batch (same batch size, finite outputs), and pickles like the
    artifact cache stores it (``torch.save``), giving the same outputs once loaded."""
    applied = apply_once(case)
    gives, result, example = case.method.gives, applied.result, applied.example
    outputs = _outputs(case.label, result, gives, example)
    if outputs is None:
        return
    if outputs.shape[:1] != tuple(example.shape[:1]):
        fail(case.label, f"a batch of {example.shape[0]} gave outputs of shape {outputs.shape}")
    import numpy as np
    import torch

    if not np.all(np.isfinite(outputs)):
        fail(case.label, "the compressed model outputs NaN or inf on the reference batch")
    buffer = io.BytesIO()
    try:
        if gives == TORCH_MODULE:
            torch.save(result.state_dict(), io.BytesIO())  # what the torch backend ships
        torch.save(result, buffer)  # what the artifact cache shares between workers
        buffer.seek(0)
        with warnings.catch_warnings():  # torch's own deprecation notices about storages
            warnings.simplefilter("ignore", UserWarning)
            loaded = torch.load(buffer, weights_only=False)
    except Exception as error:
        fail(case.label, f"the result does not serialize: {type(error).__name__}: {error}")
    again = _outputs(case.label, loaded, gives, example)
    if again is None or not np.array_equal(again, outputs):
        fail(case.label, "the result gives other outputs after a save and load")


def check_method_is_deterministic(case: MethodCase) -> None:
    """The same model, params and seed give the same artifact (results are cached on that)."""
    first, second = apply_once(case), apply_once(case)
    gives = case.method.gives
    if fingerprint(first.result, gives) != fingerprint(second.result, gives):
        fail(
            case.label,
            "two applications with the same seed gave different artifacts; draw every "
            "random choice from ctx.seed (torch.Generator().manual_seed(ctx.seed))",
        )


def apply_once(case: MethodCase) -> Applied:
    """Apply the case's method to a fresh input, as the harness does (step name set)."""
    artifact, example, original = _fresh_input(case)
    params = case.method.Params.model_validate(dict(case.params))
    context = MethodContext(
        seed=0,
        data=reference_data(),
        example_input=example,
        teacher=original,
        current_step=case.method.name,
    )
    for key, value in case.context.items():
        setattr(context, key, value)
    try:
        result = case.method().apply(artifact, params, context)
    except MethodError as error:
        fail(case.label, f"declined the model: {error} (pass MethodCase(model=...) that suits it)")
    return Applied(original, result, example, context)


def _input_format(case: MethodCase) -> str:
    takes = case.method.takes
    if TORCH_MODULE in takes:
        return TORCH_MODULE
    if ONNX_MODEL in takes:
        return ONNX_MODEL
    skip(f"the kit makes torch.module and onnx inputs; {case.label} takes {', '.join(takes)}")


def _fresh_input(case: MethodCase) -> tuple[Any, Any, Any]:
    """``(input artifact, example batch, an untouched copy of the input)``."""
    module, example = (case.model or reference_model)()
    fmt = _input_format(case)
    if fmt == TORCH_MODULE:
        return module, example, copy.deepcopy(module)
    from squeezebench.plugins.builtin.converters.torch_to_onnx import TorchToOnnx

    reason = TorchToOnnx().check()
    if reason is not None:
        skip(f"{case.label} takes onnx: {reason}")
    exported = TorchToOnnx().convert(module, example)
    return exported, example, exported


def _check_format(label: str, artifact: Any, fmt: str) -> None:
    if fmt == TORCH_MODULE:
        import torch

        if not isinstance(artifact, torch.nn.Module):
            fail(label, f"gives torch.module but apply returned {type(artifact).__name__}")
    elif fmt == ONNX_MODEL and not isinstance(artifact, bytes):
        fail(label, f"gives onnx (the model's bytes) but apply returned {type(artifact).__name__}")


def _outputs(label: str, artifact: Any, fmt: str, example: Any) -> Any:
    try:
        if fmt == TORCH_MODULE:
            return torch_outputs(artifact, example)
        if fmt == ONNX_MODEL:
            import importlib.util

            if importlib.util.find_spec("onnxruntime") is None:
                skip("running an onnx result needs onnxruntime (pip install 'squeezebench[onnx]')")
            return onnx_outputs(artifact, example)
    except Exception as error:
        fail(label, f"the compressed model does not run: {type(error).__name__}: {error}")
    skip(f"the kit cannot run format {fmt}; check it with a BackendCase of your backend")
