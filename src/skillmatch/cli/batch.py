"""``skillmatch link-postings``: batch linking of many postings (a thin layer over :mod:`skillmatch.batch`)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from skillmatch.config import get_settings


class Engine(StrEnum):
    """Batch engines."""

    local = "local"
    ray = "ray"


def link_postings(
    bundle: Annotated[Path, typer.Option("--bundle", "-b", help="Bundle folder (from 'skillmatch build').")],
    input_path: Annotated[
        Path,
        typer.Option(
            "--input", "-i", help="Postings: a .parquet/.csv/.tsv/.jsonl/.json file or a Parquet folder."
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Output folder (a run of the same arguments is resumed).")
    ],
    engine: Annotated[Engine, typer.Option("--engine", help="local (this process) or ray.")] = Engine.local,
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", help="Ray cluster address (default: RAY_ADDRESS, else local)."),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Ray actors that link.")] = 1,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Postings per batch.")] = 256,
    top_k: Annotated[
        int | None, typer.Option("--top-k", min=1, help="Skills per posting text (default: the bundle's).")
    ] = None,
    min_score: Annotated[
        float | None, typer.Option("--min-score", help="Linking threshold (default: the bundle's).")
    ] = None,
    shard_rows: Annotated[
        int,
        typer.Option("--shard-rows", min=1, help="Rows per shard: one output file, the unit of resumption."),
    ] = 50_000,
) -> None:
    """Link many postings to taxonomy skills into a folder of Parquet files (resumable; local or Ray)."""
    from skillmatch.batch import BatchOptions, ProgressLine, link_postings_batch
    from skillmatch.cli.commands import err, friendly_errors

    with friendly_errors():
        options = BatchOptions(
            engine=engine.value,
            ray_address=ray_address,
            workers=workers,
            batch_size=batch_size,
            top_k=top_k,
            min_score=min_score,
            shard_rows=shard_rows,
        )
        run = link_postings_batch(
            bundle, input_path, output, options=options, settings=get_settings(), progress=ProgressLine()
        )
    counts = run["counts"]
    if run.get("resumed"):
        err.print(f"{output}: already complete, nothing to do")
    if counts["linked"] == 0 and counts["rejected"] == 0:
        err.print(f"[yellow]no postings in {input_path}[/]: wrote an empty output to {output}")
    if counts["rejected"]:
        err.print(
            f"[yellow]{counts['rejected']} input row(s) rejected[/] (listed in {output / 'rejects.csv'})"
        )
    err.print(
        f"{counts['linked']} posting(s) linked into {output / 'parts'} ({counts['shards']} shard(s), "
        f"{run.get('skipped_shards', 0)} already done; engine {run['engine']})"
    )
