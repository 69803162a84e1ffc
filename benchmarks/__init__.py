"""The asv benchmark suite of squeezebench (see docs/nightly.md)."""
