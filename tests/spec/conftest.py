"""Fixtures of the spec tests (``registry``, the built-ins only, comes from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = REPO_ROOT / "examples" / "quickstart.yaml"
BROKEN_EXAMPLE = REPO_ROOT / "examples" / "broken.yaml"
COMMITTED_SCHEMA = REPO_ROOT / "schema" / "squeezebench.schema.json"


@pytest.fixture
def spec_file(tmp_path: Path) -> Callable[..., Path]:
    """Write ``text`` exactly as given to ``tmp_path/<name>`` and return the path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
