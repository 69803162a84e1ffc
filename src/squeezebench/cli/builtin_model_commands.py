"""``squeezebench builtin-models retrain``: retrain the shipped digits models and re-pin them.

The command imports torch when it runs, so ``squeezebench --help`` stays fast.
``register(app)`` adds the ``builtin-models`` group to the typer app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from squeezebench.cli.failure import fail
from squeezebench.errors import UserError

builtin_models = typer.Typer(
    name="builtin-models",
    help="The built-in models' shipped weights (builtin:digits-mlp, builtin:digits-cnn).",
    no_args_is_help=True,
)


def _chosen(names: list[str] | None) -> list[str]:
    from squeezebench.plugins.builtin.models.digits_models import ARCHITECTURES
    from squeezebench.suggest import unknown_name_message

    for name in names or ():
        if name not in ARCHITECTURES:
            raise UserError(unknown_name_message("built-in model", name, ARCHITECTURES))
    return list(dict.fromkeys(names)) if names else list(ARCHITECTURES)


@builtin_models.command("retrain")
def retrain(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Models to retrain (default: all).", show_default=False),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the weights here and print their sha256 (default: into the installed"
            " package, whose pinned sha256 are then rewritten).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Train with the built-in recipe and write the weights; shipping them re-pins their sha256."""
    from squeezebench.cli.console import console
    from squeezebench.plugins.builtin.models import digits_weights
    from squeezebench.plugins.builtin.models.digits_models import (
        trained_weights,
        write_trained_weights,
    )

    try:
        chosen = _chosen(names)
        package_folder = digits_weights.package_weights_folder()
        if output is None and package_folder is None:
            raise UserError(
                "the installed package's weights are not a folder on disk; pass --output DIR"
            )
        folder = output or package_folder
        shipping = package_folder is not None and folder.resolve() == package_folder.resolve()
        # train every model before writing any file: a failure leaves the shipped ones intact
        payloads = {name: trained_weights(name) for name in chosen}
        results = [write_trained_weights(name, folder, payloads[name]) for name in chosen]
        if shipping:
            source = digits_weights.pin({result.name: result.sha256 for result in results})
    except (UserError, OSError, ValueError) as error:
        fail(error if isinstance(error, UserError) else UserError(str(error)))
    for result in results:
        change = "unchanged" if result.sha256 == result.previous_sha256 else "changed"
        console().print(
            f"{result.name}: {result.path}  sha256 {result.sha256} ({change})",
            highlight=False,
            soft_wrap=True,
        )
    if shipping:
        console().print(f"pinned in {source}", highlight=False, soft_wrap=True)
    else:
        console().print(
            "not shipped: to ship them, run without --output (or copy them into "
            f"{package_folder} and pin these sha256 in SHIPPED_SHA256)",
            highlight=False,
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    """Add the ``builtin-models`` command group to ``app``."""
    app.add_typer(builtin_models)
