"""``squeezebench inspect MODEL``: the model's layers, to write include/exclude patterns.

``register(app)`` adds the command; torch is imported only when it runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from squeezebench.cli.failure import fail
from squeezebench.errors import UserError


def inspect(
    model: Annotated[
        str,
        typer.Argument(
            help="A model reference as in a spec: builtin:digits-cnn, file:model.pt2, "
            "python:package.module:factory, hf:<folder or package>.",
            show_default=False,
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per layer.")] = False,
    trust_model_files: Annotated[
        bool,
        typer.Option(help="Allow unpickling the model file (like the spec's trust_model_files)."),
    ] = False,
) -> None:
    """List the model's layers: name, type, shapes, parameters and share of the FLOPs."""
    from squeezebench.plugins.manager import default_registry

    try:
        layers, description = _layers(default_registry(), model, trust_model_files)
    except UserError as error:
        fail(error)
    if as_json:
        for row in layers.layers:
            sys.stdout.write(json.dumps(row.as_dict()) + "\n")
        return
    from squeezebench.cli.console import console

    heading = f"{model}: {description}" if description else model
    console().print(heading, highlight=False, markup=False, soft_wrap=True)
    console().print(_table(layers))
    console().print(
        "include/exclude patterns are shell globs on these names (e.g. 'features.*'); "
        "✓ marks the Linear and Conv layers the built-in layer methods select",
        highlight=False,
        soft_wrap=True,
    )


def _layers(registry: Any, reference: str, trusted: bool) -> tuple[Any, str]:
    from squeezebench.harness.measure.layers import describe_layers
    from squeezebench.harness.workspace import load_model_source
    from squeezebench.plugins.contracts import TORCH_MODULE

    if ":" not in reference:
        raise UserError(f"{reference!r} is not a model reference <scheme>:<reference>")
    try:
        loaded = load_model_source(registry, reference, Path.cwd(), 0, trusted)
    except UserError:
        raise
    except Exception as error:
        raise UserError(f"loading {reference} failed: {type(error).__name__}: {error}") from None
    if loaded.format != TORCH_MODULE:
        raise UserError(f"{reference} gives a {loaded.format} model; inspect lists torch modules")
    return describe_layers(loaded.artifact.eval(), loaded.example_input), loaded.description


def _table(layers: Any) -> Any:
    from rich.table import Table

    from squeezebench.plugins.builtin.methods._layer_selection import display_name

    table = Table()
    for header in ("name", "type", "weight", "output", "parameters", "FLOPs"):
        table.add_column(header, justify="right" if header in ("parameters", "FLOPs") else "left")
    table.add_column("", justify="center")
    total = layers.flops
    for row in layers.layers:
        share = "-" if row.flops is None or not total else f"{row.flops / total:.1%}"
        table.add_row(
            display_name(row.name),
            row.type,
            "x".join(map(str, row.weight_shape)) if row.weight_shape else "",
            "x".join(map(str, row.output_shape)) if row.output_shape else "",
            f"{row.parameters:,}",
            share,
            "✓" if row.selectable else "",
        )
    table.caption = f"{layers.parameters:,} parameters" + (
        f"; {total:,} FLOPs per sample" if total else ""
    )
    table.caption_justify = "left"
    return table


def register(app: typer.Typer) -> None:
    """Add ``inspect`` to ``app``."""
    app.command("inspect")(inspect)
