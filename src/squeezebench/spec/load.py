"""``load_spec``: from a file to a validated, registry-resolved :class:`ResolvedSpec`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from squeezebench.plugins.registry import Registry
from squeezebench.spec.issues import SpecError, SpecIssue
from squeezebench.spec.models import Spec, TargetSpec
from squeezebench.spec.pydantic_issues import issues_from_validation_error
from squeezebench.spec.resolve import Resolver, Variant
from squeezebench.spec.search_resolve import ResolvedSearch, resolve_search
from squeezebench.spec.spec_text import read_spec_text
from squeezebench.spec.yaml_loader import load_located


@dataclass(frozen=True)
class ResolvedSpec:
    """A valid spec: the parsed model plus resolved variants (baseline first) and targets."""

    spec: Spec
    path: Path
    variants: tuple[Variant, ...]
    targets: tuple[TargetSpec, ...]
    dataset: str | None
    search: ResolvedSearch | None = None

    @property
    def base_dir(self) -> Path:
        """The spec's folder, against which relative model paths are resolved."""
        return self.path.parent

    @property
    def spec_hash(self) -> str:
        """Hash of everything that defines the benchmark (not of comments or key order, nor
        of ``execution``: where it runs)."""
        # without a search, the payload (and hash) of specs from before searches existed
        excluded = {"execution"} if self.search else {"execution", "search"}
        payload = {
            "spec": self.spec.model_dump(mode="json", exclude=excluded),
            "variants": [[v.name, v.steps_json()] for v in self.variants],
            "targets": [
                t.model_dump(mode="json", exclude=set() if t.resources else {"resources"})
                for t in self.targets
            ],
        }
        text = json.dumps(payload, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_spec(
    path: str | Path, registry: Registry | None = None, *, deep: bool = False
) -> ResolvedSpec:
    """Read, validate and resolve the spec at ``path``.

    ``deep`` also runs the model source's thorough check (``validate --deep``: imports a
    ``python:`` module, loads a ``file:`` model). Raises :class:`SpecError` listing every
    issue found (``file:line:col: where: why``), or :class:`UserError` if the file cannot
    be read.
    """
    if registry is None:
        from squeezebench.plugins.manager import default_registry

        registry = default_registry()
    path = Path(path)
    text = read_spec_text(path)
    filename = str(path)
    document = load_located(text, filename)
    if not isinstance(document.data, dict):
        found = "an empty file" if document.data is None else type(document.data).__name__
        raise SpecError(
            filename, [SpecIssue(f"a spec must be a mapping of keys, got {found}", (), None, "")]
        )
    issues: list[SpecIssue] = []
    spec: Spec | None = None
    try:
        spec = Spec.model_validate(document.data)
    except ValidationError as error:
        issues.extend(issues_from_validation_error(error, Spec, document))

    data = document.data
    resolver = Resolver(registry, document, path.resolve().parent)
    trusted = data.get("trust_model_files") is True
    resolver.check_model(data.get("model"), deep=deep, trusted=trusted)
    dataset = resolver.resolve_dataset(data.get("dataset"))
    variants = resolver.resolve_variants(data.get("variants"), data.get("sweep"))
    targets = resolver.resolve_targets(data.get("targets", ["torch:cpu"]))
    search = resolve_search(resolver, data.get("search"), spec, targets, dataset)
    issues.extend(resolver.issues)
    if issues or spec is None:
        raise SpecError(filename, issues)
    return ResolvedSpec(spec, path, tuple(variants), tuple(targets), dataset, search)
