from __future__ import annotations

import torch

from squeezebench.harness.artifact_cache import ArtifactCache, artifact_key
from squeezebench.harness.compress import CompressedArtifact
from squeezebench.harness.identity import model_fingerprint

STEPS = '[{"method": "prune.magnitude", "params": {"sparsity": 0.5}}]'


def test_key_separates_models_params_seeds_and_versions() -> None:
    first, second = torch.nn.Linear(4, 2), torch.nn.Linear(4, 2)
    with torch.no_grad():
        second.weight.copy_(first.weight)
        second.bias.copy_(first.bias)
    assert model_fingerprint(first) == model_fingerprint(second)
    with torch.no_grad():
        second.weight[0, 0] += 1e-6  # a different model, however slightly
    assert model_fingerprint(first) != model_fingerprint(second)
    assert model_fingerprint(torch.nn.Linear(4, 2)) != model_fingerprint(torch.nn.Linear(2, 4))

    base = artifact_key("m", STEPS, 0, "digits", {"torch": "2.13"})
    assert base == artifact_key("m", STEPS, 0, "digits", {"torch": "2.13"})
    assert base != artifact_key("m2", STEPS, 0, "digits", {"torch": "2.13"})
    assert base != artifact_key("m", STEPS.replace("0.5", "0.6"), 0, "digits", {"torch": "2.13"})
    assert base != artifact_key("m", STEPS, 1, "digits", {"torch": "2.13"})
    assert base != artifact_key("m", STEPS, 0, "digits", {"torch": "2.14"})


def test_round_trip_and_unpicklable_entries_are_skipped(tmp_path) -> None:
    cache = ArtifactCache(tmp_path / "cache")
    stored = CompressedArtifact(torch.nn.Linear(3, 1), "torch.module", 0.5, False)
    assert cache.put("k", stored)
    loaded = cache.get("k")
    assert torch.equal(loaded.artifact.weight, stored.artifact.weight)
    assert cache.get("missing") is None
    unpicklable = CompressedArtifact(lambda: None, "torch.module", 0.0, False)
    assert not cache.put("bad", unpicklable)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["k.pt"]
