"""``builtin:<name>``: models that ship with squeezebench (``digits-mlp``, ``digits-cnn``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from squeezebench.plugins.contracts import LoadedModel, ModelSource
from squeezebench.plugins.markers import hookimpl
from squeezebench.suggest import unknown_name_message

DESCRIPTIONS = {
    "digits-mlp": "MLP 64-256-128-10 trained on the digits train split",
    "digits-cnn": "two-conv CNN (32, 64 channels) + MLP head trained on the digits train split",
}


class BuiltinModels(ModelSource):
    """Built-in models trained in seconds on the digits dataset and cached on disk."""

    scheme = "builtin"

    def check(self, reference: str, base_dir: Path) -> str | None:
        if reference not in DESCRIPTIONS:
            return unknown_name_message("built-in model", reference, DESCRIPTIONS)
        return None

    def load(
        self, reference: str, base_dir: Path, seed: int, *, trusted: bool = False
    ) -> LoadedModel:
        import torch

        from squeezebench.plugins.builtin.models.digits_models import trained_model

        return LoadedModel(
            artifact=trained_model(reference),
            example_input=torch.zeros(1, 1, 8, 8),
            description=DESCRIPTIONS[reference],
        )


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register the ``builtin:`` model source."""
    registry.add_model_source(BuiltinModels)
