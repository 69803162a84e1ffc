"""``ort.quantize_dynamic`` and ``ort.quantize_static``: int8 ONNX models with onnxruntime.

Both take and give ONNX models (bytes); on a torch model the harness exports it first with
the ``torch-to-onnx`` converter and notes that in the method log. They call
``onnxruntime.quantization`` as a user would, optionally after its ``quant_pre_process``
(symbolic shape inference and graph optimization, which lets more nodes be quantized):

* dynamic: int8 (or uint8) weights, activations quantized at run time per batch;
* static: weights and activations in int8, activation ranges calibrated on the dataset's
  calibration split, written as QuantizeLinear/DequantizeLinear pairs (QDQ, the format
  execution providers fuse) or as QOperator nodes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from squeezebench.errors import MethodError
from squeezebench.plugins.contracts import ONNX_MODEL, Method, MethodContext
from squeezebench.plugins.markers import hookimpl

INSTALL_HINT = "pip install 'squeezebench[onnx]'"
IntType = Literal["int8", "uint8"]


class OrtDynamicParams(BaseModel):
    """Parameters of ``ort.quantize_dynamic``."""

    model_config = ConfigDict(extra="forbid")

    weight_type: IntType = Field("int8", description="Integer type of the quantized weights.")
    per_channel: bool = Field(False, description="One weight scale per output channel.")
    reduce_range: bool = Field(
        False, description="7-bit weights, for older x86 CPUs without VNNI (avoids overflow)."
    )
    op_types: list[str] | None = Field(
        None,
        min_length=1,
        description="ONNX op types to quantize (e.g. ['MatMul', 'Gemm']); null: every "
        "type onnxruntime can quantize dynamically.",
    )
    preprocess: bool = Field(
        False,
        description="Run onnxruntime's quant_pre_process (shape inference, graph "
        "optimization) first.",
    )


class OrtStaticParams(OrtDynamicParams):
    """Parameters of ``ort.quantize_static``."""

    activation_type: IntType = Field("int8", description="Integer type of the activations.")
    quant_format: Literal["QDQ", "QOperator"] = Field(
        "QDQ",
        description="QDQ: QuantizeLinear/DequantizeLinear pairs around float ops (fused by "
        "the execution providers); QOperator: integer operators such as QLinearConv.",
    )
    calibration_method: Literal["minmax", "entropy", "percentile"] = Field(
        "minmax", description="How activation ranges are chosen from the calibration data."
    )
    symmetric_activations: bool = Field(
        False,
        description="Activation ranges symmetric around zero (zero point 0): what TensorRT "
        "requires of Q/DQ models; the default uses asymmetric ranges.",
    )
    calibration_samples: int | None = Field(
        None,
        ge=1,
        description="Samples of the calibration split to calibrate on; null: all of them.",
    )
    batch_size: int = Field(
        32,
        ge=1,
        description="Calibration samples per inference; the calibration samples are cut to a "
        "multiple of it (onnxruntime's histogram calibrators need equal batches).",
    )


def _quantization() -> Any:
    try:
        from onnxruntime import quantization
    except ImportError:
        raise MethodError(
            f"onnxruntime is not installed, so ONNX models cannot be quantized ({INSTALL_HINT})"
        ) from None
    return quantization


class _OrtQuantization(Method):
    """Shared plumbing: bytes in a temporary folder, pre-processing, the method log."""

    takes = (ONNX_MODEL,)
    gives = ONNX_MODEL

    def apply(self, artifact: Any, params: Any, ctx: MethodContext) -> bytes:
        quantization = _quantization()
        payload = bytes(artifact)
        with tempfile.TemporaryDirectory(prefix="squeezebench-ort-") as folder:
            source = Path(folder) / "model.onnx"
            source.write_bytes(payload)
            if params.preprocess:
                processed = Path(folder) / "processed.onnx"
                quantization.quant_pre_process(str(source), str(processed))
                source = processed
            output = Path(folder) / "quantized.onnx"
            kwargs = {
                "op_types_to_quantize": params.op_types,
                "per_channel": params.per_channel,
                "reduce_range": params.reduce_range,
                "weight_type": _quant_type(quantization, params.weight_type),
            }
            self.quantize(quantization, source, output, kwargs, params, ctx)
            result = output.read_bytes()
        sizes = f"ONNX model {len(payload):,} -> {len(result):,} bytes"
        ctx.note(f"{_quantized_nodes(result)}; {sizes}")
        return result

    def quantize(
        self, quantization: Any, source: Path, output: Path, kwargs: dict, params: Any, ctx: Any
    ) -> None:
        """Write the quantized model of ``source`` to ``output``."""
        raise NotImplementedError


class OrtDynamicQuantization(_OrtQuantization):
    """onnxruntime dynamic quantization: int8 weights, activations quantized at run time."""

    name = "ort.quantize_dynamic"
    Params = OrtDynamicParams

    def quantize(
        self, quantization: Any, source: Path, output: Path, kwargs: dict, params: Any, ctx: Any
    ) -> None:
        quantization.quantize_dynamic(str(source), str(output), **kwargs)


class OrtStaticQuantization(_OrtQuantization):
    """onnxruntime static quantization (QDQ), activation ranges calibrated on data."""

    name = "ort.quantize_static"
    Params = OrtStaticParams

    def quantize(
        self,
        quantization: Any,
        source: Path,
        output: Path,
        kwargs: dict,
        params: OrtStaticParams,
        ctx: MethodContext,
    ) -> None:
        if ctx.data is None:
            raise MethodError(
                "ort.quantize_static calibrates activation ranges on the dataset's "
                "calibration split; the spec names no dataset"
            )
        inputs = ctx.data.calibration.inputs[: params.calibration_samples]
        if len(inputs) > params.batch_size:
            # onnxruntime's histogram calibrators (entropy, percentile) stack the batches'
            # outputs into one array, so every batch must have the same size
            inputs = inputs[: len(inputs) - len(inputs) % params.batch_size]
        methods = quantization.CalibrationMethod
        quantization.quantize_static(
            str(source),
            str(output),
            calibration_batches(inputs, params.batch_size, quantization.CalibrationDataReader),
            quant_format=getattr(quantization.QuantFormat, params.quant_format),
            activation_type=_quant_type(quantization, params.activation_type),
            calibrate_method={
                "minmax": methods.MinMax,
                "entropy": methods.Entropy,
                "percentile": methods.Percentile,
            }[params.calibration_method],
            **_with_extra_options(kwargs, {"ActivationSymmetric": params.symmetric_activations}),
        )
        ctx.note(f"calibrated on {len(inputs)} samples ({params.calibration_method})")


def _with_extra_options(kwargs: dict, options: dict) -> dict:
    """``kwargs`` with ``options`` added to onnxruntime's ``extra_options`` mapping."""
    return {**kwargs, "extra_options": {**kwargs.get("extra_options", {}), **options}}


def calibration_batches(inputs: Any, batch_size: int, base: type) -> Any:
    """A ``CalibrationDataReader`` over ``inputs`` in batches (built lazily: its base class
    comes from onnxruntime)."""

    class CalibrationBatches(base):
        def __init__(self) -> None:
            self._batches = iter(
                {"input": inputs[start : start + batch_size]}
                for start in range(0, len(inputs), batch_size)
            )

        def get_next(self) -> dict | None:
            return next(self._batches, None)

    return CalibrationBatches()


def _quant_type(quantization: Any, name: str) -> Any:
    return {"int8": quantization.QuantType.QInt8, "uint8": quantization.QuantType.QUInt8}[name]


def _quantized_nodes(payload: bytes) -> str:
    """``"6 integer/QDQ nodes: 2 MatMulInteger, ..."`` from the quantized model's graph."""
    import collections

    import onnx

    model = onnx.load_model_from_string(payload)
    counts = collections.Counter(
        node.op_type
        for node in model.graph.node
        if "Integer" in node.op_type
        or node.op_type.startswith(("QLinear", "Quantize", "Dequant"))
        or node.op_type == "DynamicQuantizeLinear"
    )
    if not counts:
        return "no node was quantized"
    listed = ", ".join(f"{count} {op}" for op, count in sorted(counts.items()))
    return f"{sum(counts.values())} quantization nodes: {listed}"


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register ``ort.quantize_dynamic`` and ``ort.quantize_static``."""
    registry.add_method(OrtDynamicQuantization)
    registry.add_method(OrtStaticQuantization)
