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
    with pytest.raises(UserError, match="a state_dict or a pickled module"):
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
    with pytest.raises(UserError, match="of no format squeezebench knows"):
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


# Slow-ish (about 10 s each on 2 busy cores): issue 13 asks for real exported programs through
# the whole harness (load, check against the data, compress, convert, measure, store).
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


# -- formats by content, and a damaged program refused without torch's traceback ---------------


def _broken_program(tmp_path) -> str:
    """A real .pt2 archive with one weight missing: torch logs a traceback, then raises."""
    import zipfile

    _export(_Small(), torch.randn(2, 4), tmp_path / "good.pt2")
    with zipfile.ZipFile(tmp_path / "good.pt2") as source:
        members = [(name, source.read(name)) for name in source.namelist()]
    with zipfile.ZipFile(tmp_path / "broken.pt2", "w") as archive:
        for name, data in members:
            if not name.endswith("weights/weight_0"):
                archive.writestr(name, data)
    return "broken.pt2"


def test_damaged_program_is_refused_without_torch_logging_a_traceback(tmp_path) -> None:
    import logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("torch.export")
    logger.addHandler(handler)
    try:
        with pytest.raises(UserError, match="weight_0: file not found"):
            ModelFile().load(_broken_program(tmp_path), tmp_path, seed=0)
        assert records == []
        logger.warning("after the load")  # the filter is gone again
        assert [r.getMessage() for r in records] == ["after the load"]
    finally:
        logger.removeHandler(handler)


def test_damaged_program_through_the_command_line_prints_one_line(tmp_path) -> None:
    import subprocess
    import sys

    reference = _broken_program(tmp_path)
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: broken\nmodel: file:{reference}\n")
    done = subprocess.run(
        [sys.executable, "-m", "squeezebench", "run", str(spec), "-q", "--inline"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert "is not a loadable torch.export program" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "deserializing" not in done.stderr  # torch's own warning line


def _write_kind(kind: str, path) -> None:
    import struct

    if kind == "state_dict":
        torch.save(_Small().state_dict(), path)
    elif kind == "legacy pickle":
        torch.save(_Small().state_dict(), path, _use_new_zipfile_serialization=False)
    elif kind == "safetensors":
        header = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
        path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0\0\0\0")
    elif kind == "onnx":
        path.write_bytes(b"\x08\x08\x12\x07pytorch:\x02\x08\x11")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        _export(_Small(), torch.randn(2, 4), path)
        path.write_bytes(path.read_bytes()[:300])
    elif kind == "other zip":
        import zipfile

        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("readme.txt", "hello")
    else:
        path.write_bytes(b"\x00not a model at all\xff" * 10)


@pytest.mark.parametrize(
    ("kind", "name", "says"),
    [
        ("state_dict", "m.pt2", "a torch.save file"),
        ("legacy pickle", "m.pt", "legacy torch.save pickle"),
        ("safetensors", "m.safetensors", "safetensors weights"),
        ("onnx", "m.onnx", "an ONNX model"),
        ("empty", "m.pt2", "is empty"),
        ("truncated", "m.pt2", "a damaged zip archive"),
        ("other zip", "m.pt2", "neither a torch.export program nor TorchScript"),
        ("garbage", "m.ts", "of no format squeezebench knows"),
    ],
)
def test_check_says_what_the_file_is(tmp_path, kind, name, says) -> None:
    _write_kind(kind, tmp_path / name)
    problem = ModelFile().check(name, tmp_path)
    assert problem is not None and says in problem
    assert "torch.export program (torch.export.save, .pt2) or a TorchScript" in problem
    with pytest.raises(UserError, match=says):
        ModelFile().load(name, tmp_path, seed=0)


def test_loader_follows_the_content_not_the_suffix(tmp_path) -> None:
    torch.jit.save(torch.jit.script(_Small()), tmp_path / "scripted.pt2")
    _export(_Small(), torch.randn(2, 4), tmp_path / "exported.ts")
    for name in ("scripted.pt2", "exported.ts"):
        assert ModelFile().check(name, tmp_path) is None
        assert ModelFile().load(name, tmp_path, seed=0).artifact(torch.randn(3, 4)).shape == (3, 3)


def test_a_folder_is_not_a_model_file(tmp_path) -> None:
    (tmp_path / "folder.pt2").mkdir()
    assert "is not a file" in ModelFile().check("folder.pt2", tmp_path)


def test_deep_check_loads_what_the_header_check_lets_through(tmp_path) -> None:
    reference = _broken_program(tmp_path)
    assert ModelFile().check(reference, tmp_path) is None  # a .pt2 archive by its members
    problem = ModelFile().deep_check(reference, tmp_path)
    assert problem is not None and "weight_0: file not found" in problem
    assert ModelFile().deep_check("good.pt2", tmp_path) is None
