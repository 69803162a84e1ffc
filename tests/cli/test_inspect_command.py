"""``squeezebench inspect``: the layers of a model reference, as a table or JSON lines."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from squeezebench.cli.app import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _builtins_only(monkeypatch):
    monkeypatch.setenv("SQUEEZEBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("COLUMNS", "200")


def test_the_table_names_every_layer_with_its_share_of_the_flops() -> None:
    result = runner.invoke(app, ["inspect", "builtin:digits-cnn"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("builtin:digits-cnn: two-conv CNN")
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "Conv2d" in lines["2"] and "64x32x3x3" in lines["2"] and "✓" in lines["2"]
    assert "88.7%" in lines["2"]  # the second convolution does most of the work
    assert "MaxPool2d" in lines["4"] and "✓" not in lines["4"]
    assert "151,306 parameters" in result.output


def test_json_lines_give_the_same_layers() -> None:
    result = runner.invoke(app, ["inspect", "builtin:digits-mlp", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [row["name"] for row in rows] == ["0", "1", "2", "3", "4", "5"]
    assert [row["name"] for row in rows if row["selectable"]] == ["1", "3", "5"]
    assert rows[1]["weight_shape"] == [256, 64] and rows[1]["flops"] == 2 * 64 * 256


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("builtin:digit", "did you mean 'digits-mlp'"),
        ("nope:x", "unknown model source 'nope'"),
        ("digits-cnn", "is not a model reference <scheme>:<reference>"),
    ],
)
def test_a_bad_reference_is_one_line_and_exit_2(reference: str, message: str) -> None:
    result = runner.invoke(app, ["inspect", reference])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
