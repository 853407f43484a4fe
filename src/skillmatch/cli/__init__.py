"""The ``skillmatch`` command line: a thin typer layer over the library."""

from skillmatch.cli.commands import app, main

__all__ = ["app", "main"]
