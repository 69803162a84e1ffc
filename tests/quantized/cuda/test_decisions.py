"""The dispatch setting and the decision file shared by processes (no GPU)."""

from __future__ import annotations

import json
import logging

import pytest

from squeezebench.errors import UserError
from squeezebench.quantized.cuda.calibration import Decision, DispatchKey
from squeezebench.quantized.cuda.decisions import (
    DISPATCH_VARIABLE,
    DecisionStore,
    choose,
    dispatch_setting,
)

KEY = DispatchKey("Fake GPU", "float16", "int4-symm-g128-f16-tiled", 4096, 4096, 16)


def test_settings(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SQUEEZEBENCH_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv(DISPATCH_VARIABLE, raising=False)
    assert dispatch_setting().file == tmp_path / "cuda_dispatch.json"
    assert dispatch_setting("heuristic").mode == "heuristic"
    assert dispatch_setting("wide").path == "wide"
    assert dispatch_setting("~/d.json").file.name == "d.json"
    with pytest.raises(UserError, match="expected one of heuristic, fused, wide"):
        dispatch_setting("auto")


def test_decisions_are_merged_into_the_file_by_every_process(tmp_path) -> None:
    file = tmp_path / "d.json"
    first, second = DecisionStore(file), DecisionStore(file)
    other = DispatchKey("Fake GPU", "float16", "int8-symm-ch-f16-tiled", 4096, 4096, 16)
    first.put(KEY, Decision("wide", "calibrated", {"wide": 1.0}))
    second.put(other, Decision("fused", "calibrated"))
    data = json.loads(file.read_text())
    assert data["format_version"] == 1 and set(data["decisions"]) == {KEY.text(), other.text()}
    third = DecisionStore(file)
    assert third.get(KEY).path == "wide" and third.get(KEY).source == "cached"


def test_a_hand_written_entry_pins_a_key_and_a_broken_file_is_ignored(tmp_path, caplog) -> None:
    file = tmp_path / "d.json"
    file.write_text(json.dumps({"decisions": {KEY.text(): {"path": "dequantize"}}}))
    assert DecisionStore(file).get(KEY).path == "dequantize"
    file.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="squeezebench"):
        assert DecisionStore(file).get(KEY) is None
    assert "ignoring unreadable" in caplog.text
    store = DecisionStore(file)
    store.put(KEY, Decision("fused", "calibrated"))  # replaces the broken file
    assert DecisionStore(file).get(KEY).path == "fused"


def test_choose_order_forced_then_known_then_calibrated(tmp_path) -> None:
    store = DecisionStore(None)
    calls = []

    def calibrate():
        calls.append(1)
        return Decision("dense", "calibrated", {"dense": 1.0, "fused": 2.0})

    available = ["fused", "dequantize", "dense"]
    setting = dispatch_setting(str(tmp_path / "d.json"))
    assert choose(KEY, available, "fused", setting, store, calibrate).path == "dense"
    assert choose(KEY, available, "fused", setting, store, calibrate).source == "calibrated"
    assert len(calls) == 1
    narrower = choose(KEY, ["fused", "dequantize"], "fused", setting, store, calibrate)
    assert narrower.path == "fused" and len(calls) == 1
    forced = choose(KEY, available, "fused", dispatch_setting("wide"), store, calibrate)
    assert (forced.path, forced.source) == ("fused", "heuristic")  # wide cannot run here
    unknown = DispatchKey("Other GPU", "float16", "x", 1, 1, 1)
    assert choose(unknown, available, "fused", setting, store, None).source == "heuristic"


def test_decisions_made_for_other_kernels_are_made_again(tmp_path) -> None:
    file = tmp_path / "d.json"
    DecisionStore(file, kernels="old").put(KEY, Decision("fused", "calibrated"))
    assert json.loads(file.read_text())["decisions"][KEY.text()]["kernels"] == "old"
    assert DecisionStore(file, kernels="old").get(KEY).path == "fused"
    assert DecisionStore(file, kernels="new").get(KEY) is None
    file.write_text(json.dumps({"decisions": {KEY.text(): {"path": "dense"}}}))
    assert DecisionStore(file, kernels="new").get(KEY).path == "dense"  # pinned by hand
