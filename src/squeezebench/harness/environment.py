"""What the results were measured on: versions, hardware, threads, git commit, plugins."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

PACKAGES = ("squeezebench", "torch", "numpy", "pydantic", "pluggy", "pyarrow", "scikit-learn")


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``names`` (None when not installed)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_name(device: str) -> str | None:
    """The name of the GPU behind a target device (``cuda``, ``cuda:N``), or None.

    torch's name when torch runs CUDA here, else NVML's (an onnxruntime-gpu target next to a
    CPU build of torch); None for CPU devices or when neither can tell.
    """
    kind, _, index = device.partition(":")
    if kind != "cuda":
        return None
    number = int(index) if index.isdigit() else 0
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available():
            return str(torch.cuda.get_device_name(number))
    except Exception:  # a broken CUDA setup: try NVML
        pass
    from squeezebench.harness.measure.nvml_device import open_device

    opened, _ = open_device(number)
    if opened is None:
        return None
    try:
        name = opened.nvml.nvmlDeviceGetName(opened.handle)
    except Exception:
        return None
    return name.decode() if isinstance(name, bytes) else str(name)


def gpu_driver() -> str | None:
    """The NVIDIA driver version (through NVML), or None without one."""
    from squeezebench.harness.measure.nvml_device import import_pynvml

    nvml, _ = import_pynvml()
    if nvml is None:
        return None
    try:
        nvml.nvmlInit()
        version = nvml.nvmlSystemGetDriverVersion()
    except Exception:
        return None
    return version.decode() if isinstance(version, bytes) else str(version)


def _git(directory: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", *arguments], cwd=directory, capture_output=True, text=True, timeout=5, check=True
    ).stdout


def git_commit(directory: Path) -> dict[str, Any] | None:
    """``{"sha": ..., "dirty": ...}`` of the git repository at ``directory``, if any."""
    try:
        sha = _git(directory, "rev-parse", "HEAD").strip()
        dirty = bool(_git(directory, "status", "--porcelain").strip())
    except (OSError, subprocess.SubprocessError):
        return None
    return {"sha": sha, "dirty": dirty}


def capture_environment(directory: Path | None = None) -> dict[str, Any]:
    """Everything about this machine and process that can change a measurement."""
    import torch

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "hostname": platform.node(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "cuda_available": torch.cuda.is_available(),
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if torch.cuda.is_available()
        else [],
        "packages": package_versions(),
        "git": git_commit(directory or Path.cwd()),
    }
