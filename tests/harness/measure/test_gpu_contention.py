from __future__ import annotations

import sys

import pytest
from helpers.fake_pynvml import FakeGpu, FakePynvml

from squeezebench.harness.measure.gpu_contention import GpuContentionProbe

OWN_PID = 4242


def window(nvml: FakePynvml, cuda_index: int = 0):
    probe = GpuContentionProbe(cuda_index, nvml=nvml, own_pid=OWN_PID)
    probe.start()
    return probe.stop()


def test_other_processes_clock_and_reasons_from_both_edges() -> None:
    gpu = FakeGpu(
        compute_pids=[[OWN_PID, 77], [OWN_PID]],
        graphics_pids=[[], [88]],
        sm_clock_mhz=[1980, 1410],
        max_sm_clock_mhz=1980,
        reasons=[0x1, 0x4 | 0x1],  # idle at the start, power capped at the end
    )
    result = window(FakePynvml(gpu))
    assert result.gpu_index == 0
    assert result.other_pids == (77, 88)
    assert (result.sm_clock_mhz, result.max_sm_clock_mhz) == (1410, 1980)
    assert result.clock_ratio == pytest.approx(1410 / 1980)
    assert result.clock_reasons == ("sw_power_cap",)
    assert result.slowed is True
    assert result.reason is None
    assert result.as_dict() == {
        "gpu_index": 0,
        "other_pids": [77, 88],
        "sm_clock_mhz": 1410,
        "max_sm_clock_mhz": 1980,
        "clock_reasons": ["sw_power_cap"],
        "reason": None,
        "clock_ratio": pytest.approx(1410 / 1980),
        "slowed": True,
    }


def test_a_quiet_gpu_at_full_clock() -> None:
    result = window(FakePynvml(FakeGpu(compute_pids=[[OWN_PID]], reasons=[0x1, 0x0])))
    assert result.other_pids == ()
    assert result.clock_reasons == ()
    assert (result.slowed, result.clock_ratio) == (False, 1.0)


def test_the_older_throttle_reasons_api_and_unknown_bits() -> None:
    result = window(FakePynvml(FakeGpu(reasons=[0x40 | 0x1000]), legacy=True))
    assert result.clock_reasons == ("hw_thermal_slowdown", "unknown_0x1000")
    assert result.slowed is True


def test_sync_boost_and_application_clocks_do_not_count_as_slowed() -> None:
    result = window(FakePynvml(FakeGpu(reasons=[0x2 | 0x10])))
    assert result.clock_reasons == ("applications_clocks_setting", "sync_boost")
    assert result.slowed is False


def test_an_unreadable_process_list_keeps_the_rest() -> None:
    result = window(FakePynvml(FakeGpu(processes_readable=False)))
    assert result.other_pids is None
    assert result.sm_clock_mhz == 1980
    assert result.reason == "process list unreadable: Insufficient Permissions"


def test_the_gpu_behind_cuda_visible_devices(monkeypatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    gpus = FakePynvml(FakeGpu(), FakeGpu(compute_pids=[[5]]))
    result = window(gpus)
    assert (result.gpu_index, result.other_pids) == (1, (5,))


def test_without_pynvml_or_a_device(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    probe = GpuContentionProbe(0)
    probe.start()
    result = probe.stop()
    assert result.reason == "pynvml not installed (pip install squeezebench[nvml])"
    assert (result.other_pids, result.clock_ratio, result.slowed) == (None, None, None)
    missing = window(FakePynvml(FakeGpu()), cuda_index=3)
    assert missing.reason == "NVML cannot open GPU cuda:3: Invalid Argument"


def test_stop_without_start_is_a_bug() -> None:
    with pytest.raises(RuntimeError, match="without start"):
        GpuContentionProbe(0, nvml=FakePynvml()).stop()
