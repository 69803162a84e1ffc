"""Applying a variant's pipeline to a fresh copy of the model, under a fixed seed."""

from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass
from typing import Any

from squeezebench.plugins.contracts import Encoder, LoadedModel, MethodContext
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
    """Run ``variant``'s steps in order on a deep copy of ``model``'s artifact."""
    artifact, artifact_format, simulated = copy.deepcopy(model.artifact), model.format, False
    seed_everything(context.seed)
    start = time.perf_counter()
    for step in variant.steps:
        method = registry.get("method", step.method)
        context.current_step = step.method
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
