"""Applying a variant's pipeline to a fresh copy of the model, under a fixed seed."""

from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass
from typing import Any

from squeezebench.errors import ConversionError
from squeezebench.plugins.contracts import Encoder, LoadedModel, MethodContext
from squeezebench.plugins.conversion import find_chain, no_path_reason, run_chain
from squeezebench.plugins.registry import Registry
from squeezebench.spec.resolve import Variant


@dataclass(frozen=True)
class CompressedArtifact:
    """The result of a pipeline: the artifact, its format and what it cost to make."""

    artifact: Any
    format: str
    seconds: float
    simulated: bool
    encoders: tuple[Encoder, ...] = ()
    notes: tuple[str, ...] = ()

    def encode(self, payload: bytes) -> bytes | None:
        """``payload`` through every encoder in pipeline order, or None without encoders."""
        if not self.encoders:
            return None
        for encoder in self.encoders:
            payload = encoder.encode(payload)
        return payload


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch so stochastic methods repeat exactly."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def compress(
    variant: Variant, model: LoadedModel, context: MethodContext, registry: Registry
) -> CompressedArtifact:
    """Run ``variant``'s steps in order on a deep copy of ``model``'s artifact.

    When a step does not take the format the previous one gives (``ort.quantize_dynamic``
    after a torch method), the shortest chain of registered converters is run in between
    and noted in the method log. Raises :class:`ConversionError` when no converter
    connects them, one cannot run here, or one rejects the artifact.
    """
    artifact, artifact_format, simulated = copy.deepcopy(model.artifact), model.format, False
    seed_everything(context.seed)
    start = time.perf_counter()
    for step in variant.steps:
        method = registry.get("method", step.method)
        context.current_step = step.method
        if artifact_format not in method.takes:
            artifact, artifact_format = _convert_for(
                step.method, method.takes, artifact, artifact_format, model, context, registry
            )
        artifact = method().apply(artifact, step.params, context)
        artifact_format = method.gives
        simulated = simulated or method.simulated
    context.current_step = ""
    return CompressedArtifact(
        artifact,
        artifact_format,
        time.perf_counter() - start,
        simulated,
        tuple(context.encoders),
        tuple(context.notes),
    )


def _convert_for(
    method: str,
    takes: tuple[str, ...],
    artifact: Any,
    artifact_format: str,
    model: LoadedModel,
    context: MethodContext,
    registry: Registry,
) -> tuple[Any, str]:
    """Convert ``artifact`` to a format ``method`` takes, noting the converters used."""
    chain = find_chain(registry, artifact_format, takes)
    if chain is None:
        raise ConversionError(no_path_reason(artifact_format, takes, method))
    converted = run_chain(chain, artifact, artifact_format, model.example_input)
    context.note(
        f"converted {artifact_format} to {converted.format} with "
        f"{', '.join(converted.chain)} ({converted.seconds:.2f} s) before this step"
    )
    return converted.artifact, converted.format
