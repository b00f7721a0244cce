"""Command line: ``genre-core`` / ``python -m genre_core`` and the speed benchmarks. The top layer."""
from genre_core.cli.main import main

__all__ = ["main"]
