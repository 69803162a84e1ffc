"""How a command ends on a user's mistake: one red line on stderr, no traceback, an exit code."""

from __future__ import annotations

from typing import NoReturn

import typer

from squeezebench.cli.exit_codes import ExitCode
from squeezebench.errors import UserError


def fail(error: UserError, code: int = ExitCode.USAGE_ERROR) -> NoReturn:
    """Print ``error`` as ``error: <message>`` and exit with ``code`` (default: usage error)."""
    from rich.markup import escape

    from squeezebench.cli.console import error_console

    error_console().print(
        f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True
    )
    raise typer.Exit(code)
