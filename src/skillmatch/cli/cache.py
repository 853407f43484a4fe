"""``skillmatch cache``: pre-build and list label-vector packs.

A thin layer over :func:`skillmatch.build.warm_label_pack` and :mod:`skillmatch.encoding.label_pack`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from skillmatch.config import get_settings

app = typer.Typer(help="Label-vector packs: encode a taxonomy's labels once, reuse them in every build.")

FolderOpt = Annotated[
    Path | None,
    typer.Option("--dir", help="Pack folder (default: <cache_dir>/labels, where builds look for packs)."),
]


@app.command("warm")
def warm(
    taxonomy: Annotated[
        list[Path], typer.Option("--taxonomy", "-t", help="ESCO folder/zip(s) or a generic taxonomy CSV.")
    ],
    model: Annotated[
        str | None, typer.Option("--model", help="Encoder: hub id or local path (default: SKILLMATCH_MODEL).")
    ] = None,
    folder: FolderOpt = None,
) -> None:
    """Encode every skill and occupation label of a taxonomy version into a pack that builds reuse.

    Run it once per taxonomy release and model; copy the pack into <cache_dir>/labels on other machines.
    """
    from skillmatch.build import warm_label_pack
    from skillmatch.cli.commands import build_progress, err, friendly_errors
    from skillmatch.encoding.factory import make_encoder
    from skillmatch.encoding.selection import selection_of
    from skillmatch.readers import load_taxonomy

    settings = get_settings(model=model)
    target = folder or settings.cache_dir / "labels"
    with friendly_errors():
        tax, rejects = load_taxonomy(taxonomy if len(taxonomy) > 1 else taxonomy[0])
        for reject in rejects[:20]:
            err.print(f"[yellow]rejected:[/] {escape(str(reject))}", highlight=False)
        encoder = make_encoder(settings)
        with build_progress() as progress:
            path, stats = warm_label_pack(tax, encoder, target, progress)  # type: ignore[arg-type]
    choice = selection_of(encoder)
    err.print(
        f"{stats['texts']:,} labels of {escape(tax.name)} {escape(tax.version)} encoded in {stats['seconds']} s "
        f"({stats['texts_per_s']} labels/s, backend {choice.get('backend')}, {choice.get('chosen_by')})",
        highlight=False,
    )
    print(path)


@app.command("list")
def list_(
    folder: FolderOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """List the label packs in a folder: taxonomy, version, model, labels, when made."""
    from rich.console import Console

    from skillmatch.encoding.label_pack import list_packs

    packs = list_packs(folder or get_settings().cache_dir / "labels")
    if as_json:
        for pack in packs:
            print(json.dumps(pack, ensure_ascii=False))
        return
    table = Table("file", "taxonomy", "version", "model fingerprint", "labels", "created")
    for pack in packs:
        table.add_row(
            pack["file"],
            str(pack.get("taxonomy", pack.get("error", ""))),
            str(pack.get("version", "")),
            str(pack.get("fingerprint", "")),
            str(pack.get("count", "")),
            str(pack.get("created", "")),
        )
    Console().print(table)


@app.command("encoder")
def encoder(
    model: Annotated[
        str | None, typer.Option("--model", help="Encoder: hub id or local path (default: SKILLMATCH_MODEL).")
    ] = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Forget the cached measurements and time the backends again.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of tables.")] = False,
) -> None:
    """Show which encoder backend auto picks on this machine for builds and for the API server, and why.

    The measurements are cached per model and CPU; --refresh measures again (e.g. after one was taken while the
    machine was busy: each result records the load average it was taken at).
    """
    from rich.console import Console

    from skillmatch.cli.commands import err, friendly_errors
    from skillmatch.encoding.factory import choice_file, make_encoder, serving_encoder
    from skillmatch.encoding.selection import forget_cached, selection_of

    settings = get_settings(model=model, encoder_backend="auto", api_encoder_backend="auto")
    if refresh:
        dropped = forget_cached(choice_file(settings))
        err.print(f"forgot {dropped} cached measurement(s) in {escape(str(choice_file(settings)))}")
    with friendly_errors():
        choices = {
            "build": selection_of(make_encoder(settings)),
            "server": selection_of(serving_encoder(settings, settings.model)),
        }
    out = Console()
    for use, choice in choices.items():
        if as_json:
            print(json.dumps({"use": use, **choice}, ensure_ascii=False))
            continue
        table = Table(
            "backend",
            "phrases/s",
            "ms per run",
            "cosine to float32",
            "used?",
            title=f"{use}: {choice.get('backend')} ({choice.get('chosen_by')}; threads {choice.get('threads')}, "
            f"load {choice.get('load_average')}, {choice.get('measured_at')})",
        )
        for c in choice.get("candidates", []):
            table.add_row(
                c["backend"],
                str(c["phrases_per_s"] or "-"),
                str(c["ms_per_run"] or "-"),
                str(c["min_cosine"] or "-"),
                "chosen" if c["backend"] == choice.get("backend") else (c["note"] or ""),
            )
        out.print(table)
    cpu = next(iter(choices.values())).get("cpu", {})
    err.print(
        f"CPU: {cpu.get('model')} ({cpu.get('arch')}); {' '.join(cpu.get('flags', []))}", highlight=False
    )
