"""Building a TensorRT 10 engine from ONNX bytes: ONNX inspection, builder flags, profile.

Everything here takes the ``tensorrt`` module as an argument, so tests run it against a fake
module on machines without TensorRT. Precision choices, with the reasons:

* ``fp32``: no precision flag, and TF32 cleared (TensorRT enables it by default on Ampere
  and newer) unless the target asks for ``tf32: true``;
* ``fp16``: ``BuilderFlag.FP16`` on a weakly typed network (TensorRT picks fp16 or fp32 per
  layer). TensorRT 11 removed the flag; there ``fp16`` is refused with the reason;
* ``int8``: explicit quantization only. The ONNX model must carry symmetric int8
  QuantizeLinear/DequantizeLinear pairs (from ``ort.quantize_static`` or a torch static
  int8 export); the network is created strongly typed and no precision flag is set, as
  NVIDIA documents for Q/DQ networks. TensorRT's implicit calibration
  (``IInt8EntropyCalibrator2``) is deprecated since 10.1 and removed in 11, and needs the
  calibration data inside the backend, so it is not offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from squeezebench.errors import BackendUnavailable

Precision = Literal["fp32", "fp16", "int8"]
_QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")


class TensorRTOptions(BaseModel):
    """Options of the ``tensorrt`` backend."""

    model_config = ConfigDict(extra="forbid")

    precision: Precision = Field(
        "fp32",
        description="fp32; fp16 (BuilderFlag.FP16, TensorRT 10); int8: explicit "
        "quantization of an ONNX model with symmetric int8 Q/DQ nodes (e.g. from "
        "ort.quantize_static), built strongly typed.",
    )
    tf32: bool = Field(
        False, description="Allow TF32 math for fp32 layers (TensorRT's default; off here)."
    )
    workspace_mb: int | None = Field(
        None,
        ge=1,
        description="Workspace memory pool limit in MiB (set_memory_pool_limit(WORKSPACE)); "
        "null: TensorRT's default (the device's memory).",
    )
    builder_optimization_level: int = Field(
        3, ge=0, le=5, description="Builder optimization level: 0 builds fastest, 5 searches most."
    )
    max_batch_size: int = Field(
        256,
        ge=1,
        description="Largest batch of the optimization profile (accuracy runs in batches of "
        "256, so a smaller value fails on them).",
    )
    opt_batch_size: int | None = Field(
        None,
        ge=1,
        description="Batch size the kernels are tuned for; null: max_batch_size.",
    )

    @model_validator(mode="after")
    def _opt_within_max(self) -> TensorRTOptions:
        if self.opt_batch_size is not None and self.opt_batch_size > self.max_batch_size:
            raise ValueError("opt_batch_size must not exceed max_batch_size")
        return self


@dataclass(frozen=True)
class OnnxSignature:
    """Input and output of an ONNX model as TensorRT will see them."""

    input_name: str
    input_shape: tuple[int, ...]  # -1 for a dynamic (named or unknown) dimension
    output_name: str
    qdq_nodes: int
    asymmetric_qdq: tuple[str, ...]  # Q/DQ nodes whose zero point is not an int8 zero

    @property
    def dynamic_batch(self) -> bool:
        """Whether the first input dimension is dynamic."""
        return bool(self.input_shape) and self.input_shape[0] == -1

    @property
    def other_dynamic_dims(self) -> bool:
        """Whether a dimension after the batch is dynamic (a sequence length, say)."""
        return any(size == -1 for size in self.input_shape[1:])


def describe_onnx(payload: bytes) -> OnnxSignature:
    """Read the graph's single input and output and its Q/DQ nodes (raises ValueError)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load_model_from_string(bytes(payload))
    graph = model.graph
    initializers = {tensor.name for tensor in graph.initializer}
    inputs = [value for value in graph.input if value.name not in initializers]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ValueError(
            f"expected one input and one output, got {len(inputs)} and {len(graph.output)}"
        )
    dims = inputs[0].type.tensor_type.shape.dim
    shape = tuple(dim.dim_value if dim.HasField("dim_value") else -1 for dim in dims)
    constants = {tensor.name: tensor for tensor in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute:
            constants[node.output[0]] = node.attribute[0].t
    qdq = [node for node in graph.node if node.op_type in _QDQ_OPS]
    asymmetric = []
    for node in qdq:
        zero_point = constants.get(node.input[2]) if len(node.input) > 2 else None
        if zero_point is None:
            continue  # no zero point: int8 zero by the ONNX spec (or computed: TRT decides)
        values = numpy_helper.to_array(zero_point)
        if values.dtype.name != "int8" or values.any():
            asymmetric.append(node.name or node.output[0])
    return OnnxSignature(inputs[0].name, shape, graph.output[0].name, len(qdq), tuple(asymmetric))


def network_flags(trt: Any, signature: OnnxSignature, options: TensorRTOptions) -> int:
    """``create_network`` flags: strongly typed for int8 (explicit Q/DQ), else none."""
    if options.precision == "int8":
        if not signature.qdq_nodes:
            raise BackendUnavailable(
                "precision int8 needs an explicitly quantized ONNX model (QuantizeLinear/"
                "DequantizeLinear nodes, e.g. from ort.quantize_static); TensorRT's implicit "
                "calibration is deprecated since TensorRT 10.1 and not offered"
            )
        if signature.asymmetric_qdq:
            raise BackendUnavailable(
                "TensorRT runs only symmetric int8 Q/DQ (int8 zero points equal to 0); "
                f"{len(signature.asymmetric_qdq)} node(s) have other zero points "
                f"(first: {signature.asymmetric_qdq[0]}): quantize with symmetric int8 "
                "activations and weights"
            )
        flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
        return 0 if flag is None else 1 << int(flag)  # TensorRT 11: always strongly typed
    if signature.qdq_nodes:
        raise BackendUnavailable(
            f"the ONNX model is explicitly quantized ({signature.qdq_nodes} Q/DQ nodes): "
            "build it with precision int8"
        )
    return 0


def configure(trt: Any, config: Any, options: TensorRTOptions) -> list[str]:
    """Set the builder config from ``options``; return what was set, for the method log."""
    applied = []
    if options.workspace_mb is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mb << 20)
        applied.append(f"workspace {options.workspace_mb} MiB")
    config.builder_optimization_level = options.builder_optimization_level
    applied.append(f"optimization level {options.builder_optimization_level}")
    if options.precision == "int8":
        return [*applied, "strongly typed (explicit Q/DQ int8)"]
    if options.precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
        applied.append("FP16")
    if options.tf32:
        config.set_flag(trt.BuilderFlag.TF32)
        applied.append("TF32")
    else:
        config.clear_flag(trt.BuilderFlag.TF32)
    return applied


def profile_shapes(
    signature: OnnxSignature, options: TensorRTOptions, sample_shape: tuple[int, ...] | None
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None:
    """(min, opt, max) of the input for the optimization profile, or None when static.

    The batch dimension spans 1..``max_batch_size``; any other dynamic dimension is pinned
    to ``sample_shape`` (the harness gives every batch the same sample shape).
    """
    if -1 not in signature.input_shape:
        return None
    if signature.other_dynamic_dims and sample_shape is None:
        raise ValueError("a dynamic non-batch dimension needs a sample batch shape")
    fixed = [
        size if size != -1 or (index == 0 and signature.dynamic_batch) else sample_shape[index]  # type: ignore[index]
        for index, size in enumerate(signature.input_shape)
    ]
    if not signature.dynamic_batch:
        return tuple(fixed), tuple(fixed), tuple(fixed)
    opt = options.opt_batch_size or options.max_batch_size
    rest = tuple(fixed[1:])
    return (1, *rest), (opt, *rest), (options.max_batch_size, *rest)


def make_logger(trt: Any) -> Any:
    """A TensorRT logger that keeps errors (for one-line messages) and drops the chatter."""

    class CollectingLogger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            if severity in (trt.ILogger.Severity.ERROR, trt.ILogger.Severity.INTERNAL_ERROR):
                self.errors.append(msg)

    return CollectingLogger()


def build_serialized_engine(
    trt: Any,
    payload: bytes,
    options: TensorRTOptions,
    signature: OnnxSignature,
    logger: Any,
    sample_shape: tuple[int, ...] | None = None,
) -> tuple[bytes, list[str]]:
    """Parse ``payload``, configure, build; return the serialized engine and the settings."""
    builder = trt.Builder(logger)
    network = builder.create_network(network_flags(trt, signature, options))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(bytes(payload)):
        errors = [str(parser.get_error(index)) for index in range(parser.num_errors)]
        first = errors[0] if errors else "no detail"
        raise BackendUnavailable(
            f"TensorRT {trt.__version__} cannot parse the ONNX model: {first}"[:400]
        )
    config = builder.create_builder_config()
    applied = configure(trt, config, options)
    shapes = profile_shapes(signature, options, sample_shape)
    if shapes is not None:
        profile = builder.create_optimization_profile()
        profile.set_shape(signature.input_name, *shapes)
        config.add_optimization_profile(profile)
        applied.append(f"profile {shapes[0]}..{shapes[2]} (opt {shapes[1]})")
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        detail = logger.errors[-1] if getattr(logger, "errors", None) else "see TensorRT's log"
        raise RuntimeError(f"TensorRT could not build the engine: {detail}")
    return bytes(memoryview(serialized)), applied
