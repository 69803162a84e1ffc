from __future__ import annotations

import io

import numpy as np
import torch

from squeezebench.plugins.builtin.backends.torch_backend import TorchBackend
from squeezebench.spec.models import TargetSpec


def test_runner_sets_and_restores_threads_and_ships_the_state_dict() -> None:
    before = torch.get_num_threads()
    model = torch.nn.Linear(4, 2)
    runner = TorchBackend().prepare(model, TargetSpec(backend="torch", options={"threads": 1}))
    assert torch.get_num_threads() == 1
    output = runner.fetch(runner.run(runner.place(np.ones((3, 4), dtype=np.float32))))
    assert output.shape == (3, 2)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    assert len(runner.artifact_bytes()) == len(buffer.getvalue())
    runner.close()
    assert torch.get_num_threads() == before


def test_cuda_target_without_a_gpu_explains_why() -> None:
    reason = TorchBackend().check(TargetSpec.model_validate("torch:cuda"))
    if torch.cuda.is_available():
        assert reason is None
    else:
        assert "no CUDA device" in reason
