"""Host provenance: the GPU behind a target device, and the NVIDIA driver (fake NVML)."""

from __future__ import annotations

import sys

import pytest
from helpers.fake_pynvml import FakeGpu, FakePynvml

from squeezebench.harness.environment import gpu_driver, gpu_name


@pytest.fixture
def nvml(monkeypatch):
    fake = FakePynvml(FakeGpu(name="NVIDIA H200"), FakeGpu(uuid="GPU-1", name="NVIDIA L4"))
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # NVML's answer, not torch's
    return fake


def test_cuda_targets_name_their_gpu_and_cpu_targets_none(nvml) -> None:
    assert gpu_name("cuda") == "NVIDIA H200"
    assert gpu_name("cuda:1") == "NVIDIA L4"
    assert gpu_name("cpu") is None
    assert gpu_name("cuda:7") is None  # no such device: unknown, not an error


def test_the_driver_version_comes_from_nvml(nvml, monkeypatch) -> None:
    assert gpu_driver() == "570.86.15"
    monkeypatch.setitem(sys.modules, "pynvml", None)
    assert gpu_driver() is None and gpu_name("cuda") is None
