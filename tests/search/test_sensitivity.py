"""The sensitivity pass: one layer at a time, a table, and layers left out of the trials."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

from squeezebench.harness.run import run_spec
from squeezebench.results import MANIFEST_NAME
from squeezebench.search.sensitivity import SENSITIVITY_FILE, literal
from squeezebench.search.study import SEARCH_DIR
from squeezebench.spec import load_spec

from .conftest import SEARCH_HEAD

SPEC = """
benchmark: {batch_sizes: [1], warmup_seconds: 0.01, min_repeats: 3, min_seconds: 0.01,
            rounds: 1, drift_check: false}
search:
  objectives: minimize shipped_bytes
  constraints: [accuracy_delta >= -1.0 pp]
  sensitivity: true
  sampler: grid
  budget: {trials: 3}
  space:
    wo:
      steps: [quantize.weight_only]
      params:
        quantize.weight_only.bits: [8, 2]
"""


def test_layers_that_break_alone_are_probed_tabled_and_left_out(write_spec, registry, tmp_path):
    spec = load_spec(write_spec(SEARCH_HEAD, SPEC), registry)
    outcome = run_spec(spec, registry, tmp_path / "out", isolate=False)
    manifest = json.loads((outcome.directory / MANIFEST_NAME).read_text())
    table = manifest["search"]["sensitivity"]
    entries = table["entries"]
    # the digits CNN's four Linear and Conv layers, at 8 and at 2 bits
    assert [(e["layer"], e["corner"]) for e in entries] == [
        (layer, corner) for corner in ("low", "high") for layer in ("0", "2", "6", "8")
    ]
    assert all(e["value"] == 0 and not e["breaks"] for e in entries if e["corner"] == "low")
    decisions = {e["layer"]: e["decision"] for e in entries}
    broken = {e["layer"] for e in entries if e["breaks"]}
    for layer, size in {e["layer"]: e["parameters"] for e in entries}.items():
        if layer not in broken:
            assert decisions[layer] == "kept"
        elif size < 0.1 * sum({e["layer"]: e["parameters"] for e in entries}.values()):
            assert decisions[layer] == "left out"  # small: cheap to keep in float
        else:
            assert decisions[layer] == "sensitive"  # large: kept, it breaks at 2 bits only
    assert table["bound"] == -0.01 and table["excluded"]["wo"] == sorted(
        literal(layer) for layer, decision in decisions.items() if decision == "left out"
    )
    # every trial leaves those layers out
    for summary in outcome.search.summaries:
        if summary.same_as is None and summary.steps:
            (step,) = json.loads(summary.steps)
            assert step["params"]["exclude"] == table["excluded"]["wo"]
    assert (outcome.directory / SEARCH_DIR / SENSITIVITY_FILE).is_file()


def test_layer_names_become_literal_patterns() -> None:
    assert literal("encoder.layer.0") == "encoder.layer.0"
    for name in ("weird[1]*?", "a*b", "c?"):
        assert fnmatchcase(name, literal(name))
    assert not fnmatchcase("weird1xy", literal("weird[1]*?"))
    assert not fnmatchcase("aXb", literal("a*b"))
