"""Fixtures shared by the method tests: run a few variants through the harness."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from squeezebench.harness.run import run_spec
from squeezebench.plugins.registry import Registry
from squeezebench.results import load
from squeezebench.spec.load import load_spec


class VariantRunner:
    """Run a one-target spec of the given variants; keeps the last full result frame."""

    def __init__(
        self, write_spec: Callable[..., Path], registry: Registry, benchmark: str, tmp_path: Path
    ) -> None:
        self._write_spec = write_spec
        self._registry = registry
        self._benchmark = benchmark
        self._tmp_path = tmp_path
        self.frame: pd.DataFrame | None = None

    def __call__(
        self,
        variants_yaml: str,
        model: str = "builtin:digits-mlp",
        extra: str = "",
        *,
        seed: int = 0,
        isolate: bool = False,
    ) -> pd.DataFrame:
        """The batch-size-1 rows indexed by variant; ``self.frame`` holds every row.

        ``variants_yaml`` is the body of ``variants:`` (dedented here); ``extra`` is more
        top-level spec text. ``isolate=False`` runs in-process where the harness offers that:
        worker processes cost seconds per job.
        """
        head = f"""
            name: methods
            seed: {seed}
            model: {model}
            dataset: builtin:digits
            targets:
              - {{backend: torch, device: cpu, options: {{threads: 1}}}}
            variants:
            """
        variants = textwrap.indent(textwrap.dedent(variants_yaml).strip("\n"), "  ")
        spec = textwrap.dedent(head).strip("\n") + "\n" + variants
        path = self._write_spec(spec, extra, self._benchmark)
        resolved = load_spec(path, self._registry)
        outcome = run_spec(resolved, self._registry, self._tmp_path / "results", isolate=isolate)
        self.frame = load(outcome.directory)
        return self.frame[self.frame["batch_size"] == 1].set_index("variant")


@pytest.fixture
def run_variants(write_spec, registry, fast_benchmark, tmp_path) -> VariantRunner:
    """``run_variants(variants_yaml, model=..., extra=...)``: see :class:`VariantRunner`."""
    return VariantRunner(write_spec, registry, fast_benchmark, tmp_path)
