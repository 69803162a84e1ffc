"""What a model file is, from its first bytes and (for zip archives) its member names.

Cheap enough for ``squeezebench validate`` (no torch import, reads a few bytes and a zip
directory), and the ``file:`` source picks its loader from it rather than from the suffix.
The leading underscore keeps this module from being loaded as a plugin.
"""

from __future__ import annotations

import struct
import zipfile
from enum import Enum
from pathlib import Path

SUPPORTED = (
    "the file: source loads a torch.export program (torch.export.save, .pt2) or a TorchScript "
    "archive (torch.jit.save)"
)


class ModelFileKind(Enum):
    """A model file's format; ``description`` says it in words."""

    EXPORTED_PROGRAM = "a torch.export program"
    TORCHSCRIPT = "a TorchScript archive"
    TORCH_SAVE = "a torch.save file (a state_dict or a pickled module), which has no graph"
    LEGACY_PICKLE = "a legacy torch.save pickle, which has no graph"
    OTHER_ZIP = "a zip archive that is neither a torch.export program nor TorchScript"
    DAMAGED_ZIP = "a damaged zip archive (truncated or corrupted?)"
    SAFETENSORS = "safetensors weights, which have no architecture"
    ONNX = "an ONNX model"
    HDF5 = "an HDF5 file (a Keras model?)"
    NUMPY = "a numpy array file"
    GGUF = "a GGUF (llama.cpp) model"
    EMPTY = "empty"
    UNKNOWN = "of no format squeezebench knows"

    @property
    def loadable(self) -> bool:
        """Whether the ``file:`` source can load this kind."""
        return self in (ModelFileKind.EXPORTED_PROGRAM, ModelFileKind.TORCHSCRIPT)


_MAGIC = (
    (b"\x89HDF\r\n\x1a\n", ModelFileKind.HDF5),
    (b"\x93NUMPY", ModelFileKind.NUMPY),
    (b"GGUF", ModelFileKind.GGUF),
)


def sniff(path: Path) -> ModelFileKind:
    """The kind of the file at ``path`` (raises ``OSError`` if it cannot be read)."""
    with open(path, "rb") as stream:
        head = stream.read(16)
    if not head:
        return ModelFileKind.EMPTY
    if head.startswith(b"PK"):
        return _zip_kind(path)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return ModelFileKind.LEGACY_PICKLE
    if _is_safetensors(path, head):
        return ModelFileKind.SAFETENSORS
    if head[:1] == b"\x08" and path.suffix.lower() == ".onnx":  # ModelProto.ir_version first
        return ModelFileKind.ONNX
    return ModelFileKind.UNKNOWN


def _zip_kind(path: Path) -> ModelFileKind:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        return ModelFileKind.DAMAGED_ZIP
    # members sit under one top-level folder: compare what follows it
    inner = {name.split("/", 1)[1] if "/" in name else name for name in names}
    if "archive_format" in inner or "serialized_exported_program.json" in inner:
        return ModelFileKind.EXPORTED_PROGRAM
    if "constants.pkl" in inner and any(name.startswith("code/") for name in inner):
        return ModelFileKind.TORCHSCRIPT
    if "data.pkl" in inner:
        return ModelFileKind.TORCH_SAVE
    return ModelFileKind.OTHER_ZIP


def _is_safetensors(path: Path, head: bytes) -> bool:
    """An 8-byte little-endian header length, then a JSON header of that length."""
    if len(head) < 9 or head[8:9] != b"{":
        return False
    (length,) = struct.unpack("<Q", head[:8])
    return 2 <= length <= path.stat().st_size - 8
