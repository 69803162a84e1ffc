from __future__ import annotations

import pytest
from pydantic import BaseModel

from squeezebench.errors import PluginError, UserError
from squeezebench.plugins import Method, Registry


class _Params(BaseModel):
    level: int = 1


class _Method(Method):
    """A test method."""

    name = "test.method"
    Params = _Params


def test_added_class_is_found_with_its_distribution() -> None:
    registry = Registry()
    registry.current_distribution = "pkg-a 1.0"
    registry.add_method(_Method)
    assert registry.get("method", "test.method") is _Method
    assert registry.entries("method")["test.method"].distribution == "pkg-a 1.0"
    assert ("method", "test.method") in registry


def test_duplicate_name_names_both_distributions() -> None:
    registry = Registry()
    registry.current_distribution = "pkg-a 1.0"
    registry.add_method(_Method)
    registry.current_distribution = "pkg-b 2.0"
    with pytest.raises(PluginError, match=r"registered twice: by pkg-a 1.0 and by pkg-b 2.0"):
        registry.add_method(_Method)


def test_unknown_name_suggests_the_closest() -> None:
    registry = Registry()
    registry.add_method(_Method)
    with pytest.raises(UserError, match=r"did you mean 'test.method'\? \(valid: test.method\)"):
        registry.get("method", "test.methd")


def test_class_that_breaks_the_contract_is_refused() -> None:
    registry = Registry()
    with pytest.raises(PluginError, match="subclass of"):
        registry.add_method(object)  # type: ignore[arg-type]

    class Nameless(Method):
        pass

    with pytest.raises(PluginError, match="'name'"):
        registry.add_method(Nameless)

    class BadParams(Method):
        name = "bad.params"
        Params = dict  # type: ignore[assignment]

    with pytest.raises(PluginError, match="pydantic"):
        registry.add_method(BadParams)
