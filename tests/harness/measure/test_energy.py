from __future__ import annotations

import sys
from pathlib import Path

import pytest
from helpers.fake_pynvml import FakeGpu, FakePynvml

from squeezebench.harness.measure.energy import (
    EnergyMeter,
    EnergyReading,
    energy_per_inference,
)

MAX_RANGE = 262_143_328_850  # a real package's max_energy_range_uj


def make_zone(root: Path, folder: str, name: str, energy_uj: int, max_range: int = MAX_RANGE):
    zone = root / folder
    zone.mkdir(parents=True)
    (zone / "name").write_text(f"{name}\n")
    (zone / "max_energy_range_uj").write_text(f"{max_range}\n")
    (zone / "energy_uj").write_text(f"{energy_uj}\n")
    return zone


def set_energy(zone: Path, energy_uj: int) -> None:
    (zone / "energy_uj").write_text(f"{energy_uj}\n")


def measure(meter: EnergyMeter, changes: list[tuple[Path, int]]) -> EnergyReading:
    meter.start()
    for zone, energy in changes:
        set_energy(zone, energy)
    return meter.stop()


def test_one_package_reports_the_counter_difference_in_joules(tmp_path) -> None:
    zone = make_zone(tmp_path, "intel-rapl:0", "package-0", 5_000_000)
    reading = measure(EnergyMeter.for_cpu(tmp_path), [(zone, 7_500_000)])
    assert reading.joules == pytest.approx(2.5)
    assert reading.source == "rapl:package-0"
    assert reading.reason is None and reading.seconds >= 0


def test_packages_are_summed_and_subdomains_duplicates_and_psys_are_not(tmp_path) -> None:
    first = make_zone(tmp_path, "intel-rapl:0", "package-0", 1_000_000)
    second = make_zone(tmp_path, "intel-rapl:1", "package-1", 9_000_000)
    core = make_zone(tmp_path, "intel-rapl:0:0", "core", 0)
    dram = make_zone(tmp_path, "intel-rapl:1:0", "dram", 0)
    mmio = make_zone(tmp_path, "intel-rapl-mmio:0", "package-0", 0)
    psys = make_zone(tmp_path, "intel-rapl:2", "psys", 0)
    changes = [(first, 2_000_000), (second, 12_000_000)]
    changes += [(zone, 50_000_000) for zone in (core, dram, mmio, psys)]
    reading = measure(EnergyMeter.for_cpu(tmp_path), changes)
    assert reading.joules == pytest.approx(1.0 + 3.0)
    assert reading.source == "rapl:package-0,package-1"


def test_amd_packages_through_the_same_interface(tmp_path) -> None:
    zone = make_zone(tmp_path, "amd-rapl:0", "package-0", 0)
    assert measure(EnergyMeter.for_cpu(tmp_path), [(zone, 1_000)]).joules == pytest.approx(0.001)


def test_a_counter_that_wraps_around_during_the_window(tmp_path) -> None:
    zone = make_zone(tmp_path, "intel-rapl:0", "package-0", 999_990, max_range=999_999)
    reading = measure(EnergyMeter.for_cpu(tmp_path), [(zone, 40)])
    # 999_990 -> 999_999 is 9 uJ, -> 0 is one more, -> 40 is 40 more
    assert reading.joules == pytest.approx(50e-6)


def test_wrap_in_one_package_and_not_in_the_other(tmp_path) -> None:
    first = make_zone(tmp_path, "intel-rapl:0", "package-0", MAX_RANGE - 1_000_000)
    second = make_zone(tmp_path, "intel-rapl:1", "package-1", 3_000_000)
    reading = measure(EnergyMeter.for_cpu(tmp_path), [(first, 999_999), (second, 4_000_000)])
    assert reading.joules == pytest.approx(2.0 + 1.0)


@pytest.mark.parametrize("make", ["missing root", "empty root", "only psys"])
def test_no_package_counters_gives_none_and_the_reason(tmp_path, make) -> None:
    root = tmp_path / "powercap"
    if make != "missing root":
        root.mkdir()
    if make == "only psys":
        make_zone(root, "intel-rapl:0", "psys", 0)
    reading = measure(EnergyMeter.for_cpu(root), [])
    assert reading.joules is None and reading.source is None
    assert reading.reason == f"no RAPL counters under {root} (common on VMs)"


def test_unreadable_energy_files_give_none_and_say_root_is_needed(tmp_path, monkeypatch) -> None:
    make_zone(tmp_path, "intel-rapl:0", "package-0", 0)
    original = Path.read_text

    def read_text(path: Path, *args, **kwargs) -> str:
        if path.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    meter = EnergyMeter.for_cpu(tmp_path)
    assert meter.source is None
    reading = measure(meter, [])
    assert reading.joules is None
    assert "energy_uj not readable (root only since Linux 5.10" in reading.reason


def test_a_counter_lost_during_the_window_gives_none_not_a_number(tmp_path) -> None:
    zone = make_zone(tmp_path, "intel-rapl:0", "package-0", 0)
    meter = EnergyMeter.for_cpu(tmp_path)
    meter.start()
    (zone / "energy_uj").unlink()
    reading = meter.stop()
    assert reading.joules is None and reading.source == "rapl:package-0"
    assert reading.reason.startswith("rapl:package-0 unreadable at stop")


def test_stop_without_start_is_a_bug() -> None:
    with pytest.raises(RuntimeError, match="without start"):
        EnergyMeter(None, "none").stop()


def test_energy_per_inference_spreads_joules_over_calls_and_samples() -> None:
    reading = EnergyReading(joules=2.0, source="nvml:0", reason=None, seconds=1.0)
    per = energy_per_inference(reading, calls=100, batch_size=4)
    assert per.joules_per_batch == pytest.approx(0.02)
    assert per.joules_per_sample == pytest.approx(0.005)
    assert per.source == "nvml:0" and per.reason is None


def test_energy_per_inference_passes_the_reason_through() -> None:
    reading = EnergyReading(None, None, "pynvml not installed", 1.0)
    per = energy_per_inference(reading, calls=3, batch_size=1)
    assert (per.joules_per_batch, per.joules_per_sample) == (None, None)
    assert per.reason == "pynvml not installed"
    with pytest.raises(ValueError, match="at least one call"):
        energy_per_inference(reading, calls=0, batch_size=1)


def test_nvml_counter_in_millijoules() -> None:
    # the first value is read when the meter is built (to find out whether the counter exists)
    nvml = FakePynvml(FakeGpu(energy_mj=[9_000, 10_000, 11_500]))
    reading = measure(EnergyMeter.for_device("cuda", nvml=nvml), [])
    assert reading.joules == pytest.approx(1.5)
    assert reading.source == "nvml:0"


def test_nvml_maps_cuda_visible_devices_to_nvml_indices(monkeypatch) -> None:
    gpus = [FakeGpu(uuid=f"GPU-{i}", energy_mj=[0, 0, 1000 * (i + 1)]) for i in range(4)]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,GPU-1")
    first = measure(EnergyMeter.for_device("cuda:0", nvml=FakePynvml(*gpus)), [])
    assert (first.source, first.joules) == ("nvml:3", pytest.approx(4.0))
    second = measure(EnergyMeter.for_device("cuda:1", nvml=FakePynvml(*gpus)), [])
    assert (second.source, second.joules) == ("nvml:1", pytest.approx(2.0))
    missing = EnergyMeter.for_device("cuda:2", nvml=FakePynvml(*gpus))
    assert "cuda:2 is not among CUDA_VISIBLE_DEVICES='3,GPU-1'" in missing.reason


def test_nvml_without_the_energy_counter_or_a_driver() -> None:
    old_gpu = FakePynvml(FakeGpu(energy_supported=False))
    assert "no NVML energy counter on GPU 0: Not Supported" in (
        EnergyMeter.for_gpu(0, old_gpu).reason
    )
    no_driver = FakePynvml(init_error="Driver Not Loaded")
    assert "Driver Not Loaded" in measure(EnergyMeter.for_gpu(0, no_driver), []).reason


def test_nvml_counter_going_backwards_is_refused() -> None:
    nvml = FakePynvml(FakeGpu(energy_mj=[5_000, 5_000, 10]))
    reading = measure(EnergyMeter.for_gpu(0, nvml), [])
    assert reading.joules is None and "went backwards" in reading.reason


def test_without_pynvml_the_reason_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` fail
    reading = measure(EnergyMeter.for_device("cuda:0"), [])
    assert reading.joules is None
    assert reading.reason == "pynvml not installed (pip install squeezebench[nvml])"


def test_unknown_devices_have_no_counter() -> None:
    assert EnergyMeter.for_device("mps").reason == "no energy counter known for device 'mps'"
