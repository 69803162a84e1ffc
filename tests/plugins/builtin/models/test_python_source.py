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


# -- validate: the factory is looked for without importing (and imported with --deep) ---------

MODULE_THAT_MUST_NOT_RUN = """
raise SystemExit("imported during a static check")

def build():
    return None

class Factory:
    pass

from os import path as alias
if True:
    conditional = 1
"""


def _package(tmp_path, name: str) -> None:
    """``name/__init__.py`` that must not run, and ``name/nets.py`` defining ``build``."""
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text(MODULE_THAT_MUST_NOT_RUN)
    (tmp_path / name / "nets.py").write_text("def build():\n    pass\n")


@pytest.mark.parametrize("name", ["build", "Factory", "alias", "conditional"])
def test_check_finds_top_level_names_without_importing(tmp_path, name) -> None:
    (tmp_path / "static_a.py").write_text(MODULE_THAT_MUST_NOT_RUN)
    assert PythonFactory().check(f"static_a:{name}", tmp_path) is None
    assert "static_a" not in __import__("sys").modules


def test_missing_factory_is_reported_with_a_suggestion(tmp_path) -> None:
    (tmp_path / "static_b.py").write_text(MODULE_THAT_MUST_NOT_RUN)
    problem = PythonFactory().check("static_b:biuld", tmp_path)
    assert problem is not None
    assert f"module 'static_b' ({tmp_path / 'static_b.py'}) defines no 'biuld'" in problem
    assert "did you mean 'build'?" in problem


def test_submodules_are_found_without_running_the_package(tmp_path) -> None:
    _package(tmp_path, "static_pkg")
    source = PythonFactory()
    assert source.check("static_pkg.nets:build", tmp_path) is None
    assert "defines no 'make'" in source.check("static_pkg.nets:make", tmp_path)
    assert "package 'static_pkg' has no module 'other'" in source.check(
        "static_pkg.other:build", tmp_path
    )
    assert "'static_pkg.nets' is a module, not a package" in source.check(
        "static_pkg.nets.deeper:build", tmp_path
    )


def test_a_package_that_extends_its_path_at_import_cannot_be_judged_statically(tmp_path) -> None:
    (tmp_path / "static_ext").mkdir()
    (tmp_path / "static_ext" / "__init__.py").write_text(
        "from pkgutil import extend_path\n__path__ = extend_path(__path__, __name__)\n"
    )
    assert PythonFactory().check("static_ext.elsewhere:build", tmp_path) is None  # import tells


@pytest.mark.parametrize(
    "body",
    [
        "from os.path import *\n",
        "def __getattr__(name):\n    return name\n",
        "globals()['x'] = 1\n",
    ],
)
def test_dynamic_modules_are_left_to_the_import(tmp_path, body) -> None:
    (tmp_path / "static_c.py").write_text(body)
    assert PythonFactory().check("static_c:anything", tmp_path) is None


def test_syntax_error_is_reported_with_its_line(tmp_path) -> None:
    (tmp_path / "static_d.py").write_text("x = 1\ndef build(:\n")
    problem = PythonFactory().check("static_d:build", tmp_path)
    assert problem is not None and "static_d.py line 2 cannot be imported: SyntaxError" in problem


def test_deep_check_imports_and_finds_a_callable(tmp_path) -> None:
    (tmp_path / "deep_a.py").write_text("value = 3\ndef build():\n    pass\n")
    (tmp_path / "deep_b.py").write_text("raise RuntimeError('broken at import')\n")
    (tmp_path / "deep_c.py").write_text("def __getattr__(name):\n    raise AttributeError(name)\n")
    source = PythonFactory()
    assert source.deep_check("deep_a:build", tmp_path) is None
    assert "is a value of type int, not a factory" in source.deep_check("deep_a:value", tmp_path)
    assert "importing deep_b failed: RuntimeError: broken at import" in source.deep_check(
        "deep_b:build", tmp_path
    )
    assert source.check("deep_c:build", tmp_path) is None  # dynamic: only an import can tell
    assert "python:deep_c:build" in source.deep_check("deep_c:build", tmp_path)
