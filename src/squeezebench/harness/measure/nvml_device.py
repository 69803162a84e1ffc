"""The NVML handle of a CUDA device, through the optional ``pynvml`` module (``nvidia-ml-py``).

NVML numbers GPUs in PCI bus order over the whole machine, while CUDA (and torch's ``cuda:N``)
numbers the devices left visible by ``CUDA_VISIBLE_DEVICES``, fastest first by default. The
handle is therefore found, in order of preference, by the device's UUID from torch (when torch
has already initialised CUDA in this process), by the ``CUDA_VISIBLE_DEVICES`` entry of the
device (an NVML index or a ``GPU-`` UUID), or by the CUDA index itself. Integer entries and the
last fallback assume CUDA's order equals NVML's, which holds with
``CUDA_DEVICE_ORDER=PCI_BUS_ID`` or when all GPUs are the same model.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

NOT_INSTALLED = "pynvml not installed (pip install squeezebench[nvml])"


@dataclass(frozen=True)
class NvmlDevice:
    """An initialised NVML and one device's handle; ``index`` is NVML's (nvidia-smi's) index."""

    nvml: Any
    handle: Any
    index: int


def import_pynvml() -> tuple[Any | None, str | None]:
    """The ``pynvml`` module, or None and why (not installed)."""
    try:
        import pynvml
    except ImportError:
        return None, NOT_INSTALLED
    return pynvml, None


def open_device(
    cuda_index: int = 0, nvml: Any | None = None
) -> tuple[NvmlDevice | None, str | None]:
    """The NVML device behind ``cuda:<cuda_index>``, or None and the reason.

    ``nvml`` replaces the ``pynvml`` module (tests pass a fake). ``nvmlInit`` is called on every
    open; NVML counts the calls, and the handle stays valid for the life of the process.
    """
    if nvml is None:
        nvml, problem = import_pynvml()
        if nvml is None:
            return None, problem or NOT_INSTALLED
    try:
        nvml.nvmlInit()
        handle = _handle(nvml, cuda_index)
        return NvmlDevice(nvml, handle, int(nvml.nvmlDeviceGetIndex(handle))), None
    except nvml.NVMLError as error:
        return None, f"NVML cannot open GPU cuda:{cuda_index}: {_describe(error)}"
    except LookupError as error:
        return None, str(error)


def _handle(nvml: Any, cuda_index: int) -> Any:
    uuid = _torch_uuid(cuda_index)
    if uuid is not None:
        return nvml.nvmlDeviceGetHandleByUUID(uuid)
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return nvml.nvmlDeviceGetHandleByIndex(cuda_index)
    entries = [entry.strip() for entry in visible.split(",") if entry.strip()]
    if cuda_index >= len(entries):
        raise LookupError(f"cuda:{cuda_index} is not among CUDA_VISIBLE_DEVICES={visible!r}")
    entry = entries[cuda_index]
    if entry.isdigit():
        return nvml.nvmlDeviceGetHandleByIndex(int(entry))
    if entry.startswith(("GPU-", "MIG-")):
        return nvml.nvmlDeviceGetHandleByUUID(entry)
    raise LookupError(f"cannot map CUDA_VISIBLE_DEVICES entry {entry!r} to an NVML device")


def _torch_uuid(cuda_index: int) -> str | None:
    # only when torch already runs CUDA here: importing torch or initialising CUDA to find a
    # handle would cost seconds and GPU memory in a process that may never use them
    torch = sys.modules.get("torch")
    try:
        if torch is None or not torch.cuda.is_initialized():
            return None
        uuid = str(torch.cuda.get_device_properties(cuda_index).uuid)
    except Exception:  # older torch without .uuid, or a device torch cannot describe
        return None
    return uuid if uuid.startswith(("GPU-", "MIG-")) else f"GPU-{uuid}"


def _describe(error: BaseException) -> str:
    text = str(error)
    return text if text else type(error).__name__
