from __future__ import annotations

import numpy as np
import pytest
import torch
import torch._dynamo
from torch._dynamo.utils import counters

from squeezebench.errors import BackendUnavailable
from squeezebench.plugins.builtin.backends import torch_compile_backend
from squeezebench.plugins.builtin.backends.torch_compile_backend import (
    TorchCompileBackend,
    TorchCompileOptions,
)
from squeezebench.plugins.builtin.models.digits_models import build_architecture
from squeezebench.spec.models import TargetSpec


def _target(device: str = "cpu", **options: object) -> TargetSpec:
    return TargetSpec(backend="torch-compile", device=device, options={"threads": 1, **options})


def _compiled_frames() -> int:
    return counters["frames"]["total"]


def test_compiles_each_new_shape_in_place_and_never_in_run() -> None:
    torch.manual_seed(0)
    model = build_architecture("digits-mlp").eval()
    batch = np.random.default_rng(0).random((4, 64), dtype=np.float32)
    limit_before = torch._dynamo.config.recompile_limit
    runner = TorchCompileBackend().prepare(model, _target())
    try:
        frames = _compiled_frames()
        placed = runner.place(batch)  # compiles (4, 64) here, outside any timed region
        assert _compiled_frames() == frames + 1
        assert list(runner.compile_seconds) == [((4, 64), "torch.float32")]
        output = runner.fetch(runner.run(placed))
        assert _compiled_frames() == frames + 1  # run found the graph ready
        expected = model(torch.from_numpy(batch)).detach().numpy()
        np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-5)
        runner.place(batch)  # a shape seen before: nothing to compile
        assert _compiled_frames() == frames + 1
        runner.run(runner.place(batch[:1]))  # a new batch size: compiled in place, again
        assert _compiled_frames() == frames + 2
        assert len(runner.compile_seconds) == 2
        assert runner.lazy_prepare_seconds() == sum(runner.compile_seconds.values()) > 0
        assert runner.timer() is None
    finally:
        runner.close()
    assert torch._dynamo.config.recompile_limit == limit_before


class GraphBreak(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + 1
        torch._dynamo.graph_break()
        return x * 2


def test_a_failed_compile_is_a_one_line_backend_error() -> None:
    runner = TorchCompileBackend().prepare(GraphBreak(), _target(fullgraph=True))
    try:
        with pytest.raises(BackendUnavailable, match=r"torch\.compile failed for input shape"):
            runner.place(np.ones((2, 3), dtype=np.float32))
    finally:
        runner.close()


def test_options_are_checked() -> None:
    assert TorchCompileOptions().mode == "default"
    assert TorchCompileOptions().dynamic is False
    with pytest.raises(ValueError, match="reduce-overhead"):
        TorchCompileOptions(mode="fast")


def test_check_names_a_missing_cpp_compiler(monkeypatch) -> None:
    from torch._inductor import cpp_builder

    def no_compiler() -> str:
        raise RuntimeError("no compiler")

    monkeypatch.setattr(cpp_builder, "get_cpp_compiler", no_compiler)
    monkeypatch.setattr(torch_compile_backend.shutil, "which", lambda name: None)
    reason = TorchCompileBackend().check(_target())
    assert reason.startswith("torch.compile on CPU needs a C++ compiler")
    assert "apt install g++" in reason


def test_check_names_missing_python_headers(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(torch_compile_backend.sysconfig, "get_path", lambda name: str(tmp_path))
    reason = TorchCompileBackend().check(_target())
    assert "Python.h" in reason and "python3-dev" in reason


def test_check_passes_on_this_machine_with_a_compiler() -> None:
    if torch_compile_backend.shutil.which("g++") is None:
        pytest.skip("no g++ here")
    assert TorchCompileBackend().check(_target()) is None


def test_cuda_without_a_gpu_is_skipped_with_the_reason() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    reason = TorchCompileBackend().check(_target("cuda"))
    assert reason.startswith("CUDA is not available")
