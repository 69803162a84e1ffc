"""GPU check of the torch-based backends: CUDA event timing, dtypes, torch.compile on CUDA.

Run on a CUDA machine: ``python benchmarks/gpu_backends.py``. For each target it prints the
check result, the preparation time (prepare plus compile in ``place``), the largest output
difference from eager float32, and p50 latency measured two ways: with the runner's CUDA
event timer (what the harness records) and with the host clock around run + synchronize.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from squeezebench.harness.measure import latency  # not `time_calls`: asv would time it
from squeezebench.plugins.builtin.backends.tensorrt_backend import TensorRTBackend
from squeezebench.plugins.builtin.backends.torch_backend import TorchBackend
from squeezebench.plugins.builtin.backends.torch_compile_backend import TorchCompileBackend
from squeezebench.spec.models import TargetSpec

TARGETS = [
    ("torch", {"dtype": "float32"}),
    ("torch", {"dtype": "float16"}),
    ("torch", {"dtype": "bfloat16"}),
    ("torch-compile", {"mode": "default"}),
    ("torch-compile", {"mode": "reduce-overhead"}),
    ("torch-compile", {"mode": "default", "dtype": "float16"}),
]
BACKENDS = {"torch": TorchBackend, "torch-compile": TorchCompileBackend}


def model() -> torch.nn.Module:
    """A 3-layer MLP wide enough for the GPU to matter (64 -> 4096 -> 4096 -> 10)."""
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(64, 4096),
        torch.nn.ReLU(),
        torch.nn.Linear(4096, 4096),
        torch.nn.ReLU(),
        torch.nn.Linear(4096, 10),
    ).eval()


def p50(runner: object, placed: object, timer: object) -> float:
    stats = latency.time_calls(
        lambda: runner.run(placed),
        runner.synchronize,
        warmup_seconds=0.2,
        min_repeats=200,
        min_seconds=0.5,
        timer=timer,
    )
    return stats.p50


def main() -> None:
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
    net = model()
    batches = {
        size: np.random.default_rng(size).random((size, 64), np.float32) for size in (1, 256)
    }
    reference = {size: net(torch.from_numpy(b)).detach().numpy() for size, b in batches.items()}
    for backend_name, options in TARGETS:
        target = TargetSpec(backend=backend_name, device="cuda", options=options)
        backend = BACKENDS[backend_name]()
        label = f"{backend_name} {options}"
        reason = backend.check(target)
        if reason:
            print(f"{label}: skipped: {reason}")
            continue
        started = time.perf_counter()
        runner = backend.prepare(net, target)
        prepare = time.perf_counter() - started
        try:
            for size, batch in batches.items():
                placed = runner.place(batch)
                diff = np.abs(runner.fetch(runner.run(placed)) - reference[size]).max()
                event, host = p50(runner, placed, runner.timer()), p50(runner, placed, None)
                print(
                    f"{label} b={size}: prepare {prepare + runner.lazy_prepare_seconds():.2f} s, "
                    f"max |diff| {diff:.2e}, p50 events {event * 1e3:.1f} us, "
                    f"host {host * 1e3:.1f} us"
                )
        finally:
            runner.close()
    trt_target = TargetSpec(backend="tensorrt", device="cuda")
    print(f"tensorrt: {TensorRTBackend().check(trt_target) or 'available'}")


if __name__ == "__main__":
    main()
