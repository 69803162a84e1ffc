"""A content-addressed cache of compressed artifacts, so a pipeline is applied once.

The key covers the model's content fingerprint, the pipeline with every param, the seed,
the dataset and the versions of squeezebench, torch and the methods' distributions: two
different models or params can never share an entry.

Entries are pickled Python objects (compressed modules have no safe, general format), so a
cache folder must be trusted like pip's cache: squeezebench only ever reads a folder it
created for this run, or the persistent one under the user's cache directory when the
user opts in with ``squeezebench run --cache-artifacts``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from squeezebench.harness.compress import CompressedArtifact

logger = logging.getLogger(__name__)


def artifact_key(
    model_fingerprint: str,
    steps_json: str,
    seed: int,
    dataset: str | None,
    versions: dict[str, str],
) -> str:
    """The cache key of one pipeline applied to one model."""
    payload = {
        "model": model_fingerprint,
        "steps": json.loads(steps_json),
        "seed": seed,
        "dataset": dataset,
        "versions": versions,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class ArtifactCache:
    """``<directory>/<key>.pt`` files holding :class:`CompressedArtifact` objects."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def get(self, key: str) -> CompressedArtifact | None:
        """The cached artifact, or None (missing or unreadable entries are misses)."""
        import torch

        path = self.directory / f"{key}.pt"
        if not path.is_file():
            return None
        try:
            # trusted: a folder squeezebench created (see the module docstring)
            cached = torch.load(path, weights_only=False)
        except Exception as error:
            logger.warning("ignoring unreadable artifact cache entry %s: %s", path, error)
            return None
        return cached if isinstance(cached, CompressedArtifact) else None

    def put(self, key: str, compressed: CompressedArtifact) -> bool:
        """Store ``compressed``; False (and nothing written) if it cannot be pickled."""
        import torch

        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.directory / f"{key}.pt"
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            torch.save(compressed, temporary)
            os.replace(temporary, path)
            return True
        except Exception as error:
            logger.info("artifact not cached (%s): %s", type(error).__name__, error)
            return False
        finally:
            if temporary.exists():
                temporary.unlink()
