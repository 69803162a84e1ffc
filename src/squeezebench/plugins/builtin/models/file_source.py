"""``file:<path>``: a model file, as a torch.export program (``.pt2``) or TorchScript.

Files are loaded without unpickling arbitrary objects: ``torch.jit.load`` and
``torch.export.load`` rebuild the model from its serialized graph, and the pickle fall-backs
inside ``torch.export.load`` are refused unless the spec sets ``trust_model_files``.
The loader is chosen by the file's content (see ``_model_file_format``), not its suffix;
weights without an architecture (a ``state_dict``, safetensors) and other formats are refused
with what the file is. Relative paths are resolved against the spec's folder.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from squeezebench.errors import UserError
from squeezebench.plugins.builtin.models._model_file_format import (
    SUPPORTED,
    ModelFileKind,
    sniff,
)
from squeezebench.plugins.contracts import LoadedModel, ModelSource
from squeezebench.plugins.markers import hookimpl


class ModelFile(ModelSource):
    """A model file: torch.export ExportedProgram (``.pt2``) or TorchScript archive."""

    scheme = "file"

    def check(self, reference: str, base_dir: Path) -> str | None:
        try:
            path = (base_dir / reference).resolve()
            if not path.exists():
                return f"model file not found: {path}"
            if not path.is_file():
                return f"{path} is not a file; {SUPPORTED}"
            kind = sniff(path)
        except (OSError, ValueError) as error:  # e.g. a name too long, a NUL character
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            return f"cannot use {reference!r} as a model file: {reason}"
        if not kind.loadable:
            return f"{path} is {kind.value}; {SUPPORTED}"
        return None

    def deep_check(self, reference: str, base_dir: Path, *, trusted: bool = False) -> str | None:
        """Load the model (imports torch): catches damage that the header does not show."""
        try:
            self.load(reference, base_dir, seed=0, trusted=trusted)
        except UserError as error:
            return str(error)
        return None

    def load(
        self, reference: str, base_dir: Path, seed: int, *, trusted: bool = False
    ) -> LoadedModel:
        path = (base_dir / reference).resolve()
        problem = self.check(reference, base_dir)
        if problem:
            raise UserError(problem)
        if sniff(path) is ModelFileKind.EXPORTED_PROGRAM:
            return _load_exported_program(path, trusted)
        return _load_torchscript(path)


def _load_exported_program(path: Path, trusted: bool) -> LoadedModel:
    import torch

    from squeezebench.plugins.builtin.models._exported_program import usable_module
    from squeezebench.plugins.builtin.models._no_pickle import UnpicklingRefused, refuse_pickle
    from squeezebench.plugins.builtin.models._quiet_torch_logging import quiet_torch_logging

    # torch logs a traceback before raising: the UserError below says it in one line
    with quiet_torch_logging() as logged:
        try:
            with contextlib.nullcontext() if trusted else refuse_pickle():
                program = torch.export.load(str(path))
        except UnpicklingRefused as error:
            raise UserError(f"{path}: {error}") from None
        except Exception as error:
            reason = _logged_reason(logged) or f"{type(error).__name__}: {error}"
            raise UserError(f"{path} is not a loadable torch.export program: {reason}") from error
    module, lifted = usable_module(program, str(path))
    example = program.example_inputs[0][0] if program.example_inputs else None
    return LoadedModel(module, example, description=f"{path} ({lifted} layers lifted)")


def _load_torchscript(path: Path) -> LoadedModel:
    import torch

    from squeezebench.plugins.builtin.models._quiet_torch_logging import quiet_torch_logging

    with quiet_torch_logging() as logged:
        try:
            module = torch.jit.load(str(path), map_location="cpu")
        except Exception as error:
            reason = _logged_reason(logged) or f"{type(error).__name__}: {error}"
            raise UserError(f"{path} is not a loadable TorchScript archive: {reason}") from error
    return LoadedModel(module.eval(), None, description=str(path))


def _logged_reason(records: list[Any]) -> str | None:
    """The first sentence of the last exception torch logged (its real reason), if any."""
    for record in reversed(records):
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            return f"{type(error).__name__}: {str(error).split('. ')[0]}"
    return None


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register the ``file:`` model source."""
    registry.add_model_source(ModelFile)
