"""The built-in digits models: defined here, trained deterministically, cached on disk.

Training is fixed (seed, one thread, full recipe in ``RECIPE``) so that every machine with
the same torch version gets bit-identical weights; the cache key covers all of it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from squeezebench.paths import cache_dir

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
    """The trained model, from the cache when present, else trained now and cached."""
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
