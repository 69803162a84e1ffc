from __future__ import annotations

import pytest
import torch

from squeezebench.errors import UserError
from squeezebench.plugins.builtin.models.file_source import ModelFile


class _Small(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.linear(x).relu()


def _export(module: torch.nn.Module, example: torch.Tensor, path) -> None:
    dynamic = ({0: torch.export.Dim("batch")},)
    torch.export.save(torch.export.export(module, (example,), dynamic_shapes=dynamic), path)


def test_exported_program_loads_with_its_example(tmp_path) -> None:
    example = torch.randn(2, 4)
    _export(_Small(), example, tmp_path / "m.pt2")
    loaded = ModelFile().load("m.pt2", tmp_path, seed=0)
    assert torch.equal(loaded.example_input, example)
    assert loaded.artifact(example).shape == (2, 3)


def test_torchscript_archive_loads(tmp_path) -> None:
    torch.jit.save(torch.jit.script(_Small()), tmp_path / "m.ts")
    loaded = ModelFile().load("m.ts", tmp_path, seed=0)
    assert loaded.artifact(torch.randn(1, 4)).shape == (1, 3)


def test_state_dict_file_is_rejected(tmp_path) -> None:
    torch.save(_Small().state_dict(), tmp_path / "weights.pt")
    with pytest.raises(UserError, match="a state_dict alone is not a model"):
        ModelFile().load("weights.pt", tmp_path, seed=0)


def test_missing_file_is_reported_by_check(tmp_path) -> None:
    assert "model file not found" in ModelFile().check("nope.pt2", tmp_path)


def test_export_fallback_to_unpickling_is_refused_unless_trusted(tmp_path, monkeypatch) -> None:
    import pickle

    _export(_Small(), torch.randn(2, 4), tmp_path / "m.pt2")
    real_load = torch.export.load

    def load_that_unpickles(path):  # what a crafted archive makes torch.export.load do
        pickle.loads(pickle.dumps("payload"))
        return real_load(path)

    monkeypatch.setattr(torch.export, "load", load_that_unpickles)
    with pytest.raises(UserError, match="trust_model_files: true"):
        ModelFile().load("m.pt2", tmp_path, seed=0)
    loaded = ModelFile().load("m.pt2", tmp_path, seed=0, trusted=True)
    assert loaded.artifact(torch.randn(2, 4)).shape == (2, 3)
    assert pickle.loads(pickle.dumps(1)) == 1  # restored afterwards


@pytest.mark.parametrize("name", ["garbage.pt2", "garbage.ts"])
def test_corrupt_file_is_a_user_error(tmp_path, name) -> None:
    (tmp_path / name).write_bytes(b"\x00not a model at all\xff" * 10)
    with pytest.raises(UserError, match="is not a"):
        ModelFile().load(name, tmp_path, seed=0)


# -- end to end: exported programs through the harness ----------------------------------------


def _export_trained(name: str, path) -> None:
    """Save the trained built-in model ``name`` as a torch.export program (dynamic batch)."""
    from squeezebench.plugins.builtin.models.digits_models import trained_model

    program = torch.export.export(
        trained_model(name),
        (torch.zeros(2, 1, 8, 8),),
        dynamic_shapes=({0: torch.export.Dim("batch")},),
    )
    torch.export.save(program, path)


EXPORTED_SPEC = """
name: exported
model: file:model.pt2
dataset: builtin:digits
variants:
  pruned: [{prune.magnitude: {sparsity: 0.5}}]
  int8: [quantize.dynamic_int8]
  weight-only: [{quantize.weight_only: {bits: 4}}]
  structured: [{prune.structured: {ratio: 0.25}}]
"""


@pytest.mark.parametrize("name", ["digits-cnn", "digits-mlp"])
def test_exported_program_is_compressed_and_measured(
    name, write_spec, registry, tmp_path, fast_benchmark
) -> None:
    from squeezebench.harness.run import run_spec
    from squeezebench.results import load
    from squeezebench.spec.load import load_spec

    _export_trained(name, tmp_path / "model.pt2")
    targets = "targets: [{backend: torch, device: cpu, options: {threads: 1}}]"
    spec = load_spec(write_spec(EXPORTED_SPEC, fast_benchmark, targets), registry)
    outcome = run_spec(spec, registry, tmp_path / "results", isolate=False)
    frame = load(outcome.directory)
    assert set(frame["status"]) == {"ok"}, frame[["variant", "reason"]].to_string()
    rows = frame[frame["batch_size"] == 1].set_index("variant")
    assert rows.loc["baseline", "accuracy"] >= 0.95  # the trained weights, run as exported
    assert rows.loc["pruned", "nonzero_params"] < 0.55 * rows.loc["pruned", "params"]
    assert rows.loc["int8", "compression_ratio"] > 2.5
    assert rows.loc["weight-only", "compression_ratio"] > 5
    assert rows.loc["structured", "params"] < 0.9 * rows.loc["baseline", "params"]
    for variant in ("pruned", "int8", "weight-only"):
        assert rows.loc[variant, "accuracy"] >= 0.85


def test_exported_program_runs_in_isolated_workers_and_on_onnxruntime(
    write_spec, registry, tmp_path, fast_benchmark
) -> None:
    from squeezebench.harness.run import run_spec
    from squeezebench.results import load
    from squeezebench.spec.load import load_spec

    pytest.importorskip("onnxruntime")
    _export_trained("digits-cnn", tmp_path / "model.pt2")
    spec_text = """
    name: exported-isolated
    model: file:model.pt2
    dataset: builtin:digits
    variants:
      pruned: [{prune.magnitude: {sparsity: 0.5}}]
    targets:
      - {backend: torch, device: cpu, options: {threads: 1}}
      - {backend: onnxruntime, device: cpu}
    """
    spec = load_spec(write_spec(spec_text, fast_benchmark), registry)
    outcome = run_spec(spec, registry, tmp_path / "results")
    frame = load(outcome.directory)
    assert set(frame["status"]) == {"ok"}, frame[["variant", "target", "reason"]].to_string()
    accuracy = frame.groupby(["variant", "target"])["accuracy"].first()
    assert accuracy["baseline", "torch:cpu"] >= 0.95
    assert accuracy["baseline", "onnxruntime:cpu"] == pytest.approx(
        accuracy["baseline", "torch:cpu"], abs=0.005
    )
