"""The ``skillmatch`` command line: a thin typer layer over the library."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from skillmatch.bundle import Bundle, BundleError
from skillmatch.config import Settings, get_settings
from skillmatch.encoder import ModelLoadError
from skillmatch.schema import InputError

app = typer.Typer(
    help="skillmatch: link skills to micro-credentials through a standard skills taxonomy (ESCO).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)

BundleOpt = Annotated[Path, typer.Option("--bundle", "-b", help="Bundle folder (from 'skillmatch build').")]
ModelOpt = Annotated[
    str | None, typer.Option("--model", help="Encoder: hub id or local path (default: SKILLMATCH_MODEL).")
]


def fail(message: str, code: int = 2) -> None:
    """Print an error and exit non-zero."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn the library's expected errors into one clear line and a non-zero exit."""
    try:
        yield
    except (InputError, BundleError, ModelLoadError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))


@contextmanager
def build_progress() -> Iterator[object]:
    """A rich progress display whose ``update(stage, done, total)`` the build calls."""
    with Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def load_bundle(path: Path, settings: Settings) -> Bundle:
    """Load a bundle for a command (errors become clear messages)."""
    with friendly_errors():
        return Bundle.load(path, settings=settings)
    raise AssertionError("unreachable")  # pragma: no cover


def read_lines(file: Path | None) -> list[str]:
    """Input texts, one per line, from FILE or standard input (blank lines are kept as empty texts)."""
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            fail(f"{file}: no such file")
        except UnicodeDecodeError as exc:
            fail(f"{file}: not valid UTF-8 ({exc.reason} at byte {exc.start}); save it as UTF-8")
    else:
        if sys.stdin.isatty():
            err.print("[dim]reading texts from standard input, one per line (Ctrl-D to end)...[/]")
        text = sys.stdin.read()
    return text.splitlines()


def emit_jsonl(rows: list[dict[str, object]]) -> None:
    """Print one JSON object per line on standard output."""
    out = sys.stdout
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    out.flush()


@app.command()
def build(
    out: Annotated[Path, typer.Option("--out", "-o", help="Bundle folder to write (replaced atomically).")],
    taxonomy: Annotated[
        list[Path] | None,
        typer.Option("--taxonomy", "-t", help="ESCO folder/zip(s) or a generic taxonomy CSV (repeatable)."),
    ] = None,
    credentials: Annotated[
        Path | None, typer.Option("--credentials", "-c", help="Credential catalogue.")
    ] = None,
    postings: Annotated[Path | None, typer.Option("--postings", "-p", help="Job postings.")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Build the embedded demo data (data/demo).")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit non-zero if any input row is rejected.")
    ] = False,
    model: ModelOpt = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not use the embedding cache.")] = False,
) -> None:
    """Build a bundle (indexes, linked tables, manifest) from a taxonomy, credentials and postings."""
    from skillmatch.build import demo_paths, read_inputs, run_build

    settings = get_settings(model=model, use_cache=False if no_cache else None)
    with friendly_errors():
        if demo:
            tax_path, cred_path, post_path = demo_paths()
            taxonomy = taxonomy or [tax_path]
            credentials = credentials or cred_path
            postings = postings or post_path
        if not taxonomy:
            fail("give --taxonomy PATH (or --demo)")
        inputs = read_inputs(taxonomy, credentials, postings)
        if inputs.rejects:
            err.print(
                f"[yellow]{len(inputs.rejects)} input row(s) rejected[/] (full report in the bundle's "
                "rejects.csv):"
            )
            for reject in inputs.rejects[:10]:
                err.print(f"  {reject}", highlight=False)
            if len(inputs.rejects) > 10:
                err.print(f"  ... and {len(inputs.rejects) - 10} more")
        with build_progress() as progress:
            manifest = run_build(inputs, out, settings=settings, strict=strict, progress=progress)  # type: ignore[arg-type]
    table = Table(title=f"bundle {out}", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in manifest["counts"].items():
        table.add_row(key, str(value))
    table.add_row("rejected rows", str(manifest["rejects"]["total"]))
    err.print(table)
    err.print(
        f"model {manifest['model']['id']}; indexes: "
        + ", ".join(f"{k}={v['kind']}" for k, v in manifest["indexes"].items())
    )
    err.print("timings (s): " + ", ".join(f"{k} {v}" for k, v in manifest["timings_s"].items()))


@app.command()
def extract(
    bundle: BundleOpt,
    file: Annotated[
        Path | None, typer.Argument(help="Texts, one per line (default: standard input).")
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=1000, help="Skills per text.")] = 10,
    min_score: Annotated[
        float | None,
        typer.Option("--min-score", help="Score threshold (default: the bundle's calibrated one)."),
    ] = None,
) -> None:
    """Link texts to taxonomy skills; prints JSON Lines, one per input line, in order."""
    settings = get_settings()
    texts = read_lines(file)
    loaded = load_bundle(bundle, settings)
    results = loaded.linker.link(texts, top_k=top_k, min_score=min_score)
    emit_jsonl(
        [
            {
                "text": text,
                "skills": [
                    {
                        "id": s.id,
                        "label": s.label,
                        "score": s.score,
                        "evidence": s.evidence,
                        "matched_label": s.matched_label,
                    }
                    for s in found
                ],
            }
            for text, found in zip(texts, results, strict=True)
        ]
    )


def main() -> None:  # pragma: no cover
    """Entry point for ``python -m skillmatch``."""
    app()
