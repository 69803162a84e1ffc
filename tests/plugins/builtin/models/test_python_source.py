from __future__ import annotations

import textwrap

import pytest
import torch

from squeezebench.errors import UserError
from squeezebench.plugins.builtin.models.python_source import PythonFactory


def test_factory_next_to_the_spec_is_imported(tmp_path) -> None:
    (tmp_path / "my_models_a.py").write_text(
        textwrap.dedent(
            """
            import torch

            def build():
                return torch.nn.Linear(4, 2), torch.zeros(1, 4)
            """
        )
    )
    source = PythonFactory()
    assert source.check("my_models_a:build", tmp_path) is None
    loaded = source.load("my_models_a:build", tmp_path, seed=0)
    assert isinstance(loaded.artifact, torch.nn.Linear)
    assert tuple(loaded.example_input.shape) == (1, 4)


def test_bad_references_are_explained(tmp_path) -> None:
    source = PythonFactory()
    assert "expected 'python:package.module:factory'" in source.check("nocolon", tmp_path)
    assert "no Python module named 'surely_missing_mod'" in source.check(
        "surely_missing_mod:f", tmp_path
    )


def test_factory_returning_something_else_is_a_user_error(tmp_path) -> None:
    (tmp_path / "my_models_b.py").write_text("def build():\n    return 42\n")
    with pytest.raises(UserError, match=r"expected a torch\.nn\.Module"):
        PythonFactory().load("my_models_b:build", tmp_path, seed=0)
