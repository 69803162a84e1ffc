"""``torch-to-onnx``: an eager module to a self-contained ONNX model with torch.onnx.export.

The exporter is torch's TorchScript-based one (``dynamo=False``), on purpose, measured with
torch 2.13 on the digits models and every built-in method:

* it exports float, pruned, fp16 (``quantize.cast``), packed int8 weight-only and torch
  static int8 (as QuantizeLinear/DequantizeLinear pairs) models, in 0.01 to 0.3 s;
* the dynamo exporter (``dynamo=True``, which needs onnxscript) takes 0.5 to 2.5 s per model,
  fails on fp16 and static int8 models, and writes a model onnxruntime refuses to load
  for bit-packed int4/int2 weights;
* neither exports torch's dynamic int8 modules (``quantized::linear_dynamic`` has no ONNX
  form) nor bit-packed int4/int2/binary weights: those raise :class:`ConversionError` and
  the job is skipped with that reason.

Constants are not folded, so packed weights stay packed in the file (its size is the
compressed one) together with the few ops that unpack them; onnxruntime folds them once when
it creates the session. The graph has one input ``input``, one output ``output`` and a
dynamic batch dimension (opset 17). Models over 2 GB need ONNX external data files and
are refused.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from squeezebench.errors import ConversionError
from squeezebench.plugins.contracts import ONNX_MODEL, TORCH_MODULE, Converter
from squeezebench.plugins.markers import hookimpl

OPSET = 17
INSTALL_HINT = "pip install 'squeezebench[onnx]'"
_TWO_GB = 2**31


class TorchToOnnx(Converter):
    """torch.onnx.export of an eager module (TorchScript exporter, opset 17, dynamic batch)."""

    name = "torch-to-onnx"
    source = TORCH_MODULE
    target = ONNX_MODEL

    def check(self) -> str | None:
        import importlib.util

        if importlib.util.find_spec("onnx") is None:
            return f"the onnx package is not installed ({INSTALL_HINT})"
        return None

    def convert(self, artifact: Any, example_input: Any) -> bytes:
        import torch

        if example_input is None:
            raise ConversionError("the model source gave no example input to trace the export")
        example = (
            tuple(example_input) if isinstance(example_input, tuple | list) else (example_input,)
        )
        module = artifact.eval() if hasattr(artifact, "eval") else artifact
        buffer = io.BytesIO()
        dynamic_axes = {"input": {0: "batch"}, "output": {0: "batch"}}
        try:
            with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
                warnings.simplefilter("ignore")  # the legacy exporter's deprecation notices
                torch.onnx.export(
                    module,
                    example,
                    buffer,
                    input_names=["input"],
                    output_names=["output"],
                    dynamic_axes=dynamic_axes,
                    opset_version=OPSET,
                    do_constant_folding=False,
                    dynamo=False,
                )
        except Exception as error:
            raise ConversionError(_export_failure(error)) from None
        payload = buffer.getvalue()
        if len(payload) >= _TWO_GB:
            raise ConversionError("the exported model is over 2 GB, which needs external data")
        return payload


def _export_failure(error: BaseException) -> str:
    """One line saying why torch.onnx.export refused the module (its messages run long)."""
    text = str(error)
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    if "quantized::" in line and "not supported" in line:
        operator = line.split("'")[1] if line.count("'") >= 2 else "a torch quantized operator"
        return (
            f"torch.onnx.export cannot export {operator} (torch-only quantized kernels "
            "have no ONNX form); quantize for ONNX with ort.quantize_dynamic instead"
        )
    if len(line) > 240:
        line = line[:237] + "..."
    return f"torch.onnx.export failed: {type(error).__name__}: {line}"


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register the ``torch-to-onnx`` converter."""
    registry.add_converter(TorchToOnnx)
