"""End to end: install examples/plugin-example offline and drive it through the real CLI.

Each test runs ``python -m squeezebench`` in a subprocess whose ``PYTHONPATH`` holds a
folder the plugin was pip-installed into, so squeezebench finds it exactly as it would find
any installed package: through its ``squeezebench`` entry point. Nothing is written into the
repository (the package is copied to a temporary folder before it is built).

Below those, the method is unit-tested in process (imported from the same install), and
docs/plugins.md is checked to quote the example package verbatim.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from squeezebench import __version__

REPO = Path(__file__).resolve().parents[2]
TUTORIAL = REPO / "docs" / "plugins.md"
EXAMPLE = REPO / "examples" / "plugin-example"
SPEC = EXAMPLE / "spec.yaml"
METHOD = "example.round_weights"
DISTRIBUTION = "squeezebench-example-plugin 0.1.0"
PACKAGE = "squeezebench_example_plugin"


def _installed(distribution: str) -> bool:
    # importlib.metadata, not importlib.util.find_spec: finding "pip" through the import
    # system makes setuptools' distutils shim switch itself off for the whole process, and a
    # later `import setuptools` (torch.compile's C++ builder) then fails
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not (_installed("pip") and _installed("setuptools")),
    reason="installing the example plugin offline needs pip and setuptools",
)


def pip_install(source: Path, target: Path) -> None:
    """Install the package at ``source`` into ``target``: no network, no deps, no isolation."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--quiet",
        "--target",
        str(target),
        str(source),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"pip failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Working directory of every CLI call (so nothing lands in the repository)."""
    return tmp_path_factory.mktemp("cwd")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Model cache shared by the module: builtin:digits-mlp is trained once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the installed example plugin (built from a copy of its sources)."""
    root = tmp_path_factory.mktemp("example-plugin")
    source = root / "plugin-example"
    shutil.copytree(
        EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "results")
    )
    site = root / "site"
    pip_install(source, site)
    return site


@pytest.fixture(scope="module")
def duplicate_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a plugin that registers a second ``prune.magnitude``."""
    root = tmp_path_factory.mktemp("duplicate-plugin")
    source = root / "duplicate"
    package = source / "src" / "squeezebench_duplicate_plugin"
    package.mkdir(parents=True)
    (source / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [build-system]
            requires = ["setuptools>=64"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "squeezebench-duplicate-plugin"
            version = "0.0.1"
            dependencies = ["squeezebench"]

            [project.entry-points.squeezebench]
            duplicate = "squeezebench_duplicate_plugin"
            """
        ),
        encoding="utf-8",
    )
    (package / "__init__.py").write_text(
        textwrap.dedent(
            '''\
            from squeezebench import hookimpl
            from squeezebench.plugins import Method


            class Impostor(Method):
                """Claims the name of a built-in method."""

                name = "prune.magnitude"

                def apply(self, artifact, params, ctx):
                    return artifact


            @hookimpl
            def squeezebench_register(registry):
                registry.add_method(Impostor)
            '''
        ),
        encoding="utf-8",
    )
    site = root / "site"
    pip_install(source, site)
    return site


def cli(
    *args: str,
    site: Path,
    cwd: Path,
    cache: Path,
    disable_autoload: bool = False,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m squeezebench ARGS`` with ``site`` importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(site), env.get("PYTHONPATH", "")) if part
    )
    env["COLUMNS"] = "200"  # rich would otherwise truncate table cells at 80 columns
    env["NO_COLOR"] = "1"
    env.pop("FORCE_COLOR", None)
    env["SQUEEZEBENCH_CACHE_DIR"] = str(cache)
    env.pop("SQUEEZEBENCH_DISABLE_PLUGIN_AUTOLOAD", None)
    if disable_autoload:
        env["SQUEEZEBENCH_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "squeezebench", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


def test_plugins_lists_the_method_and_its_distribution(
    example_site: Path, workdir: Path, cache_dir: Path
) -> None:
    result = cli("plugins", site=example_site, cwd=workdir, cache=cache_dir)
    assert result.returncode == 0, result.stderr
    line = next((line for line in result.stdout.splitlines() if METHOD in line), None)
    assert line is not None, result.stdout
    assert DISTRIBUTION in line
    assert "Round Linear and Conv weights" in line  # the class docstring's first line
    assert f"squeezebench {__version__}" in result.stdout  # the built-ins are still there


def test_schema_publishes_the_plugin_params(
    example_site: Path, workdir: Path, cache_dir: Path
) -> None:
    result = cli("schema", site=example_site, cwd=workdir, cache=cache_dir)
    assert result.returncode == 0, result.stderr
    defs = json.loads(result.stdout)["$defs"]
    params = defs[f"Params.{METHOD}"]
    assert params["additionalProperties"] is False
    assert params["properties"]["mantissa_bits"]["minimum"] == 0
    assert params["properties"]["mantissa_bits"]["maximum"] == 23
    assert params["properties"]["mantissa_bits"]["description"]
    assert METHOD in [alternative["title"] for alternative in defs["Step"]["oneOf"]]


def test_run_measures_the_plugin_variant(
    example_site: Path, workdir: Path, cache_dir: Path, tmp_path: Path
) -> None:
    import pandas as pd

    from squeezebench.results import MANIFEST_NAME, load

    results = tmp_path / "results"
    result = cli(
        "run", str(SPEC), "-o", str(results), "-q", site=example_site, cwd=workdir, cache=cache_dir
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    rows = load(results)
    assert set(rows["status"]) == {"ok"}, rows[["variant", "status", "reason"]]
    rounded = rows[rows["variant"].str.startswith("rounded[")]
    assert sorted(rounded["variant"]) == [
        "rounded[mantissa_bits=1]",
        "rounded[mantissa_bits=3]",
        "rounded[mantissa_bits=7]",
    ]
    for _, row in rounded.iterrows():
        assert row["status"] == "ok"
        assert pd.notna(row["accuracy"]) and 0 < row["accuracy"] <= 1
        assert row["artifact_bytes"] > 0
        assert row["latency_p50_ms"] > 0
        assert bool(row["simulated"]) is True
        steps = json.loads(row["steps"])
        assert [step["method"] for step in steps] == [METHOD]
        assert steps[0]["params"] == {
            "mantissa_bits": int(row["variant"].split("=")[1].rstrip("]")),
            "include_bias": False,
        }
    baseline = rows[rows["variant"] == "baseline"].iloc[0]
    assert baseline["accuracy"] > 0.9  # the built-in model is really trained
    (manifest,) = results.glob(f"*/{MANIFEST_NAME}")
    plugins = json.loads(manifest.read_text(encoding="utf-8"))["plugins"]
    assert {"name": "example", "distribution": DISTRIBUTION, "builtin": False} in plugins


def test_bad_params_are_reported_with_file_line_and_column(
    example_site: Path, workdir: Path, cache_dir: Path, tmp_path: Path
) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        textwrap.dedent(
            """\
            name: bad
            model: builtin:digits-mlp
            variants:
              rounded:
                - example.round_weights: {mantissa_bits: 30, bias: true}
            """
        ),
        encoding="utf-8",
    )
    result = cli("validate", str(spec), site=example_site, cwd=workdir, cache=cache_dir)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"{spec}:5:46: variants.rounded[0] {METHOD}.mantissa_bits:" in result.stderr
    assert "23" in result.stderr
    assert f"{spec}:5:50: variants.rounded[0] {METHOD}.bias: unknown key 'bias'" in result.stderr


def test_disabled_autoload_makes_the_method_unknown(
    example_site: Path, workdir: Path, cache_dir: Path
) -> None:
    enabled = cli("validate", str(SPEC), site=example_site, cwd=workdir, cache=cache_dir)
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr

    result = cli(
        "validate",
        str(SPEC),
        site=example_site,
        cwd=workdir,
        cache=cache_dir,
        disable_autoload=True,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"unknown method '{METHOD}'" in result.stderr
    assert f"{SPEC}:" in result.stderr  # located in the file


def test_duplicate_name_is_a_clean_error_naming_both_distributions(
    duplicate_site: Path, workdir: Path, cache_dir: Path
) -> None:
    result = cli("plugins", site=duplicate_site, cwd=workdir, cache=cache_dir)
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    message = result.stderr
    assert "prune.magnitude" in message
    assert f"squeezebench {__version__}" in message
    assert "squeezebench-duplicate-plugin 0.0.1" in message


def test_the_example_s_own_tests_pass_with_the_conformance_kit(
    example_site: Path, cache_dir: Path
) -> None:
    # what the plugin's author runs: its tests, against the installed package and squeezebench
    tests = example_site.parent / "plugin-example" / "tests"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(example_site), env.get("PYTHONPATH", "")) if part
    )
    env["SQUEEZEBENCH_CACHE_DIR"] = str(cache_dir)
    env.pop("SQUEEZEBENCH_DISABLE_PLUGIN_AUTOLOAD", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(tests), "-v", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=tests.parent,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"= 14 passed in ", done.stdout), done.stdout  # 2 x 5 kit checks + 4
    assert "test_conformance[1-bit-changes_the_model] PASSED" in done.stdout


# -- in process: the method itself, imported from the installed copy --------------------------


@pytest.fixture(scope="module")
def example_module(example_site: Path):
    """``squeezebench_example_plugin`` imported from the install (never registered globally)."""
    sys.path.insert(0, str(example_site))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(example_site))
        for name in [n for n in sys.modules if n.partition(".")[0] == PACKAGE]:
            del sys.modules[name]


def test_seven_mantissa_bits_round_like_bfloat16(example_module) -> None:
    import torch

    from squeezebench.plugins import MethodContext

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(8, 4))
    originals = [p.detach().clone() for p in model.parameters()]
    params = example_module.RoundWeightsParams(mantissa_bits=7)
    result = example_module.RoundWeights().apply(model, params, MethodContext(seed=0))
    assert result is model
    conv_weight, conv_bias, linear_weight, linear_bias = originals
    assert torch.equal(model[0].weight, conv_weight.bfloat16().float())
    assert torch.equal(model[2].weight, linear_weight.bfloat16().float())
    assert torch.equal(model[0].bias, conv_bias)  # biases are left alone by default
    assert torch.equal(model[2].bias, linear_bias)


def test_fewer_bits_give_fewer_distinct_values(example_module) -> None:
    import torch

    values = torch.randn(10_000)
    assert torch.equal(example_module.round_weights.round_mantissa(values, 23), values)
    distinct = [
        example_module.round_weights.round_mantissa(values, bits).unique().numel()
        for bits in (1, 3, 7)
    ]
    assert distinct == sorted(distinct) and distinct[0] < distinct[-1]
    rounded = example_module.round_weights.round_mantissa(torch.tensor([0.0, 1.0, 3.0, -5.0]), 0)
    assert rounded.tolist() == [0.0, 1.0, 4.0, -4.0]


def test_nothing_to_round_is_a_method_error(example_module) -> None:
    import torch

    from squeezebench.errors import MethodError
    from squeezebench.plugins import MethodContext

    method, params = example_module.RoundWeights(), example_module.RoundWeightsParams()
    with pytest.raises(MethodError, match="no Linear or Conv layer"):
        method.apply(torch.nn.ReLU(), params, MethodContext(seed=0))


def test_params_are_bounded_and_closed(example_module) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        example_module.RoundWeightsParams(mantissa_bits=24)
    with pytest.raises(ValidationError):
        example_module.RoundWeightsParams(mantissa_bits=-1)
    with pytest.raises(ValidationError):
        example_module.RoundWeightsParams(bits=3)
    fields = example_module.RoundWeightsParams.model_fields
    assert all(field.description for field in fields.values())


def test_registers_next_to_the_builtins(example_module) -> None:
    from squeezebench.plugins.manager import build_plugin_manager, build_registry

    manager = build_plugin_manager(autoload=False, extra_plugins=[example_module])
    registry = build_registry(manager)
    assert registry.get("method", METHOD) is example_module.RoundWeights
    assert "prune.magnitude" in registry.names("method")


# -- the tutorial quotes the example verbatim --------------------------------------------------


def test_tutorial_quotes_match_the_example_files() -> None:
    text = TUTORIAL.read_text(encoding="utf-8")
    quotes = re.findall(r"<!-- quote: (\S+) -->\n```\w*\n(.*?)\n```", text, flags=re.DOTALL)
    assert len(quotes) >= 5, "docs/plugins.md lost its quotes of the example package"
    for path, block in quotes:
        source = (REPO / path).read_text(encoding="utf-8")
        assert block in source, f"docs/plugins.md quotes {path} but the file changed:\n{block}"
