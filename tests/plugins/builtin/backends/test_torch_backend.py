from __future__ import annotations

import io
import types

import numpy as np
import pytest
import torch

from squeezebench.errors import BackendUnavailable
from squeezebench.plugins.builtin.backends import _cuda_timing, torch_backend
from squeezebench.plugins.builtin.backends.torch_backend import TorchBackend, TorchOptions
from squeezebench.plugins.builtin.methods._torch_ao import quantize_dynamic_linear
from squeezebench.quantized.cast import CastModel
from squeezebench.spec.models import TargetSpec


def _target(device: str = "cpu", **options: object) -> TargetSpec:
    return TargetSpec(backend="torch", device=device, options=options)


def test_runner_sets_and_restores_threads_and_ships_the_state_dict() -> None:
    before = torch.get_num_threads()
    model = torch.nn.Linear(4, 2)
    runner = TorchBackend().prepare(model, _target(threads=1))
    assert torch.get_num_threads() == 1
    output = runner.fetch(runner.run(runner.place(np.ones((3, 4), dtype=np.float32))))
    assert output.shape == (3, 2)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    assert len(runner.artifact_bytes()) == len(buffer.getvalue())
    assert runner.timer() is None  # CPU: the host clock, exactly as before
    runner.close()
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(("dtype", "tolerance"), [("float16", 1e-2), ("bfloat16", 5e-2)])
def test_half_precision_casts_model_and_inputs_on_a_copy(dtype: str, tolerance: float) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3),
        torch.nn.Flatten(),
        torch.nn.Linear(576, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 3),
    )
    batch = np.random.default_rng(0).random((5, 1, 8, 8), dtype=np.float32)
    reference = model(torch.from_numpy(batch)).detach().numpy()
    runner = TorchBackend().prepare(model, _target(threads=1, dtype=dtype))
    placed = runner.place(batch)
    assert placed.dtype == getattr(torch, dtype)
    output = runner.fetch(runner.run(placed))
    runner.close()
    assert output.dtype == np.float32
    np.testing.assert_allclose(output, reference, atol=tolerance, rtol=tolerance)
    assert not np.array_equal(output, reference)  # it really ran in half precision
    assert next(model.parameters()).dtype == torch.float32  # the shared artifact is intact
    assert len(runner.artifact_bytes()) < len(_saved(model)) * 0.75  # half-size weights


def test_integer_inputs_are_not_cast() -> None:
    model = torch.nn.Embedding(10, 4)
    runner = TorchBackend().prepare(model, _target(threads=1, dtype="bfloat16"))
    placed = runner.place(np.array([[1, 2, 3]], dtype=np.int64))
    assert placed.dtype == torch.int64
    assert runner.run(placed).dtype == torch.bfloat16
    runner.close()


def test_half_precision_refuses_torch_ao_int8_layers_with_a_reason() -> None:
    before = torch.get_num_threads()
    model = quantize_dynamic_linear(torch.nn.Sequential(torch.nn.Linear(8, 4)))
    expected = r"torch\.ao int8 layers \(.*quantized\.dynamic\.Linear"
    with pytest.raises(BackendUnavailable, match=expected):
        TorchBackend().prepare(model, _target(threads=1, dtype="float16"))
    assert torch.get_num_threads() == before  # nothing to undo when prepare refuses


def test_half_precision_refuses_an_already_cast_model() -> None:
    model = CastModel(torch.nn.Linear(4, 2), torch.bfloat16)
    with pytest.raises(BackendUnavailable, match=r"quantize\.cast"):
        TorchBackend().prepare(model, _target(dtype="float16"))


def test_dtype_option_is_validated() -> None:
    assert TorchOptions().dtype == "float32"
    with pytest.raises(ValueError, match="float16"):
        TorchOptions(dtype="half")


def test_cuda_target_without_a_gpu_explains_why() -> None:
    reason = TorchBackend().check(TargetSpec.model_validate("torch:cuda"))
    if torch.cuda.is_available():
        assert reason is None
    else:
        assert reason.startswith("CUDA is not available (torch ")


def _fake_torch(*, cuda: str | None, available: bool, count: int = 1) -> types.SimpleNamespace:
    return types.SimpleNamespace(
        __version__="2.9.1" + ("+cpu" if cuda is None else "+cu126"),
        version=types.SimpleNamespace(cuda=cuda),
        cuda=types.SimpleNamespace(is_available=lambda: available, device_count=lambda: count),
        device=torch.device,
    )


def test_cuda_reasons_say_what_is_missing() -> None:
    reason = _cuda_timing.cuda_unavailable_reason
    assert reason(_fake_torch(cuda=None, available=False), "cuda") == (
        "CUDA is not available (torch 2.9.1+cpu built without CUDA)"
    )
    assert reason(_fake_torch(cuda="12.6", available=False), "cuda") == (
        "CUDA is not available (torch 2.9.1+cu126: no CUDA device visible)"
    )
    assert reason(_fake_torch(cuda="12.6", available=True), "cuda:0") is None
    assert "cuda:3 does not exist: torch sees 2" in reason(
        _fake_torch(cuda="12.6", available=True, count=2), "cuda:3"
    )


class FakeEvent:
    """Stands in for torch.cuda.Event: records onto a fake stream with a fake GPU clock."""

    log: list[str] = []
    gpu_ms = 0.0

    def __init__(self, enable_timing: bool = False) -> None:
        assert enable_timing
        self.at: float | None = None

    def record(self, stream: object = None) -> None:
        FakeEvent.log.append(f"record on {stream}")
        FakeEvent.gpu_ms += 1.5
        self.at = FakeEvent.gpu_ms

    def synchronize(self) -> None:
        FakeEvent.log.append("event sync")

    def elapsed_time(self, end: FakeEvent) -> float:
        assert self.at is not None and end.at is not None
        return end.at - self.at


def test_cuda_runner_times_with_events_on_the_current_stream(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: f"stream({device})")
    runner = torch_backend.TorchRunner.__new__(torch_backend.TorchRunner)
    runner.device = "cuda:0"
    timer = runner.timer()
    assert isinstance(timer, _cuda_timing.CudaEventTimer)
    FakeEvent.log.clear()
    timer.start()
    timer.stop()
    assert FakeEvent.log == ["record on stream(cuda:0)", "record on stream(cuda:0)", "event sync"]
    assert timer.elapsed_ms() == pytest.approx(1.5)


def _saved(model: torch.nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def test_runner_notes_are_the_cuda_dispatch_choices_since_the_last_call() -> None:
    from squeezebench.quantized.cuda import record

    record.clear()
    runner = TorchBackend().prepare(torch.nn.Linear(2, 2), _target())
    try:
        assert runner.notes() == []
        record.record_use("key", "cuda linear 4096x4096 ...: fused (calibrated)")
        assert runner.notes() == ["cuda linear 4096x4096 ...: fused (calibrated)"]
        assert runner.notes() == []
    finally:
        runner.close()
        record.clear()
