from __future__ import annotations

import types

import pytest

from squeezebench import hookimpl
from squeezebench.errors import PluginError
from squeezebench.plugins import Method
from squeezebench.plugins.manager import (
    BUILTIN_DISTRIBUTION,
    DISABLE_AUTOLOAD_ENV,
    build_plugin_manager,
    build_registry,
    plugin_infos,
)


def test_builtins_register_through_the_hook(registry) -> None:
    assert {"prune.magnitude", "quantize.dynamic_int8"} <= set(registry.names("method"))
    assert {"torch", "onnxruntime"} <= set(registry.names("backend"))
    assert "torch-to-onnx" in registry.names("converter")
    assert set(registry.names("model source")) == {"builtin", "file", "hf", "python"}
    assert registry.names("dataset") == ["digits", "paraphrases"]
    for kind in ("method", "backend", "model source", "dataset", "converter"):
        for registration in registry.entries(kind).values():
            assert registration.distribution == BUILTIN_DISTRIBUTION


def test_env_var_disables_entry_point_loading(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("entry points must not be loaded")

    monkeypatch.setattr("squeezebench.plugins.manager.entry_point_plugins", refuse)
    monkeypatch.setenv(DISABLE_AUTOLOAD_ENV, "1")
    build_plugin_manager()  # does not raise


def test_misspelled_hook_fails_loudly() -> None:
    plugin = types.ModuleType("test_plugin")

    @hookimpl
    def squeezebench_registr(registry):  # misspelled on purpose
        pass

    plugin.squeezebench_registr = squeezebench_registr
    with pytest.raises(PluginError, match="unknown hook"):
        build_plugin_manager(autoload=False, extra_plugins=[plugin])


def test_extra_plugin_duplicating_a_builtin_is_refused() -> None:
    class Clash(Method):
        name = "prune.magnitude"

    plugin = types.ModuleType("test_plugin")

    @hookimpl
    def squeezebench_register(registry):
        registry.add_method(Clash)

    plugin.squeezebench_register = squeezebench_register
    manager = build_plugin_manager(autoload=False, extra_plugins=[plugin])
    with pytest.raises(PluginError, match=f"by {BUILTIN_DISTRIBUTION} and by"):
        build_registry(manager)


def test_plugin_raising_in_register_is_reported_with_its_name() -> None:
    plugin = types.ModuleType("test_plugin")

    @hookimpl
    def squeezebench_register(registry):
        raise RuntimeError("boom")

    plugin.squeezebench_register = squeezebench_register
    manager = build_plugin_manager(autoload=False, extra_plugins=[plugin])
    with pytest.raises(PluginError, match="RuntimeError: boom"):
        build_registry(manager)


def test_plugin_infos_mark_builtins() -> None:
    infos = plugin_infos(build_plugin_manager(autoload=False))
    assert infos and all(info.builtin for info in infos)
