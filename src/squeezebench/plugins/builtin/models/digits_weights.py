"""The shipped weights of the built-in digits models: safetensors package data pinned by sha256.

Training gives different weights on different CPUs and torch versions (other SIMD kernels,
other summation orders), so the trained models ship with the package and every machine loads
the same bytes. ``SHIPPED_SHA256`` pins each file; ``squeezebench builtin-models retrain``
rewrites the files and these pins together.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from squeezebench.plugins.builtin.models import safetensors_format

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable  # Python 3.11+; an annotation only

WEIGHTS_PACKAGE = "squeezebench.plugins.builtin.models"
WEIGHTS_FOLDER = "weights"

# sha256 of the files under weights/, rewritten by `squeezebench builtin-models retrain`
SHIPPED_SHA256 = {
    "digits-mlp": "d38d1998e09c9dc5b05e7e93276ff43cac461188d8f030a47776e904633845f6",
    "digits-cnn": "582d85a42fe271d65b9acce29f582eb683242c39e8ce4da1270373db050a5081",
}


@dataclass(frozen=True)
class ShippedWeights:
    """The outcome of loading one shipped file: its state dict, or why it cannot be used."""

    state_dict: dict[str, Any] | None
    problem: str | None


def file_name(name: str) -> str:
    """The file name of a model's weights (``digits-cnn.safetensors``)."""
    return f"{name}.safetensors"


def shipped_file(name: str) -> Traversable:
    """Where the installed package keeps the named model's weights (found via importlib)."""
    return resources.files(WEIGHTS_PACKAGE).joinpath(WEIGHTS_FOLDER, file_name(name))


def sha256(payload: bytes) -> str:
    """The hex sha256 of ``payload``."""
    return hashlib.sha256(payload).hexdigest()


def load_shipped(name: str) -> ShippedWeights:
    """The pinned state dict of ``name`` (torch tensors), or the reason it is unusable."""
    import torch

    location = shipped_file(name)
    try:
        payload = location.read_bytes()
    except OSError:
        return ShippedWeights(None, f"the shipped weights {location} are missing")
    pinned, actual = SHIPPED_SHA256[name], sha256(payload)
    if actual != pinned:
        return ShippedWeights(
            None, f"the shipped weights {location} have sha256 {actual}, expected {pinned}"
        )
    tensors, _ = safetensors_format.decode(payload)
    # copy: frombuffer views of bytes are read-only, which torch.from_numpy warns about
    return ShippedWeights({key: torch.from_numpy(a.copy()) for key, a in tensors.items()}, None)


def encode_state_dict(state_dict: dict[str, Any], metadata: dict[str, str]) -> bytes:
    """Safetensors bytes of a torch state dict (CPU copies of its tensors) with ``metadata``."""
    arrays = {key: value.detach().cpu().contiguous().numpy() for key, value in state_dict.items()}
    return safetensors_format.encode(arrays, metadata)


def write_weights(directory: Path, name: str, payload: bytes) -> Path:
    """Write ``payload`` as ``directory/<name>.safetensors`` atomically; return the path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / file_name(name)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(payload)
    os.replace(temporary, path)
    return path


def package_weights_folder() -> Path | None:
    """The shipped weights' folder as a real directory, or None (e.g. a zipped install)."""
    folder = resources.files(WEIGHTS_PACKAGE).joinpath(WEIGHTS_FOLDER)
    return folder if isinstance(folder, Path) else None


def pin(hashes: dict[str, str], source: Path | None = None) -> Path:
    """Rewrite the ``SHIPPED_SHA256`` entries of ``hashes`` in this module's source file."""
    this_module = Path(__file__)
    source = source or this_module
    text = source.read_text(encoding="utf-8")
    for name, digest in hashes.items():
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ValueError(f"{name}: {digest!r} is not a hex sha256")
        pattern = re.compile(rf'^(    "{re.escape(name)}": ")[0-9a-f]{{64}}(",)$', re.MULTILINE)
        text, count = pattern.subn(rf"\g<1>{digest}\g<2>", text)
        if count != 1:
            raise ValueError(f"{source}: expected one pinned sha256 for {name}, found {count}")
    source.write_text(text, encoding="utf-8")
    if source.resolve() == this_module.resolve():
        SHIPPED_SHA256.update(hashes)
    return source
