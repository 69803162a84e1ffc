from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest
from helpers.fake_pynvml import FakeGpu, FakePynvml

from squeezebench.harness.measure.gpu_contention import CLOCK_EVENT_REASONS
from squeezebench.harness.measure.nvml_device import open_device


def fake_torch(uuid: str, initialized: bool = True) -> SimpleNamespace:
    cuda = SimpleNamespace(
        is_initialized=lambda: initialized,
        get_device_properties=lambda index: SimpleNamespace(uuid=uuid),
    )
    return SimpleNamespace(cuda=cuda)


def test_torch_running_cuda_gives_the_device_by_uuid(monkeypatch) -> None:
    gpus = FakePynvml(FakeGpu(uuid="GPU-a"), FakeGpu(uuid="GPU-b"))
    monkeypatch.setitem(sys.modules, "torch", fake_torch("b"))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # the uuid wins over the ordinal
    device, problem = open_device(0, gpus)
    assert problem is None and device.index == 1


def test_torch_without_cuda_initialised_is_not_asked(monkeypatch) -> None:
    gpus = FakePynvml(FakeGpu(uuid="GPU-a"), FakeGpu(uuid="GPU-b"))
    monkeypatch.setitem(sys.modules, "torch", fake_torch("b", initialized=False))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    device, _ = open_device(0, gpus)
    assert device.index == 0


def test_visible_device_entries_that_cannot_be_mapped(monkeypatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "weird")
    device, problem = open_device(0, FakePynvml())
    assert device is None
    assert problem == "cannot map CUDA_VISIBLE_DEVICES entry 'weird' to an NVML device"


def test_the_real_pynvml_has_every_call_and_bit_we_use() -> None:
    pynvml = pytest.importorskip("pynvml")
    for name in (
        "nvmlInit",
        "nvmlDeviceGetHandleByIndex",
        "nvmlDeviceGetHandleByUUID",
        "nvmlDeviceGetIndex",
        "nvmlDeviceGetTotalEnergyConsumption",
        "nvmlDeviceGetComputeRunningProcesses",
        "nvmlDeviceGetGraphicsRunningProcesses",
        "nvmlDeviceGetClockInfo",
        "nvmlDeviceGetMaxClockInfo",
        "NVML_CLOCK_SM",
        "NVMLError",
    ):
        assert hasattr(pynvml, name), name
    assert hasattr(pynvml, "nvmlDeviceGetCurrentClocksEventReasons") or hasattr(
        pynvml, "nvmlDeviceGetCurrentClocksThrottleReasons"
    )
    for bit, name in CLOCK_EVENT_REASONS.items():
        camel = "".join(part.capitalize() for part in name.split("_"))
        assert getattr(pynvml, f"nvmlClocksThrottleReason{camel}") == bit, name


def test_the_real_pynvml_without_a_driver_gives_a_reason_not_an_error() -> None:
    pytest.importorskip("pynvml")
    device, problem = open_device(0)
    if device is not None:
        pytest.skip("this machine has an NVIDIA driver")
    assert problem.startswith("NVML cannot open GPU cuda:0: ")
