"""Fingerprints that make a job's identity: the model's bytes and the relevant versions.

Two jobs share an identity only if they would measure the same thing: the same model
content (not just the same reference string), pipeline and params, target, seed, and the
same versions of squeezebench, torch and the plugin distributions the job uses.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from typing import Any

from squeezebench._version import __version__
from squeezebench.plugins.registry import Registry


def model_fingerprint(module: Any) -> str:
    """SHA-256 of a torch module's architecture and every state-dict tensor's bytes."""
    import torch

    digest = hashlib.sha256()
    digest.update(repr(module).encode())
    for name, value in module.state_dict().items():
        digest.update(name.encode())
        if isinstance(value, torch.Tensor):
            tensor = value.detach().cpu().contiguous()
            if tensor.is_quantized:
                tensor = tensor.int_repr()
            digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
            digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())
        else:
            digest.update(repr(value).encode())
    return digest.hexdigest()


def package_version(name: str) -> str | None:
    """Installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def job_versions(registry: Registry, methods: list[str], backend: str) -> dict[str, str]:
    """Versions that can change a job's results: squeezebench, torch and its plugins'."""
    versions = {"squeezebench": __version__, "torch": package_version("torch") or "?"}
    for kind, name in [("method", m) for m in methods] + [("backend", backend)]:
        if (kind, name) in registry:
            versions[f"{kind}:{name}"] = registry.entries(kind)[name].distribution
    return versions
