"""The example searches, end to end (slow: skipped unless ``-m slow``; see conftest.py).

- ``search-digits.yaml`` must find, within its 40 trials and 10 minutes, a variant at least
  as small as the best hand-written variant of ``methods-tour.yaml`` within 1 point.
- ``search-minilm.yaml`` (a smaller budget here) must answer with a variant at cosine >= 0.98
  that is the fastest of the feasible trials, and time no infeasible trial.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from squeezebench.harness.run import run_spec
from squeezebench.results import load
from squeezebench.spec import load_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FAST = {"rounds": 1, "drift_check": False, "warmup_seconds": 0.01, "min_seconds": 0.01}


def _copy(name: str, folder: Path, change) -> Path:
    data = yaml.safe_load((EXAMPLES / name).read_text())
    change(data)
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.slow
def test_search_digits_is_as_small_as_the_best_hand_written_variant(registry, tmp_path) -> None:
    def hand_written(data):  # every methods-tour variant but the (slow) distillation
        data["variants"] = {
            name: steps
            for name, steps in data["variants"].items()
            if not any("distill.kd" in str(step) for step in steps)
        }
        data["benchmark"] |= FAST

    tour = _copy("methods-tour.yaml", tmp_path, hand_written)
    rows = load(run_spec(load_spec(tour, registry), registry, tmp_path / "tour").directory)
    within = rows[(rows["accuracy_delta"] >= -0.01) & (rows["variant"] != "baseline")]
    best_hand_written = within["encoded_bytes"].fillna(within["artifact_bytes"]).min()

    search = _copy("search-digits.yaml", tmp_path, lambda d: d["benchmark"].update(FAST))
    outcome = run_spec(load_spec(search, registry), registry, tmp_path / "search")
    answer = outcome.search.answer
    assert answer.found and answer.trials <= 40
    families = {s.params["pipeline"] for s in outcome.search.summaries}
    assert len(families) >= 3
    (best,) = answer.best
    assert best.verdict.values[0] <= best_hand_written
    assert outcome.search.answer.note == "the budget of 40 trials is spent"


@pytest.mark.slow
@pytest.mark.hf
def test_search_minilm_answers_with_the_fastest_variant_at_cosine(registry, tmp_path) -> None:
    pytest.importorskip("transformers", reason="needs squeezebench[hf]")
    pytest.importorskip("onnxruntime", reason="needs squeezebench[onnx]")

    def smaller(data):
        data["benchmark"] |= {"rounds": 2, "min_seconds": 0.3, "min_repeats": 20}
        space = data["search"]["space"]
        space["ort-dynamic"]["params"] = {"ort.quantize_dynamic.per_channel": [True, False]}
        space["ffn-pruned"]["params"] = {"prune.structured.ratio": [0.02, 0.2]}
        data["search"]["space"] = {k: space[k] for k in ("ort-dynamic", "ffn-pruned")}
        data["search"] |= {"sampler": "grid", "budget": {"trials": 4}}

    spec = _copy("search-minilm.yaml", tmp_path, smaller)
    outcome = run_spec(load_spec(spec, registry), registry, tmp_path / "out")
    trials = load(outcome.directory).query("trial == trial")
    feasible = trials[trials["trial_feasible"].astype(bool)]
    assert (trials[~trials["trial_feasible"].astype(bool)]["rounds"].isna()).all()
    assert (feasible["embedding_cosine"] >= 0.98).all() and (feasible["rounds"] == 2).all()
    answer = outcome.search.answer
    assert answer.found
    assert answer.best[0].verdict.values[0] == feasible["latency_p50_ms"].min()
