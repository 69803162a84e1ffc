"""The ``squeezebench`` command line (typer). Heavy imports happen inside commands."""
