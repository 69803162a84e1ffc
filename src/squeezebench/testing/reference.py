"""The reference model and data the kit runs plugins on, and how it compares artifacts."""

from __future__ import annotations

import hashlib
import pickle
from typing import Any

from squeezebench.plugins.contracts import ONNX_MODEL, TORCH_MODULE, DatasetSplits

REFERENCE_SEED = 0
EXAMPLE_BATCH = 4


def reference_model() -> tuple[Any, Any]:
    """A fresh small CNN for ``(N, 1, 8, 8)`` inputs (10 outputs) and an example batch.

    It is the architecture of ``builtin:digits-cnn``, initialised with a fixed seed and not
    trained (nothing is cached or downloaded): Conv and Linear layers, ReLU, max pooling.
    """
    import torch

    from squeezebench.plugins.builtin.models.digits_models import build_architecture

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(REFERENCE_SEED)
        module = build_architecture("digits-cnn").eval()
    example = torch.from_numpy(reference_data().test.inputs[:EXAMPLE_BATCH].copy())
    return module, example


def reference_data() -> DatasetSplits:
    """scikit-learn's digits with squeezebench's fixed split (calibration and training data)."""
    from squeezebench.plugins.builtin.datasets.digits import digits_splits

    return digits_splits()


def fingerprint(artifact: Any, fmt: str) -> str:
    """A content hash: a torch module's architecture and tensors, bytes, else its pickle."""
    if fmt == TORCH_MODULE:
        from squeezebench.harness.identity import model_fingerprint

        return model_fingerprint(artifact)
    if isinstance(artifact, bytes | bytearray):
        return hashlib.sha256(bytes(artifact)).hexdigest()
    return hashlib.sha256(pickle.dumps(artifact)).hexdigest()


def torch_outputs(module: Any, example: Any) -> Any:
    """``module(example)`` as a numpy array (inference mode)."""
    import torch

    with torch.inference_mode():
        output = module(example)
    return output.detach().float().cpu().numpy()


def onnx_outputs(model: bytes, example: Any) -> Any:
    """The outputs of an ONNX model on ``example`` with onnxruntime (the caller checks it)."""
    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession(bytes(model), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    batch = example.detach().cpu().numpy() if hasattr(example, "detach") else np.asarray(example)
    return np.asarray(session.run(None, {name: batch})[0], dtype=np.float32)


def in_format(fmt: str) -> tuple[Any, Any] | None:
    """The reference model in ``fmt`` (``torch.module`` or ``onnx``), or None."""
    module, example = reference_model()
    if fmt == TORCH_MODULE:
        return module, example
    if fmt == ONNX_MODEL:
        from squeezebench.plugins.builtin.converters.torch_to_onnx import TorchToOnnx

        if TorchToOnnx().check() is not None:
            return None
        return TorchToOnnx().convert(module, example), example
    return None
