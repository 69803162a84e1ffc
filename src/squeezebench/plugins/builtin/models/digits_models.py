"""The built-in digits models: defined here, shipped trained, retrainable deterministically.

Training is fixed (seed, one thread, full recipe in ``RECIPE``), yet another CPU or torch
version can still give other weights, so the weights trained with this recipe ship with the
package (``digits_weights``) and every machine loads the same bytes. Training remains the
fallback, with a warning, when the shipped file is missing or its sha256 differs; the fallback
caches what it trains under a key that covers architecture, recipe, seed and torch version.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from squeezebench.paths import cache_dir
from squeezebench.plugins.builtin.models import digits_weights

TRAINING_SEED = 0
RECIPE = {"version": 1, "epochs": 25, "batch_size": 32, "lr": 0.003, "weight_decay": 1e-4}


def build_architecture(name: str) -> Any:
    """An untrained module of the named architecture (input ``(N, 1, 8, 8)``, 10 logits)."""
    from torch import nn

    if name == "digits-mlp":
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(64, 256),
            nn.ReLU(),
            nn.Linear(256, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )
    if name == "digits-cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )
    raise KeyError(name)


ARCHITECTURES = ("digits-mlp", "digits-cnn")


def cache_key(name: str) -> str:
    """Content key of a trained model: architecture, recipe, seed and torch version."""
    import torch

    torch_release = ".".join(torch.__version__.split("+")[0].split(".")[:2])
    payload = json.dumps(
        {"name": name, "recipe": RECIPE, "seed": TRAINING_SEED, "torch": torch_release},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def trained_model(name: str) -> Any:
    """The trained model in eval mode: the shipped weights, else (with a warning) trained here."""
    shipped = digits_weights.load_shipped(name)
    if shipped.state_dict is not None:
        model = build_architecture(name)
        model.load_state_dict(shipped.state_dict)
        return model.eval()
    warnings.warn(
        f"builtin:{name}: {shipped.problem}; training it with the built-in recipe instead "
        "(on this machine that may give other weights and figures than published ones; "
        "`squeezebench builtin-models retrain` rewrites the shipped files)",
        RuntimeWarning,
        stacklevel=2,
    )
    return cached_or_trained_model(name)


def cached_or_trained_model(name: str) -> Any:
    """The model trained on this machine, from the cache when present, else trained and cached."""
    import torch

    model = build_architecture(name)
    path = cache_dir() / "models" / f"{name}-{cache_key(name)}.pt"
    if path.exists():
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval()
    train(model)
    _save_atomically(model.state_dict(), path)
    return model.eval()


def train(model: Any) -> None:
    """Train ``model`` on the digits train split, deterministically (seeded, one thread)."""
    import torch

    from squeezebench.plugins.builtin.datasets.digits import digits_splits

    split = digits_splits().train
    inputs, labels = torch.from_numpy(split.inputs), torch.from_numpy(split.labels)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        generator = torch.Generator().manual_seed(TRAINING_SEED)
        torch.manual_seed(TRAINING_SEED)
        for module in model.modules():  # re-initialise under the fixed seed
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=RECIPE["lr"], weight_decay=RECIPE["weight_decay"]
        )
        loss_fn = torch.nn.CrossEntropyLoss()
        model.train()
        for _ in range(RECIPE["epochs"]):
            order = torch.randperm(len(labels), generator=generator)
            for start in range(0, len(order), RECIPE["batch_size"]):
                batch = order[start : start + RECIPE["batch_size"]]
                optimizer.zero_grad()
                loss_fn(model(inputs[batch]), labels[batch]).backward()
                optimizer.step()
        model.eval()
    finally:
        torch.set_num_threads(previous_threads)


def _save_atomically(state_dict: Any, path: Path) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(state_dict, temporary)
    os.replace(temporary, path)


@dataclass(frozen=True)
class RetrainedWeights:
    """One model retrained and written: where, its sha256, and whether the bytes changed."""

    name: str
    path: Path
    sha256: str
    previous_sha256: str


def trained_weights(name: str) -> bytes:
    """Train ``name`` with ``RECIPE``; its safetensors weights (with the recipe as metadata)."""
    import torch

    model = build_architecture(name)
    train(model)
    metadata = {
        "model": name,
        "recipe": json.dumps(RECIPE, sort_keys=True),
        "seed": str(TRAINING_SEED),
        "trained_with": f"torch {torch.__version__}",
    }
    return digits_weights.encode_state_dict(model.state_dict(), metadata)


def write_trained_weights(name: str, directory: Path, payload: bytes) -> RetrainedWeights:
    """Write ``payload`` (from :func:`trained_weights`) as ``name``'s file in ``directory``."""
    path = digits_weights.write_weights(directory, name, payload)
    return RetrainedWeights(
        name, path, digits_weights.sha256(payload), digits_weights.SHIPPED_SHA256[name]
    )


def retrain_weights(name: str, directory: Path) -> RetrainedWeights:
    """Train ``name`` with ``RECIPE`` and write its safetensors weights into ``directory``."""
    return write_trained_weights(name, directory, trained_weights(name))
