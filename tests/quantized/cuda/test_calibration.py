"""Choosing the fastest correct path from injected candidates and timer (no GPU)."""

from __future__ import annotations

import math

import pytest
import torch

from squeezebench.quantized.cuda.calibration import (
    Decision,
    DispatchKey,
    batch_bucket,
    calibrate,
    pick,
    relative_error,
)


def test_batches_share_a_decision_within_a_power_of_two() -> None:
    assert [batch_bucket(b) for b in (1, 2, 3, 4, 5, 16, 17, 64, 65)] == [
        1, 2, 4, 4, 8, 16, 32, 64, 128,
    ]  # fmt: skip


def test_pick_prefers_packed_paths_on_ties_only() -> None:
    assert pick({"dense": 100.0, "wide": 101.9}) == "wide"  # within 2%
    assert pick({"dense": 100.0, "wide": 102.5}) == "dense"
    assert pick({"dequantize": 10.0, "fused": 10.1, "wide": 10.0}) == "fused"


def _outputs(**values):
    return {path: (lambda v=v: torch.full((2, 3), v)) for path, v in values.items()}


def test_calibrate_times_only_the_paths_that_agree_with_the_reference() -> None:
    candidates = _outputs(dequantize=1.0, fused=1.001, wide=float("nan"), dense=1.0)
    times = {"dequantize": 9.0, "fused": 5.0, "wide": 1.0, "dense": 4.0}
    timed = []

    def timer(call):
        path = next(p for p, c in candidates.items() if c is call)
        timed.append(path)
        return times[path]

    decision = calibrate(candidates, timer, relative_error, device="Fake GPU")
    assert decision.path == "dense" and decision.source == "calibrated"
    assert sorted(timed) == ["dense", "dequantize", "fused"]
    assert decision.rejected["wide"].startswith("disagrees with dequantize (relative error nan")
    with pytest.raises(ValueError, match="needs the dequantize path"):
        calibrate(_outputs(fused=1.0), timer, relative_error)


def test_decisions_fall_back_and_round_trip_through_json() -> None:
    decision = Decision("dense", "calibrated", {"dense": 1.0, "wide": 2.0, "fused": 3.0})
    assert decision.without({"fused"}, "fused") is decision
    fallback = decision.without({"dense"}, "fused")
    assert (fallback.path, fallback.source) == ("wide", "calibrated, fallback")
    assert Decision("dense", "cached").without({"dense"}, "fused").path == "fused"
    again = Decision.from_json(decision.to_json(), "cached")
    assert again.timings_us == decision.timings_us and again.path == "dense"
    assert Decision.from_json({"path": "fused"}, "cached").timings_us == {}
    with pytest.raises(ValueError, match="path must be one of"):
        Decision.from_json({"path": "magic"}, "cached")


def test_a_note_says_key_path_source_and_timings() -> None:
    key = DispatchKey("NVIDIA H200", "float16", "int4-symm-g128-f16-tiled", 28672, 8192, 64)
    note = Decision("wide", "calibrated", {"wide": 50.12, "dense": 120.2}, {}, "NVIDIA H200")
    assert note.note(key) == (
        "cuda linear 8192x28672 int4-symm-g128-f16-tiled float16 batch<=64: wide "
        "(calibrated on NVIDIA H200; wide 50.1 us, dense 120.2 us)"
    )
    assert key.text() == "NVIDIA H200|float16|int4-symm-g128-f16-tiled|8192x28672|b64"


def test_relative_error() -> None:
    assert relative_error(torch.ones(4), torch.ones(4)) == 0
    assert math.isclose(relative_error(torch.full((4,), 2.0), torch.ones(4)), 1.0)
    assert relative_error(torch.zeros(2), torch.zeros(2)) == 0
