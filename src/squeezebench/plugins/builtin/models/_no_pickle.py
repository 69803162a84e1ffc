"""Refusing to unpickle Python objects while loading an untrusted model file.

``torch.export.load`` falls back to ``torch.load(weights_only=False)`` and ``pickle.loads``
for some payloads, which can run arbitrary code from a crafted ``.pt2`` file. Inside
``refuse_pickle()`` those paths raise instead, unless the spec sets ``trust_model_files``.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterator
from typing import Any

from squeezebench.errors import UserError

REFUSAL = (
    "the model file wants to unpickle Python objects, which can run arbitrary code; "
    "set `trust_model_files: true` in the spec only if you trust this file"
)


class UnpicklingRefused(UserError):
    """An untrusted model file needed Python unpickling."""


@contextlib.contextmanager
def refuse_pickle() -> Iterator[None]:
    """Within the block, ``torch.load`` is weights-only and ``pickle.loads`` raises."""
    import torch

    original_load, original_loads = torch.load, pickle.loads

    def weights_only_load(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("weights_only") is False:
            raise UnpicklingRefused(REFUSAL)
        kwargs["weights_only"] = True
        return original_load(*args, **kwargs)

    def no_loads(*args: Any, **kwargs: Any) -> Any:
        raise UnpicklingRefused(REFUSAL)

    torch.load, pickle.loads = weights_only_load, no_loads
    try:
        yield
    finally:
        torch.load, pickle.loads = original_load, original_loads
