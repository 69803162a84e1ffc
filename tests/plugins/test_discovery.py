"""Finding plugins through entry points and SQUEEZEBENCH_PLUGINS (issue 12, bugs 1, 3-6).

Each test lays out real ``*.dist-info`` folders in a temporary site directory on
``sys.path``, so ``importlib.metadata`` finds them exactly as it finds installed packages.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest

from squeezebench.errors import PluginError, PluginWarning
from squeezebench.plugins.discovery import PLUGINS_ENV
from squeezebench.plugins.manager import (
    DISABLE_AUTOLOAD_ENV,
    build_plugin_manager,
    build_registry,
    plugin_infos,
)

PLUGIN_SOURCE = '''
from squeezebench import hookimpl
from squeezebench.plugins import Method


class {cls}(Method):
    """A method of a test distribution."""

    name = "{method}"

    def apply(self, artifact, params, ctx):
        return artifact


@hookimpl
def squeezebench_register(registry):
    registry.add_method({cls})
'''


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder on ``sys.path`` that distributions are installed into."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delenv(DISABLE_AUTOLOAD_ENV, raising=False)
    monkeypatch.delenv(PLUGINS_ENV, raising=False)
    yield folder
    for name in [n for n in sys.modules if n.startswith("sbtest_")]:
        del sys.modules[name]


def install(site: Path, distribution: str, version: str, entry_points: dict[str, str]) -> None:
    """Write the metadata of ``distribution`` with ``entry_points`` in the squeezebench group."""
    info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = ["[squeezebench]", *(f"{key} = {value}" for key, value in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    modules = sorted({value.split(".")[0] for value in entry_points.values()})
    (info / "top_level.txt").write_text("\n".join(modules) + "\n", encoding="utf-8")
    importlib.invalidate_caches()


def module(site: Path, name: str, text: str) -> Path:
    path = site / f"{name}.py"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    importlib.invalidate_caches()
    return path


def method_module(site: Path, name: str, method: str) -> Path:
    return module(site, name, PLUGIN_SOURCE.format(cls="TestMethod", method=method))


def test_an_installed_plugin_registers_with_its_distribution(site: Path) -> None:
    method_module(site, "sbtest_one", "sbtest.one")
    install(site, "sbtest-one", "1.2", {"one": "sbtest_one"})
    registry = build_registry(build_plugin_manager())
    assert registry.entries("method")["sbtest.one"].distribution == "sbtest-one 1.2"


def test_two_distributions_with_one_entry_point_key_are_refused(site: Path) -> None:
    # bug 1: pluggy loaded the first and silently dropped the second with all its plugins
    method_module(site, "sbtest_first", "sbtest.first")
    method_module(site, "sbtest_second", "sbtest.second")
    install(site, "sbtest-first", "1.0", {"shared": "sbtest_first"})
    install(site, "sbtest-second", "2.0", {"shared": "sbtest_second"})
    with pytest.raises(PluginError) as caught:
        build_plugin_manager()
    message = str(caught.value)
    assert "'shared'" in message
    assert "sbtest-first 1.0 (sbtest_first)" in message
    assert "sbtest-second 2.0 (sbtest_second)" in message


def test_a_plugin_that_fails_to_import_names_its_entry_point_and_distribution(
    site: Path,
) -> None:
    # bug 5
    module(site, "sbtest_broken", "import sbtest_missing_dependency\n")
    install(site, "sbtest-broken", "0.3", {"broken": "sbtest_broken"})
    with pytest.raises(PluginError) as caught:
        build_plugin_manager()
    message = str(caught.value)
    assert "plugin 'broken' (sbtest_broken) of sbtest-broken 0.3 failed to load" in message
    assert "ModuleNotFoundError: No module named 'sbtest_missing_dependency'" in message
    assert DISABLE_AUTOLOAD_ENV in message and "\n" not in message


def test_an_installed_plugin_also_named_in_the_environment_registers_once(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # bug 3: "ValueError: Plugin already registered under a different name" (47 lines)
    method_module(site, "sbtest_twice", "sbtest.twice")
    install(site, "sbtest-twice", "1.0", {"twice": "sbtest_twice"})
    monkeypatch.setenv(PLUGINS_ENV, "sbtest_twice")
    registry = build_registry(build_plugin_manager())
    assert registry.entries("method")["sbtest.twice"].distribution == "sbtest-twice 1.0"


def test_an_environment_module_of_an_installed_distribution_gets_its_version(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # bug 6: the distribution was "SQUEEZEBENCH_PLUGINS:<module>", so job ids (which cover
    # plugin versions) differed from a run that found the same package by its entry point
    method_module(site, "sbtest_env", "sbtest.env")
    install(site, "sbtest-env", "3.1", {"env": "sbtest_env"})
    via_entry_point = build_registry(build_plugin_manager())
    monkeypatch.setenv(DISABLE_AUTOLOAD_ENV, "1")
    monkeypatch.setenv(PLUGINS_ENV, "sbtest_env")
    manager = build_plugin_manager()
    via_environment = build_registry(manager)
    distribution = via_environment.entries("method")["sbtest.env"].distribution
    assert distribution == via_entry_point.entries("method")["sbtest.env"].distribution
    assert distribution == "sbtest-env 3.1"
    info = next(i for i in plugin_infos(manager) if i.name == f"{PLUGINS_ENV}:sbtest_env")
    assert info.distribution == "sbtest-env 3.1"


def test_an_environment_file_is_versioned_by_its_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sbtest_file_plugin.py"
    path.write_text(PLUGIN_SOURCE.format(cls="FileMethod", method="sbtest.file"), "utf-8")
    monkeypatch.setenv(PLUGINS_ENV, str(path))
    first = build_registry(build_plugin_manager(autoload=False))
    label = first.entries("method")["sbtest.file"].distribution
    assert label.startswith("sbtest_file_plugin.py sha256:") and PLUGINS_ENV in label
    path.write_text(path.read_text("utf-8") + "\n# changed\n", "utf-8")
    second = build_registry(build_plugin_manager(autoload=False))
    assert second.entries("method")["sbtest.file"].distribution != label


def test_a_misnamed_hook_parameter_is_one_clean_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # bug 4: an unwrapped pluggy.PluginValidationError traceback
    path = tmp_path / "sbtest_misnamed.py"
    path.write_text(
        "from squeezebench import hookimpl\n\n\n@hookimpl\n"
        "def squeezebench_register(reg):\n    pass\n",
        "utf-8",
    )
    monkeypatch.setenv(PLUGINS_ENV, str(path))
    with pytest.raises(PluginError) as caught:
        build_plugin_manager(autoload=False)
    message = str(caught.value)
    assert "squeezebench_register(reg) must take the parameters (registry)" in message
    assert str(path) in message and "\n" not in message


def test_a_hook_without_hookimpl_is_warned_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # bug 4: pluggy ignores an unmarked function, so the plugin silently registered nothing
    path = tmp_path / "sbtest_unmarked.py"
    path.write_text("def squeezebench_register(registry):\n    pass\n", "utf-8")
    monkeypatch.setenv(PLUGINS_ENV, str(path))
    with pytest.warns(PluginWarning, match=r"squeezebench_register is not marked with @squee"):
        build_plugin_manager(autoload=False)
