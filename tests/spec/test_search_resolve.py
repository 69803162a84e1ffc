"""``search:`` in a spec: the space, the terms and the settings, with located errors."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from squeezebench.spec import SpecError, load_spec
from squeezebench.spec.schema import build_json_schema

REPO = Path(__file__).resolve().parents[2]

HEAD = """
name: s
model: builtin:digits-cnn
dataset: builtin:digits
targets: [{backend: torch, device: cpu, options: {threads: 1}}]
benchmark: {batch_sizes: [1, 8]}
"""

GOOD = """
search:
  objectives: [minimize shipped_bytes, minimize latency_p50_ms@b=8]
  constraints:
    - accuracy_delta >= -1.0 pp
    - latency_p50_ms@b=1 <= 0.9 x baseline
  budget: {trials: 12, minutes: 2}
  space:
    wo:
      steps: [quantize.weight_only, encode.zstd]
      params:
        quantize.weight_only.bits: [2, 4, 8]
        quantize.weight_only.group_size: {choice: [null, 32]}
    pruned:
      steps:
        - prune.magnitude: {scope: layer}
      params:
        0.sparsity: {float: [0.5, 0.9], step: 0.1}
    km:
      steps: [cluster.kmeans]
      params:
        cluster.kmeans.k: {int: [2, 64], log: true}
"""


def errors(write_spec, registry, *parts: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(*parts), registry)
    return [line.split(": ", 1)[1] for line in str(caught.value).splitlines()]


def test_a_search_resolves_with_batch_sizes_target_and_axes(write_spec, registry) -> None:
    resolved = load_spec(write_spec(HEAD, GOOD), registry)
    search = resolved.search
    assert [p.name for p in search.pipelines] == ["wo", "pruned", "km"]
    wo, pruned, km = search.pipelines
    assert [(a.key, a.kind, a.choices) for a in wo.axes] == [
        ("quantize.weight_only.bits", "choice", (2, 4, 8)),
        ("quantize.weight_only.group_size", "choice", (None, 32)),
    ]
    assert (pruned.axes[0].step_index, pruned.axes[0].param, pruned.axes[0].step) == (
        0,
        "sparsity",
        0.1,
    )
    assert km.axes[0].log and km.axes[0].corners() == (2, 64)
    assert [o.reference.label for o in search.objectives] == [
        "shipped_bytes",
        "latency_p50_ms@b=8",
    ]
    assert search.target.label == "torch:cpu" and search.timed
    assert search.seed == 0 and len(search.search_id) == 12
    variant = km.variant("#3 km[k=5]", {"cluster.kmeans.k": 5}, registry)
    assert variant.steps[0].params.k == 5


def test_the_spec_hash_of_a_spec_without_search_is_unchanged(write_spec, registry) -> None:
    plain = load_spec(write_spec(HEAD), registry)
    searching = load_spec(write_spec(HEAD, GOOD, name="other.yaml"), registry)
    assert "search" not in plain.spec.model_dump(exclude={"search"})
    assert plain.spec_hash != searching.spec_hash
    # the hash a spec without search had before searches (and executors, and target
    # resources) existed: no "search": null, no "execution", no "resources"
    import hashlib
    import json

    payload = {
        "spec": plain.spec.model_dump(mode="json", exclude={"search", "execution"}),
        "variants": [[v.name, v.steps_json()] for v in plain.variants],
        "targets": [t.model_dump(mode="json", exclude={"resources"}) for t in plain.targets],
    }
    expected = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    assert plain.spec_hash == expected


def test_space_errors_point_at_the_value_and_suggest(write_spec, registry) -> None:
    spec = write_spec(
        HEAD,
        """
        search:
          objectives: minimize shipped_bytes
          space:
            wo:
              steps: [quantize.weight_only]
              params:
                quantize.weight_only.bits: [2, 3]
                quantize.weight_only.grop_size: [32]
            pruned:
              steps: [prune.magnitude]
              params:
                prune.magnitude.sparsity: {float: [0.5, 1.5]}
            bare:
              steps: [prune.magnitude]
            typo:
              steps: [cluster.kmens]
            ranges:
              steps: [cluster.kmeans]
              params:
                cluster.kmeans.k: {int: [64, 2]}
                cluster.kmeans.iterations: {foo: 1}
        """,
    )
    with pytest.raises(SpecError) as caught:
        load_spec(spec, registry)
    text = str(caught.value)
    assert f"{spec}:12:40: search.space.wo.steps[0] quantize.weight_only.bits: Input should " in (
        text
    )
    assert (
        "unknown parameter of quantize.weight_only 'grop_size'; did you mean 'group_size'" in text
    )
    assert f"{spec}:17:49: " in text and "less than 1 (got 1.5)" in text
    assert f"{spec}:25:33: search.space.ranges.params.cluster.kmeans.k.int: " in text
    assert "missing required key 'sparsity'" in text
    assert "unknown method 'cluster.kmens'; did you mean 'cluster.kmeans'" in text
    assert "low <= high, got [64, 2]" in text
    assert "a searched param is a list of values, {choice: [...]}" in text


def test_terms_are_checked_against_the_spec(write_spec, registry) -> None:
    found = errors(
        write_spec,
        registry,
        HEAD.replace("dataset: builtin:digits\n", ""),
        """
        search:
          objectives: [minimize latency_p50_ms]
          constraints: [accuracy_delta >= -1 pp, latency_p50_ms@b=4 <= 2 ms]
          target: torch:gpu
          space:
            km: {steps: [cluster.kmeans]}
        """,
    )
    assert found == [
        "search.objectives[0]: latency_p50_ms is measured per batch size: write "
        "'latency_p50_ms@b=1' (benchmark.batch_sizes: 1, 8)",
        "search.constraints[0]: accuracy_delta is only measured with a dataset (add 'dataset:')",
        "search.constraints[1]: latency_p50_ms@b=4: batch size 4 is not timed "
        "(benchmark.batch_sizes: 1, 8)",
        "search.target: unknown target 'torch:gpu'; did you mean 'torch:cpu'? (valid: torch:cpu)",
    ]


def test_wording_errors_are_located_at_the_string(write_spec, registry) -> None:
    spec = write_spec(
        HEAD,
        """
        search:
          objectives: [minimize shipped_bytes, minimize shipped_bytes]
          constraints:
            - accuracy_delta >= -1.0 %
          budget: {stop_when: [artifact_bytes <= 2 MiBs]}
          space:
            km: {steps: [cluster.kmeans]}
        """,
    )
    with pytest.raises(SpecError) as caught:
        load_spec(spec, registry)
    lines = str(caught.value).splitlines()
    assert lines[0].startswith(f"{spec}:7:15: search.objectives: objective shipped_bytes is ")
    assert lines[1].startswith(f"{spec}:9:7: search.constraints[0]: 'accuracy_delta >= -1.0 %'")
    assert "'%' is ambiguous here" in lines[1]
    assert lines[2].startswith(f"{spec}:10:24: search.budget.stop_when[0]: ")


def test_settings_that_cannot_work_are_refused(write_spec, registry) -> None:
    found = errors(
        write_spec,
        registry,
        HEAD,
        """
        search:
          objectives: [minimize shipped_bytes, minimize compress_seconds]
          sampler: grid
          sensitivity: true
          budget: {patience: 3}
          space:
            pruned:
              steps: [prune.magnitude]
              params:
                prune.magnitude.sparsity: {float: [0.5, 0.9]}
        """,
    )
    assert found == [
        "search.sensitivity: sensitivity judges layers by an accuracy constraint: add one on "
        "accuracy, accuracy_delta, fidelity, embedding_cosine",
        "search.budget.patience: patience needs a single objective (several give a Pareto front)",
        "search.space.pruned.params.prune.magnitude.sparsity: the grid sampler needs a step "
        "for every float range (e.g. {float: [0.5, 0.9], step: 0.1})",
    ]


def test_the_json_schema_takes_a_search_and_its_steps(registry) -> None:
    schema = build_json_schema(registry)
    validator = jsonschema.Draft202012Validator(schema)
    example = yaml.safe_load((REPO / "examples" / "search-digits.yaml").read_text())
    assert list(validator.iter_errors(example)) == []
    example["search"]["space"]["prune-cluster"]["steps"][0] = {"prune.magnitud": {}}
    assert list(validator.iter_errors(example))
    example = yaml.safe_load((REPO / "examples" / "search-digits.yaml").read_text())
    example["search"]["sampler"] = "bayes"
    assert list(validator.iter_errors(example))
