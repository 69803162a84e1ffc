"""Shared fixtures: an isolated model cache, a registry of the built-ins, small specs."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from squeezebench.plugins.manager import build_plugin_manager, build_registry
from squeezebench.plugins.registry import Registry

FAST_BENCHMARK = """
benchmark:
  batch_sizes: [1, 4]
  warmup_seconds: 0.01
  min_repeats: 3
  min_seconds: 0.01
  rounds: 1
  drift_check: false
"""


@pytest.fixture
def fast_benchmark() -> str:
    """A ``benchmark:`` section that times just enough to produce real numbers quickly
    (one round, no drift check: tests of rounds and drift ask for them explicitly)."""
    return FAST_BENCHMARK


@pytest.fixture(scope="session", autouse=True)
def _model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Train the built-in models once per test session, never into the user's cache."""
    path = tmp_path_factory.mktemp("model-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SQUEEZEBENCH_CACHE_DIR", str(path))
        yield path


@pytest.fixture(scope="session")
def registry() -> Registry:
    """The built-in plugins only (third-party packages installed here cannot leak in)."""
    return build_registry(build_plugin_manager(autoload=False))


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    """Write spec text (parts dedented one by one, then joined) to ``tmp_path/<name>``."""

    def write(*parts: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        text = "\n".join(textwrap.dedent(part).strip("\n") for part in parts) + "\n"
        path.write_text(text, encoding="utf-8")
        return path

    return write
