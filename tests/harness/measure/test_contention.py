from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from helpers.cpu_burner import cpu_burner

from squeezebench.harness.measure import conditions
from squeezebench.harness.measure.conditions import thread_problem
from squeezebench.harness.measure.contention import (
    CpuContentionProbe,
    cgroup_cpu_quota,
    cpu_cores_available,
)

IDLE = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]


def stat_text(per_cpu: dict[int, list[int]]) -> str:
    """A /proc/stat with the aggregate line (ignored by the probe) and per-CPU lines."""
    total = [sum(column) for column in zip(*per_cpu.values(), strict=True)]
    lines = ["cpu  " + " ".join(map(str, total))]
    lines += [f"cpu{cpu} " + " ".join(map(str, values)) for cpu, values in per_cpu.items()]
    lines += ["intr 12345 0 0", "ctxt 99", "btime 1700000000", "procs_running 3"]
    return "\n".join(lines) + "\n"


def columns(user=0, nice=0, system=0, idle=0, iowait=0, irq=0, softirq=0, steal=0, guest=0):
    return [user, nice, system, idle, iowait, irq, softirq, steal, guest, 0]


class FakeProc:
    """A /proc with a stat file, a scripted clock and our own CPU time."""

    def __init__(self, root: Path) -> None:
        self.root, self.now, self.own = root, 10.0, 0.5
        root.mkdir(exist_ok=True)

    def write(self, per_cpu: dict[int, list[int]]) -> None:
        (self.root / "stat").write_text(stat_text(per_cpu))

    def probe(self, cpus=(0, 1)) -> CpuContentionProbe:
        return CpuContentionProbe(
            cpus,
            proc_root=self.root,
            own_cpu_seconds=lambda: self.own,
            ticks_per_second=100,
            clock=lambda: self.now,
        )


@pytest.fixture
def proc(tmp_path) -> FakeProc:
    return FakeProc(tmp_path / "proc")


def test_other_cores_are_busy_time_minus_our_own_over_the_window(proc) -> None:
    proc.write({0: columns(user=100, system=50, idle=900), 1: columns(user=10, idle=990)})
    probe = proc.probe()
    probe.start()
    proc.write(
        {
            0: columns(user=150, system=70, irq=5, softirq=5, idle=920, steal=10),
            1: columns(user=45, nice=5, idle=1050),
        }
    )  # 80 + 40 busy ticks = 1.2 s, 10 ticks of steal
    proc.now, proc.own = 11.0, 0.8  # a 1 s window in which we used 0.3 s of CPU
    result = probe.stop()
    assert result.other_cpu_cores == pytest.approx(0.9)
    assert result.steal_cores == pytest.approx(0.1)
    assert result.own_cpu_cores == pytest.approx(0.3)
    assert result.interference_cores == pytest.approx(1.0)
    assert result.tick_cores == pytest.approx(0.02)
    assert (result.cpus, result.seconds, result.reason) == ((0, 1), pytest.approx(1.0), None)


def test_only_the_watched_cpus_count(proc) -> None:
    proc.write({0: columns(), 1: columns(), 2: columns()})
    probe = proc.probe(cpus=[1])
    probe.start()
    proc.write({0: columns(user=100), 1: columns(system=25), 2: columns(user=100)})
    proc.now, proc.own = 10.5, 0.5
    result = probe.stop()
    assert result.other_cpu_cores == pytest.approx(0.5)
    assert result.tick_cores == pytest.approx(0.02)


def test_idle_iowait_and_guest_columns_are_not_busy(proc) -> None:
    proc.write({0: columns(), 1: columns()})
    probe = proc.probe()
    probe.start()
    # guest time is already inside user, so a guest tick alone is not a busy tick
    proc.write({0: columns(idle=50, iowait=40, guest=10), 1: columns(idle=100)})
    proc.now = 11.0
    assert probe.stop().other_cpu_cores == 0.0


def test_own_time_above_the_busy_ticks_is_floored_at_zero(proc) -> None:
    proc.write({0: columns(), 1: columns()})
    probe = proc.probe()
    probe.start()
    proc.write({0: columns(user=10), 1: columns()})
    proc.now, proc.own = 11.0, 0.65  # tick rounding: we used 0.15 s, the CPUs show 0.1 s
    result = probe.stop()
    assert result.other_cpu_cores == 0.0
    assert result.own_cpu_cores == pytest.approx(0.15)


def test_kernels_without_a_steal_column(proc) -> None:
    (proc.root / "stat").write_text("cpu0 1 0 1 10 0 0 0\ncpu1 1 0 1 10 0 0 0\n")
    probe = proc.probe()
    probe.start()
    (proc.root / "stat").write_text("cpu0 51 0 1 10 0 0 0\ncpu1 1 0 1 60 0 0 0\n")
    proc.now, proc.own = 11.0, 0.5
    result = probe.stop()
    assert result.steal_cores is None
    assert result.other_cpu_cores == result.interference_cores == pytest.approx(0.5)


def test_no_proc_stat_gives_none_and_the_reason(proc) -> None:
    probe = proc.probe()
    probe.start()
    proc.now = 10.5
    result = probe.stop()
    assert result.other_cpu_cores is None and result.steal_cores is None
    assert result.interference_cores is None
    assert result.reason == f"no {proc.root / 'stat'} on this system: CPU contention not measured"
    assert result.seconds == pytest.approx(0.5)


def test_a_cpu_missing_from_proc_stat_is_reported(proc) -> None:
    proc.write({0: columns(), 1: columns()})
    probe = proc.probe(cpus=[0, 1, 4, 5])
    probe.start()
    result = probe.stop()
    assert result.other_cpu_cores is None
    assert "has no line for CPU(s) 4-5" in result.reason


def test_stop_without_start_is_a_bug(proc) -> None:
    with pytest.raises(RuntimeError, match="without start"):
        proc.probe().stop()


def test_a_burner_on_our_cores_shows_as_other_cpu_use() -> None:
    """Real /proc: one busy process pinned to our CPUs is seen (quietness is never asserted)."""
    if not Path("/proc/stat").exists():
        pytest.skip("no /proc/stat on this system")
    cpus = cpu_cores_available()
    with cpu_burner(set(cpus), seconds=30):
        probe = CpuContentionProbe()
        probe.start()
        time.sleep(0.5)
        result = probe.stop()
    assert result.reason is None
    assert result.other_cpu_cores > 0.5, result


def test_cpu_cores_available_is_the_affinity_mask_or_every_cpu(monkeypatch) -> None:
    if hasattr(os, "sched_getaffinity"):
        assert cpu_cores_available() == frozenset(os.sched_getaffinity(0))
        monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert cpu_cores_available() == frozenset({0, 1, 2})


def test_thread_problem_against_the_cores_available() -> None:
    assert thread_problem(2, 2) is None and thread_problem(1, 4) is None
    assert thread_problem(None, 2) is None and thread_problem(4, None) is None  # unknown
    assert thread_problem(3, 2) == (
        "3 threads requested but this process may use 2 CPU(s) (affinity mask and cgroup CPU "
        "quota); threads beyond the cores wait for each other"
    )


def test_the_cores_available_are_capped_by_the_cgroup_quota(monkeypatch) -> None:
    affinity = len(cpu_cores_available())
    monkeypatch.setattr(conditions, "cgroup_cpu_quota", lambda: None)
    assert conditions.cpu_cores_available() == affinity
    monkeypatch.setattr(conditions, "_available_cpus", lambda: frozenset({4, 5, 6, 7}))
    monkeypatch.setattr(conditions, "cgroup_cpu_quota", lambda: 1.5)  # docker --cpus=1.5
    assert conditions.cpu_cores_available() == 1
    monkeypatch.setattr(conditions, "cgroup_cpu_quota", lambda: 0.5)
    assert conditions.cpu_cores_available() == 1
    monkeypatch.setattr(conditions, "cgroup_cpu_quota", lambda: 16.0)
    assert conditions.cpu_cores_available() == 4


def cgroup_tree(tmp_path: Path, membership: str, limits: dict[str, str]) -> tuple[Path, Path]:
    proc, cgroup = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "cgroup").write_text(membership)
    for folder, limit in limits.items():
        (cgroup / folder).mkdir(parents=True, exist_ok=True)
        (cgroup / folder / "cpu.max").write_text(limit + "\n")
    return cgroup, proc


def test_cgroup_quota_is_the_tightest_limit_up_the_tree(tmp_path) -> None:
    cgroup, proc = cgroup_tree(
        tmp_path, "0::/a/b\n", {"a/b": "max 100000", "a": "150000 100000", ".": "400000 100000"}
    )
    assert cgroup_cpu_quota(cgroup, proc) == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("membership", "limits", "expected"),
    [
        ("0::/\n", {".": "200000 100000"}, 2.0),
        ("0::/\n", {".": "max 100000"}, None),
        ("4:cpu:/docker/abc\n1:name=systemd:/\n", {".": "100000 100000"}, None),  # cgroup v1
        ("0::/x\n", {}, None),
    ],
)
def test_cgroup_quota_cases(tmp_path, membership, limits, expected) -> None:
    cgroup, proc = cgroup_tree(tmp_path, membership, limits)
    assert cgroup_cpu_quota(cgroup, proc) == expected
