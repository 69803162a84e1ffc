"""``python -m squeezebench`` runs the CLI."""

from squeezebench.cli.app import main

main()
