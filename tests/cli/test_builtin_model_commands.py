from __future__ import annotations

import hashlib

import pytest
from typer.testing import CliRunner

from squeezebench.cli.app import app
from squeezebench.cli.exit_codes import ExitCode
from squeezebench.plugins.builtin.models import digits_models, digits_weights

runner = CliRunner()


@pytest.fixture(autouse=True)
def _instant_training(monkeypatch):
    """Training is replaced by constant weights: these tests are about files and pins."""

    def constant_training(model):
        for parameter in model.parameters():
            parameter.data.fill_(0.5)

    monkeypatch.setattr(digits_models, "train", constant_training)
    monkeypatch.setenv("COLUMNS", "300")


def _package_file_sha256(name: str) -> str:
    return hashlib.sha256(digits_weights.shipped_file(name).read_bytes()).hexdigest()


def test_retrain_with_output_writes_there_and_leaves_the_package_alone(tmp_path) -> None:
    before = _package_file_sha256("digits-mlp")
    result = runner.invoke(app, ["builtin-models", "retrain", "digits-mlp", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = tmp_path / "digits-mlp.safetensors"
    digest = hashlib.sha256(written.read_bytes()).hexdigest()
    assert f"digits-mlp: {written}  sha256 {digest} (changed)" in result.output
    assert "not shipped" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["digits-mlp.safetensors"]
    assert _package_file_sha256("digits-mlp") == before


def test_retrain_into_the_package_pins_the_new_hashes(tmp_path, monkeypatch) -> None:
    pinned = {}
    monkeypatch.setattr(digits_weights, "package_weights_folder", lambda: tmp_path)
    monkeypatch.setattr(digits_weights, "pin", lambda hashes: pinned.update(hashes) or "SRC")
    result = runner.invoke(app, ["builtin-models", "retrain"])
    assert result.exit_code == 0, result.output
    assert sorted(pinned) == sorted(digits_models.ARCHITECTURES)
    for name, digest in pinned.items():
        path = tmp_path / f"{name}.safetensors"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert "pinned in SRC" in result.output


def test_retrain_without_a_package_folder_needs_output(monkeypatch) -> None:
    monkeypatch.setattr(digits_weights, "package_weights_folder", lambda: None)
    result = runner.invoke(app, ["builtin-models", "retrain"])
    assert result.exit_code == ExitCode.USAGE_ERROR
    assert "pass --output DIR" in result.output


def test_retrain_rejects_unknown_names_with_a_suggestion(tmp_path) -> None:
    result = runner.invoke(app, ["builtin-models", "retrain", "digits-mpl", "-o", str(tmp_path)])
    assert result.exit_code == ExitCode.USAGE_ERROR
    assert "did you mean 'digits-mlp'" in result.output
    assert "Traceback" not in result.output
    assert not list(tmp_path.iterdir())
