"""Plugins that break one rule of their contract each: the conformance kit must catch them.

They live in an importable module (not a test file) because some checks load a plugin
again in a fresh process, as squeezebench's workers do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from squeezebench.plugins import (
    Backend,
    Dataset,
    DatasetSplits,
    LoadedModel,
    Method,
    ModelSource,
    Split,
)
from squeezebench.plugins.builtin.backends.torch_backend import TorchBackend, TorchRunner


class OpenParams(BaseModel):
    """Params that silently accept misspelt keys."""

    level: int = 1


class OpenParamsMethod(Method):
    """Its Params model is not closed."""

    name = "broken.open_params"
    Params = OpenParams

    def apply(self, artifact: Any, params: Any, ctx: Any) -> Any:
        import torch

        with torch.no_grad():
            next(artifact.parameters()).mul_(0.5)
        return artifact


class DoesNothing(Method):
    """Returns the model untouched."""

    name = "broken.does_nothing"

    def apply(self, artifact: Any, params: Any, ctx: Any) -> Any:
        return artifact


class Unseeded(Method):
    """Adds noise from the global generator instead of ctx.seed."""

    name = "broken.unseeded"

    def apply(self, artifact: Any, params: Any, ctx: Any) -> Any:
        import torch

        with torch.no_grad():
            for parameter in artifact.parameters():
                parameter.add_(torch.randn(parameter.shape) * 1e-3)
        return artifact


class BreaksTheModel(Method):
    """Leaves weights that give NaN outputs."""

    name = "broken.nan"

    def apply(self, artifact: Any, params: Any, ctx: Any) -> Any:
        import torch

        with torch.no_grad():
            next(artifact.parameters()).fill_(float("nan"))
        return artifact


class WrongBatchRunner(TorchRunner):
    def fetch(self, output: Any) -> np.ndarray:
        return super().fetch(output)[:1]


class WrongBatchBackend(TorchBackend):
    """Fetches only the first output of a batch."""

    name = "broken-batch"

    def prepare(self, artifact: Any, target: Any) -> Any:
        return WrongBatchRunner(artifact, target.device, 1)


class ThreadLeakRunner(TorchRunner):
    def close(self) -> None:
        pass  # never gives torch its thread count back


class ThreadLeakBackend(TorchBackend):
    """Its runner's close does not restore torch's threads."""

    name = "broken-threads"

    def prepare(self, artifact: Any, target: Any) -> Any:
        import torch

        return ThreadLeakRunner(artifact, target.device, torch.get_num_threads() + 1)


KEPT: list[Any] = []


class HoardingBackend(TorchBackend):
    """Keeps every runner it made in a module-level list."""

    name = "broken-hoard"

    def prepare(self, artifact: Any, target: Any) -> Any:
        runner = super().prepare(artifact, target)
        KEPT.append(runner)
        return runner


class ShuffledDigits(Dataset):
    """Draws a new split at every load."""

    name = "broken-shuffled"

    def load(self) -> DatasetSplits:
        from squeezebench.plugins.builtin.datasets.digits import digits_splits

        splits = digits_splits()
        order = np.random.default_rng().permutation(len(splits.test.inputs))
        test = Split(splits.test.inputs[order], splits.test.labels[order])
        return DatasetSplits(splits.train, splits.calibration, test)


class RandomWeights(ModelSource):
    """A model initialised without a seed."""

    scheme = "broken-random"

    def load(self, reference: str, base_dir: Path, seed: int, *, trusted: bool = False) -> Any:
        import torch

        return LoadedModel(torch.nn.Linear(4, 2), torch.zeros(1, 4))


class ExpensiveCheck(ModelSource):
    """Imports torch while validating a reference."""

    scheme = "broken-expensive"

    def check(self, reference: str, base_dir: Path) -> str | None:
        import torch  # noqa: F401

        return None

    def load(self, reference: str, base_dir: Path, seed: int, *, trusted: bool = False) -> Any:
        import torch

        torch.manual_seed(seed)
        return LoadedModel(torch.nn.Linear(4, 2), torch.zeros(1, 4))


class ClosedParams(BaseModel):
    """Closed, for contrast with OpenParams."""

    model_config = ConfigDict(extra="forbid")
    level: int = 1


class NotABackend(Backend):
    """No formats."""

    name = "broken-formats"
    formats = ()
