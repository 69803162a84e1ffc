"""onnxruntime backend: availability messages, threads, and outputs equal to torch's."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from squeezebench.plugins.builtin.backends import onnxruntime_backend
from squeezebench.plugins.builtin.backends.onnxruntime_backend import (
    OnnxRuntimeBackend,
    OnnxRuntimeOptions,
)
from squeezebench.plugins.builtin.backends.torch_backend import TorchOptions
from squeezebench.plugins.builtin.converters.torch_to_onnx import TorchToOnnx
from squeezebench.plugins.builtin.datasets.digits import digits_splits
from squeezebench.plugins.builtin.models import digits_models
from squeezebench.spec.models import TargetSpec


def _target(device: str = "cpu", **options: object) -> TargetSpec:
    return TargetSpec(backend="onnxruntime", device=device, options=options)


def test_missing_onnxruntime_names_the_extra_and_the_gpu_package(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import now raises ImportError
    assert OnnxRuntimeBackend().check(_target()) == (
        "onnxruntime is not installed (pip install 'squeezebench[onnx]')"
    )
    on_cuda = OnnxRuntimeBackend().check(_target("cuda"))
    assert "squeezebench[onnx]" in on_cuda and "onnxruntime-gpu" in on_cuda


def test_a_provider_that_is_not_available_is_named_with_the_available_ones(monkeypatch) -> None:
    ort = pytest.importorskip("onnxruntime")
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    reason = OnnxRuntimeBackend().check(
        _target(providers=["TensorrtExecutionProvider", "CPUExecutionProvider"])
    )
    assert reason.startswith("execution provider TensorrtExecutionProvider is not available")
    assert "(available: CPUExecutionProvider)" in reason
    cuda = OnnxRuntimeBackend().check(_target("cuda"))
    assert "needs CUDAExecutionProvider" in cuda and "onnxruntime-gpu" in cuda
    assert OnnxRuntimeBackend().check(_target()) is None


def test_default_threads_match_the_torch_backend() -> None:
    assert OnnxRuntimeOptions().threads == TorchOptions().threads
    assert OnnxRuntimeOptions().providers is None
    assert onnxruntime_backend.default_providers("cuda:1")[0] == "CUDAExecutionProvider"


@pytest.mark.parametrize("name", digits_models.ARCHITECTURES)
def test_outputs_match_torch_on_the_digits_models(name: str) -> None:
    pytest.importorskip("onnxruntime")
    model = digits_models.trained_model(name)
    payload = TorchToOnnx().convert(model, torch.zeros(1, 1, 8, 8))
    runner = OnnxRuntimeBackend().prepare(payload, _target(threads=1, inter_op_threads=1))
    session_options = runner.session.get_session_options()
    assert session_options.intra_op_num_threads == 1
    assert session_options.inter_op_num_threads == 1
    assert runner.session.get_providers() == ["CPUExecutionProvider"]
    inputs = digits_splits().test.inputs
    outputs = runner.fetch(runner.run(runner.place(inputs)))
    with torch.inference_mode():
        expected = model(torch.from_numpy(inputs)).numpy()
    assert np.abs(outputs - expected).max() < 1e-4
    assert (outputs.argmax(axis=1) == expected.argmax(axis=1)).all()
    assert runner.artifact_bytes() == payload
    runner.close()
