"""Every use of ``torch.ao`` quantization in squeezebench, in one place.

``torch.ao.quantization`` (eager and FX graph mode) is deprecated since torch 2.10 in favour
of torchao (``quantize_`` for eager weight quantization, ``prepare_pt2e`` / ``convert_pt2e``
for static quantization) and may be removed in a later release. Its int8 CPU kernels
(``quantized::linear``, ``quantized::conv2d``, fbgemm / x86 / qnnpack) are what the
``quantize.dynamic_int8`` and ``quantize.static_int8`` methods produce, so the day it goes,
this module is the only one to rewrite. The deprecation warnings are silenced here: they
are not actionable for squeezebench users and are documented in
``docs/methods/quantization.md``.

The leading underscore keeps this module from being loaded as a plugin. It imports torch
lazily, like the plugins that use it.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence torch.ao's deprecation and observer warnings (documented instead)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# ---------------------------------------------------------------------------------------------
# Dynamic int8
# ---------------------------------------------------------------------------------------------


def quantize_dynamic_linear(model: Any) -> Any:
    """``model`` with every ``nn.Linear`` dynamically quantized to int8 (per-tensor scale)."""
    import torch

    with _quiet():
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model.eval(), {torch.nn.Linear}, dtype=torch.qint8)


def dynamic_linear_types() -> tuple[type, ...]:
    """The dynamically quantized Linear type(s) that :func:`quantize_dynamic_linear` makes."""
    with _quiet():
        from torch.ao.nn.quantized.dynamic import Linear

    return (Linear,)


# ---------------------------------------------------------------------------------------------
# Static int8 (FX graph mode)
# ---------------------------------------------------------------------------------------------


def quantized_engine() -> str:
    """The quantized CPU engine torch uses here (``x86`` on x86-64, ``qnnpack`` on ARM)."""
    import torch

    return str(torch.backends.quantized.engine)


def static_quantize_fx(
    model: Any,
    example: Any,
    calibrate: Callable[[Any], None],
    per_channel: bool,
    activation_observer: str,
    keep_float: list[str] | tuple[str, ...] = (),
) -> Any:
    """Post-training static int8 quantization of ``model`` with torch.ao's FX graph mode.

    Traces ``model`` with ``torch.fx``, fuses Conv/Linear + ReLU, inserts observers
    (``activation_observer``: ``histogram`` or ``minmax`` for activations, quint8 affine;
    int8 symmetric weights, per output channel or per tensor), runs ``calibrate`` on the
    observed model, then converts it to quantized modules with int8 weights and int8 kernels.
    The result takes and returns float tensors (it quantizes its input and dequantizes its
    output). Modules named in ``keep_float`` stay in float (their qconfig is None). Tracing
    errors propagate (the caller words them).
    """
    import torch

    make_quantized_convs_picklable()
    with _quiet():
        from torch.ao.quantization import QConfig, get_default_qconfig_mapping
        from torch.ao.quantization.backend_config import (
            get_native_backend_config,
            get_qnnpack_backend_config,
        )
        from torch.ao.quantization.observer import (
            HistogramObserver,
            MinMaxObserver,
            PerChannelMinMaxObserver,
        )
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

        engine = quantized_engine()
        # fbgemm / x86 kernels can overflow with full-range activations on CPUs without
        # VNNI; torch's own default x86 qconfig reduces the activation range to 7 bits too.
        reduce_range = engine in ("x86", "fbgemm")
        observers = {"histogram": HistogramObserver, "minmax": MinMaxObserver}
        activation = observers[activation_observer].with_args(
            dtype=torch.quint8, qscheme=torch.per_tensor_affine, reduce_range=reduce_range
        )
        if per_channel:
            weight = PerChannelMinMaxObserver.with_args(
                dtype=torch.qint8, qscheme=torch.per_channel_symmetric
            )
        else:
            weight = MinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
        mapping = get_default_qconfig_mapping(engine).set_global(
            QConfig(activation=activation, weight=weight)
        )
        for name in keep_float:
            mapping.set_module_name(name, None)
        backend_config = (
            get_qnnpack_backend_config() if engine == "qnnpack" else get_native_backend_config()
        )
        prepared = prepare_fx(
            model.eval(), mapping, example_inputs=(example,), backend_config=backend_config
        )
        with torch.no_grad():
            calibrate(prepared)
        return convert_fx(prepared, backend_config=backend_config)


def make_quantized_convs_picklable() -> None:
    """Let ``pickle`` / ``torch.save(module)`` round-trip torch.ao's quantized convolutions.

    Their ``__setstate__`` assumes an initialised ``nn.Module`` (``copy.deepcopy`` does
    that, ``pickle`` does not), so a pickled quantized Conv (and any FX graph module holding
    one) fails to load with "object has no attribute '_modules'" (torch 2.13). Registering
    a reducer that rebuilds them as ``deepcopy`` does makes squeezebench's artifact cache
    work for ``quantize.static_int8`` artifacts. Idempotent; touches only these classes'
    pickling.
    """
    import copyreg

    with _quiet():
        import torch.ao.nn.intrinsic.quantized  # noqa: F401  (registers the fused subclasses)
        from torch.ao.nn.quantized.modules.conv import _ConvNd

    pending = [_ConvNd]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls is not _ConvNd:
            copyreg.pickle(cls, _reduce_quantized_conv)


def _reduce_quantized_conv(module: Any) -> tuple[Any, tuple[Any, ...]]:
    return (_rebuild_quantized_conv, (type(module), module.__getstate__()))


def _rebuild_quantized_conv(cls: type, state: Any) -> Any:
    """Rebuild a pickled quantized Conv the way its own ``__deepcopy__`` does."""
    import torch

    make_quantized_convs_picklable()
    module = cls.__new__(cls)
    torch.nn.Module.__init__(module)
    module.__setstate__(state)
    return module


def quantized_layer_types() -> tuple[type, ...]:
    """torch.ao's quantized Linear and Conv modules (static, fused with ReLU, and dynamic)."""
    with _quiet():
        import torch.ao.nn.quantized as nnq

    # the fused LinearReLU / ConvReLU modules and the dynamic Linear subclass these
    return (nnq.Linear, nnq.Conv1d, nnq.Conv2d, nnq.Conv3d)


def is_quantized_layer(module: Any) -> bool:
    """Whether ``module`` is one of torch.ao's quantized Linear or Conv modules."""
    return isinstance(module, quantized_layer_types())
