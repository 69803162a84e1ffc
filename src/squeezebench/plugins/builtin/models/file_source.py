"""``file:<path>``: a model file, as a torch.export program (``.pt2``) or TorchScript.

Files are loaded without unpickling arbitrary objects: ``torch.jit.load`` and
``torch.export.load`` rebuild the model from its serialized graph, and the pickle fall-backs
inside ``torch.export.load`` are refused unless the spec sets ``trust_model_files``.
A plain ``state_dict`` file is not a model (it has no architecture) and is rejected.
Relative paths are resolved against the spec's folder.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from squeezebench.errors import UserError
from squeezebench.plugins.contracts import LoadedModel, ModelSource
from squeezebench.plugins.markers import hookimpl


class ModelFile(ModelSource):
    """A model file: torch.export ExportedProgram (``.pt2``) or TorchScript archive."""

    scheme = "file"

    def check(self, reference: str, base_dir: Path) -> str | None:
        try:
            path = (base_dir / reference).resolve()
            if path.is_file():
                return None
        except (OSError, ValueError) as error:  # e.g. a name too long, a NUL character
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            return f"cannot use {reference!r} as a model file path: {reason}"
        return f"model file not found: {path}"

    def load(
        self, reference: str, base_dir: Path, seed: int, *, trusted: bool = False
    ) -> LoadedModel:
        import torch

        from squeezebench.plugins.builtin.models._no_pickle import UnpicklingRefused, refuse_pickle

        path = (base_dir / reference).resolve()
        if path.suffix == ".pt2":
            try:
                with contextlib.nullcontext() if trusted else refuse_pickle():
                    program = torch.export.load(str(path))
            except UnpicklingRefused as error:
                raise UserError(f"{path}: {error}") from None
            except Exception as error:
                raise UserError(
                    f"{path} is not a loadable torch.export program: {error}"
                ) from error
            from squeezebench.plugins.builtin.models._exported_program import usable_module

            module, lifted = usable_module(program, str(path))
            example = program.example_inputs[0][0] if program.example_inputs else None
            return LoadedModel(module, example, description=f"{path} ({lifted} layers lifted)")
        try:
            module = torch.jit.load(str(path), map_location="cpu")
        except Exception as error:
            raise UserError(
                f"{path} is not a TorchScript archive (nor a .pt2 exported program); "
                f"a state_dict alone is not a model: {error}"
            ) from error
        return LoadedModel(module.eval(), None, description=str(path))


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register the ``file:`` model source."""
    registry.add_model_source(ModelFile)
