"""From Optuna's suggestions to candidates, and back from a finished trial's params."""

from __future__ import annotations

import optuna

from squeezebench.search.candidates import PIPELINE, from_params, optuna_name, suggest
from squeezebench.spec import load_spec

from .conftest import SEARCH_HEAD

SPACE = """
search:
  objectives: minimize shipped_bytes
  space:
    wo:
      steps: [quantize.weight_only]
      params:
        quantize.weight_only.bits: [2, 4]
        quantize.weight_only.include: {choice: [["*"], ["6", "8"]]}
    pruned:
      steps:
        - prune.magnitude: {sparsity: 0.5}
        - prune.magnitude: {sparsity: 0.5}
      params:
        0.sparsity: {float: [0.5, 0.9], step: 0.1}
        1.sparsity: [0.3]
"""


def test_suggestions_become_candidates_with_unique_names(write_spec, registry) -> None:
    search = load_spec(write_spec(SEARCH_HEAD, SPACE), registry).search
    trial = optuna.trial.FixedTrial(
        {
            PIPELINE: "wo",
            "wo/quantize.weight_only.bits": 4,
            "wo/quantize.weight_only.include": '["6", "8"]',
        }
    )
    candidate = suggest(trial, search.pipelines)
    assert candidate.values == {
        "quantize.weight_only.bits": 4,
        "quantize.weight_only.include": ["6", "8"],  # JSON text in Optuna, the list here
    }
    assert candidate.variant_name(7) == '#7 wo[bits=4,include=["6", "8"]]'
    assert from_params(trial.params, search.pipelines) == candidate
    assert candidate.params_json() == (
        '{"pipeline": "wo", "quantize.weight_only.bits": 4, '
        '"quantize.weight_only.include": ["6", "8"]}'
    )


def test_floats_lose_the_noise_of_steps_and_names_tell_repeated_params_apart(
    write_spec, registry
) -> None:
    search = load_spec(write_spec(SEARCH_HEAD, SPACE), registry).search
    pruned = search.pipelines[1]
    assert optuna_name("pruned", pruned.axes[0]) == "pruned/0.sparsity"
    trial = optuna.trial.FixedTrial(
        {PIPELINE: "pruned", "pruned/0.sparsity": 0.7000000000000001, "pruned/1.sparsity": 0.3}
    )
    candidate = suggest(trial, search.pipelines)
    assert candidate.values["0.sparsity"] == 0.7
    assert candidate.variant_name(2) == "#2 pruned[sparsity=0.7,1.sparsity=0.3]"
    variant = pruned.variant("v", candidate.values, registry)
    assert [step.params.sparsity for step in variant.steps] == [0.7, 0.3]


def test_a_real_study_samples_only_the_chosen_pipelines_params(write_spec, registry) -> None:
    search = load_spec(write_spec(SEARCH_HEAD, SPACE), registry).search
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen = set()
    for _ in range(12):
        trial = study.ask()
        candidate = suggest(trial, search.pipelines)
        prefix = candidate.pipeline.name + "/"
        assert all(k == PIPELINE or k.startswith(prefix) for k in trial.params)
        seen.add(candidate.pipeline.name)
        study.tell(trial, 1.0)
    assert seen == {"wo", "pruned"}
