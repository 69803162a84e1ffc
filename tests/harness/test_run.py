"""End to end: a small spec through the harness, checked on the rows it writes."""

from __future__ import annotations

import json

import pytest

from squeezebench.errors import UserError
from squeezebench.harness.run import run_spec
from squeezebench.results import MANIFEST_NAME, load
from squeezebench.spec.load import load_spec

SPEC = """
name: small
seed: 3
model: builtin:digits-mlp
dataset: builtin:digits
variants:
  int8: [quantize.dynamic_int8]
  pruned:
    - prune.magnitude: {sparsity: 0.5}
targets:
  - {backend: torch, device: cpu, options: {threads: 1}}
"""

IDENTICAL_COLUMNS = [
    "variant",
    "batch_size",
    "status",
    "params",
    "nonzero_params",
    "artifact_bytes",
    "compression_ratio",
    "accuracy",
    "accuracy_delta",
    "fidelity",
    "flops_per_sample",
    "steps",
    "job_id",
    "spec_hash",
]


@pytest.fixture
def small_spec(write_spec, registry, fast_benchmark):
    return load_spec(write_spec(SPEC, fast_benchmark), registry)


def test_rows_per_job_and_batch_size_with_real_values(small_spec, registry, tmp_path) -> None:
    outcome = run_spec(small_spec, registry, tmp_path / "results")
    assert outcome.status == "complete"
    frame = load(outcome.directory)
    assert len(frame) == 3 * 2
    assert set(frame["status"]) == {"ok"}
    by_variant = frame[frame["batch_size"] == 1].set_index("variant")
    baseline, int8, pruned = (by_variant.loc[v] for v in ("baseline", "int8", "pruned"))
    assert baseline["compression_ratio"] == 1.0 and baseline["fidelity"] == 1.0
    assert baseline["accuracy"] >= 0.95 and baseline["accuracy_delta"] == 0.0
    assert int8["compression_ratio"] > 2.5  # int8 weights of every Linear layer
    assert int8["params"] == baseline["params"]
    assert pruned["nonzero_params"] < 0.55 * pruned["params"]
    assert pruned["artifact_bytes"] == baseline["artifact_bytes"]  # dense zeros: honest size
    assert pruned["sparse_bytes"] < 0.75 * baseline["sparse_bytes"]
    assert pruned["theoretical_speedup"] == pytest.approx(
        baseline["flops_per_sample"] / pruned["nonzero_flops_per_sample"]
    )
    assert 1.8 < pruned["theoretical_speedup"] < 2.2  # half the weights of every layer
    assert baseline["theoretical_speedup"] == 1.0
    assert "encoded_bytes" in frame and frame["encoded_bytes"].isna().all()
    assert baseline["flops_per_sample"] == 2 * (64 * 256 + 256 * 128 + 128 * 10)
    for row in frame.itertuples():
        assert row.latency_p50_ms > 0 and row.repeats >= 3
        assert len(row.latency_samples_ms) == row.repeats
        assert row.throughput_per_s == pytest.approx(row.batch_size / (row.latency_p50_ms / 1e3))
        assert row.speedup > 0 and row.threads == 1
    (step,) = json.loads(by_variant.loc["pruned"]["steps"])
    assert step["method"] == "prune.magnitude"
    assert step["params"]["sparsity"] == 0.5 and step["params"]["scope"] == "global"
    manifest = json.loads((outcome.directory / MANIFEST_NAME).read_text())
    assert manifest["status"] == "complete"
    assert set(manifest["jobs"]) == set(frame["job_id"])
    assert manifest["environment"]["packages"]["torch"]
    assert manifest["environment"]["cpu"]


def test_same_spec_twice_gives_identical_size_accuracy_and_fidelity(
    small_spec, registry, tmp_path
) -> None:
    first = load(run_spec(small_spec, registry, tmp_path / "a").directory)
    second = load(run_spec(small_spec, registry, tmp_path / "b").directory)
    key = ["variant", "batch_size"]
    first = first.sort_values(key).reset_index(drop=True)[IDENTICAL_COLUMNS]
    second = second.sort_values(key).reset_index(drop=True)[IDENTICAL_COLUMNS]
    assert first.equals(second)


def test_failing_method_and_unavailable_target_do_not_stop_the_run(
    write_spec, registry, tmp_path, fast_benchmark
) -> None:
    # quantize twice: the second step finds no float Linear layer left and fails.
    path = write_spec(
        """
        name: faults
        model: builtin:digits-mlp
        dataset: builtin:digits
        variants:
          twice: [quantize.dynamic_int8, quantize.dynamic_int8]
          int8: [quantize.dynamic_int8]
        targets:
          - {backend: torch, device: cpu, options: {threads: 1}}
          - {backend: torch, device: cuda, options: {threads: 1}}
        """,
        fast_benchmark,
    )
    outcome = run_spec(load_spec(path, registry), registry, tmp_path / "results")
    frame = load(outcome.directory)
    cpu = frame[frame["target"] == "torch:cpu"].groupby("variant")["status"].first()
    assert cpu.to_dict() == {"baseline": "ok", "int8": "ok", "twice": "error"}
    reason = frame[frame["variant"] == "twice"]["reason"].iloc[0]
    assert "no torch.nn.Linear layer" in reason
    import torch

    if not torch.cuda.is_available():
        cuda = frame[frame["target"] == "torch:cuda"]
        assert set(cuda["status"]) <= {"skipped", "error"}
        skipped = cuda[cuda["variant"] == "int8"]
        assert set(skipped["status"]) == {"skipped"}
        assert "CUDA is not available" in skipped["reason"].iloc[0]
    assert outcome.failed_jobs >= 1


def test_interrupt_keeps_finished_jobs_and_marks_the_manifest(
    small_spec, registry, tmp_path, monkeypatch
) -> None:
    from squeezebench.harness.executor import ProcessExecutor

    original = ProcessExecutor.execute
    calls = []

    def interrupt_on_second_job(self, request, timeout=None):
        calls.append(request)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, request, timeout)

    monkeypatch.setattr(ProcessExecutor, "execute", interrupt_on_second_job)
    with pytest.raises(KeyboardInterrupt):
        run_spec(small_spec, registry, tmp_path / "results")
    (run_directory,) = (tmp_path / "results").iterdir()
    manifest = json.loads((run_directory / MANIFEST_NAME).read_text())
    assert manifest["status"] == "interrupted"
    statuses = sorted(job["status"] for job in manifest["jobs"].values())
    assert statuses == ["interrupted", "ok", "pending"]
    frame = load(run_directory)
    assert set(frame["variant"]) == {"baseline"}
    assert set(frame["status"]) == {"ok"}


def test_inline_and_isolated_runs_agree_on_deterministic_columns(
    small_spec, registry, tmp_path
) -> None:
    isolated = load(run_spec(small_spec, registry, tmp_path / "a").directory)
    inline = load(run_spec(small_spec, registry, tmp_path / "b", isolate=False).directory)
    key = ["variant", "batch_size"]
    isolated = isolated.sort_values(key).reset_index(drop=True)[IDENTICAL_COLUMNS]
    inline = inline.sort_values(key).reset_index(drop=True)[IDENTICAL_COLUMNS]
    assert isolated.equals(inline)


def test_model_that_does_not_fit_the_dataset_is_refused_before_running(
    write_spec, registry, tmp_path
) -> None:
    (tmp_path / "wrong_model.py").write_text(
        "import torch\n\ndef build():\n    return torch.nn.Sequential("
        "torch.nn.Flatten(), torch.nn.Linear(64, 3))\n"
    )
    path = write_spec(
        """
        name: wrong
        model: python:wrong_model:build
        dataset: builtin:digits
        """
    )
    with pytest.raises(UserError, match=r"outputs of shape \(2, 3\).*needs \(2, 10\)"):
        run_spec(load_spec(path, registry), registry, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.parquet"))


def test_factory_that_raises_is_a_user_error(write_spec, registry, tmp_path) -> None:
    (tmp_path / "raising_model.py").write_text(
        "def build():\n    raise ValueError('no weights here')\n"
    )
    path = write_spec("name: r\nmodel: python:raising_model:build\n")
    with pytest.raises(UserError, match="ValueError: no weights here"):
        run_spec(load_spec(path, registry), registry, tmp_path / "out")


def test_backend_unavailable_from_prepare_is_a_skip(small_spec, registry, tmp_path) -> None:
    import dataclasses

    from squeezebench.errors import BackendUnavailable
    from squeezebench.plugins import Backend
    from squeezebench.plugins.registry import Registry

    class Missing(Backend):
        name = "missing"

        def prepare(self, artifact, target):
            raise BackendUnavailable("missing-runtime is not installed")

    local = Registry()
    for kind in ("method", "backend", "model source", "dataset"):
        for registration in registry.entries(kind).values():
            local._add(kind, registration.cls)
    local.add_backend(Missing)
    target = small_spec.targets[0].model_copy(update={"backend": "missing", "options": {}})
    spec = dataclasses.replace(small_spec, targets=(target,))
    # a registry built in this process only exists here: measure in-process
    frame = load(run_spec(spec, local, tmp_path / "results", isolate=False).directory)
    assert set(frame["status"]) == {"skipped"}
    assert set(frame["reason"]) == {"missing-runtime is not installed"}


def test_largest_seed_is_measured_and_stored(write_spec, registry, tmp_path, fast_benchmark):
    # 2**63 - 1 is the largest seed validate accepts: it must survive every consumer
    # (numpy, torch's generators, the int64 column), unlike 2**63, which validate refuses.
    largest = 2**63 - 1
    spec_text = f"""
    name: seeds
    seed: {largest}
    model: builtin:digits-mlp
    dataset: builtin:digits
    variants:
      random: [{{prune.random: {{sparsity: 0.3}}}}]
    targets: [{{backend: torch, device: cpu, options: {{threads: 1}}}}]
    """
    spec = load_spec(write_spec(spec_text, fast_benchmark), registry)
    outcome = run_spec(spec, registry, tmp_path / "results", isolate=False)
    frame = load(outcome.directory)
    assert set(frame["status"]) == {"ok"} and set(frame["seed"]) == {largest}
