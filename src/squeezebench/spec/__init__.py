"""The spec: pydantic models, the located YAML loader, registry resolution, JSON Schema."""

from squeezebench.spec.issues import Position, SpecError, SpecIssue
from squeezebench.spec.load import ResolvedSpec, load_spec
from squeezebench.spec.models import BenchmarkSpec, OutputSpec, Spec, TargetSpec
from squeezebench.spec.resolve import BASELINE, Step, Variant

__all__ = [
    "BASELINE",
    "BenchmarkSpec",
    "OutputSpec",
    "Position",
    "ResolvedSpec",
    "Spec",
    "SpecError",
    "SpecIssue",
    "Step",
    "TargetSpec",
    "Variant",
    "load_spec",
]
