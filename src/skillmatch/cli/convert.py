"""``skillmatch convert``: turn credential standards (OB 3.0, ELM/EDC, CTDL) into the catalogue format.

A thin layer over :func:`skillmatch.readers.load_credentials` and :func:`skillmatch.readers.convert.write_catalogue`.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from skillmatch.readers import load_credentials
from skillmatch.readers.convert import catalogue_text, write_catalogue
from skillmatch.schema import InputError, rejects_to_frame

app = typer.Typer(help="Convert inputs into skillmatch's own formats.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)


class CatalogueFormat(StrEnum):
    """Output formats of ``convert credentials``."""

    csv = "csv"
    jsonl = "jsonl"
    parquet = "parquet"


@app.command("credentials")
def credentials(
    source: Annotated[
        Path, typer.Argument(help="A catalogue file, an OB 3.0 / ELM / CTDL document, or a folder of them.")
    ],
    to: Annotated[CatalogueFormat, typer.Option("--to", help="Output format.")] = CatalogueFormat.csv,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output file (default: standard output; needed for parquet)."),
    ] = None,
    rejects: Annotated[
        Path | None, typer.Option("--rejects", help="Also write the rejects (file,row,field,reason) as CSV.")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit with status 1 when any record is rejected.")
    ] = False,
) -> None:
    """Read credentials in any supported format (recognised by content) and write the catalogue format."""
    try:
        result = load_credentials(source)
        if out is None:
            if to is CatalogueFormat.parquet:
                raise InputError("--to parquet needs --out FILE")
            sys.stdout.write(catalogue_text(result.table, to.value))
        else:
            write_catalogue(result.table, out, to.value)
    except (InputError, ValueError, OSError) as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    for reject in result.rejects:
        err.print(f"[yellow]rejected:[/] {escape(str(reject))}", highlight=False)
    if rejects is not None:
        rejects_to_frame(result.rejects).to_csv(rejects, index=False)
    err.print(
        f"{len(result.table)} credential(s) converted, {len(result.rejects)} reject(s)", highlight=False
    )
    if strict and result.rejects:
        raise typer.Exit(1)
