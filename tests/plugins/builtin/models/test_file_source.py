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


def test_exported_program_loads_with_its_example(tmp_path) -> None:
    example = torch.randn(2, 4)
    torch.export.save(torch.export.export(_Small(), (example,)), tmp_path / "m.pt2")
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

    torch.export.save(torch.export.export(_Small(), (torch.randn(2, 4),)), tmp_path / "m.pt2")
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
