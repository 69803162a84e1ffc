"""``python -m squeezebench`` runs the CLI."""

from squeezebench.cli.app import main

if __name__ == "__main__":  # worker processes import this module; they must not run the CLI
    main()
