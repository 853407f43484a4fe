"""The ``skillmatch`` command line: a thin typer layer over the library."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from enum import StrEnum
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from skillmatch.bundle import BundleError
from skillmatch.cli.batch import link_postings as link_postings_command
from skillmatch.cli.cache import app as cache_app
from skillmatch.cli.convert import app as convert_app
from skillmatch.cli.finetune import app as finetune_app
from skillmatch.config import Settings, get_settings
from skillmatch.encoding.base import ModelLoadError
from skillmatch.encoding.threads import apply_thread_settings
from skillmatch.schema import InputError, describe_rejects

if TYPE_CHECKING:
    from skillmatch.facade import Skillmatch
    from skillmatch.matching.gaps import Learner

app = typer.Typer(
    help="skillmatch: link skills to micro-credentials through a standard skills taxonomy (ESCO).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, soft_wrap=True)

BundleOpt = Annotated[Path, typer.Option("--bundle", "-b", help="Bundle folder (from 'skillmatch build').")]
ModelOpt = Annotated[
    str | None, typer.Option("--model", help="Encoder: hub id or local path (default: SKILLMATCH_MODEL).")
]


#: Exit status of a command that failed at run time (bad data, missing file, unknown role, ...).
EXIT_RUNTIME = 1
#: Exit status of a command called wrongly (click's own usage errors exit with 2 too).
EXIT_USAGE = 2

#: Inputs with at least this many texts get a progress bar on standard error.
PROGRESS_MIN_TEXTS = 50

_Found = TypeVar("_Found")


class TableOrJson(StrEnum):
    """Output formats of ``gaps`` and ``recommend``."""

    table = "table"
    json = "json"


class PathwayFormat(StrEnum):
    """Output formats of ``recommend``: a table, the JSON, CSV, or Open Badges 3.0 achievements."""

    table = "table"
    json = "json"
    csv = "csv"
    ob3 = "ob3"


class JsonOrCsv(StrEnum):
    """Output formats of ``cohort``."""

    json = "json"
    csv = "csv"


def _package_version() -> str:
    try:
        return version("skillmatch")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"skillmatch {_package_version()}\n")
        raise typer.Exit()


@app.callback()
def setup(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """skillmatch: link skills to micro-credentials through a standard skills taxonomy (ESCO)."""
    with friendly_errors():
        apply_thread_settings(get_settings())


def fail(message: str, code: int = EXIT_RUNTIME) -> NoReturn:
    """Print an error and exit with ``code`` (1: run-time error, 2: usage error)."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def friendly_errors(code: int = EXIT_RUNTIME) -> Iterator[None]:
    """Turn the library's expected errors into one clear line and exit status ``code``."""
    try:
        yield
    except (InputError, BundleError, ModelLoadError, FileNotFoundError, ValueError) as exc:
        fail(str(exc), code)


@contextmanager
def text_progress(total: int, what: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on standard error for ``total`` items (none for short inputs)."""
    if total < PROGRESS_MIN_TEXTS:
        yield None
        return
    with Progress(
        TextColumn(f"{what:<12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    ) as bar:
        task = bar.add_task(what, total=total)

        def update(done: int, _total: int) -> None:
            bar.update(task, completed=done)

        yield update


def link_in_chunks(
    link: Callable[[Sequence[str]], list[list[_Found]]],
    texts: Sequence[str],
    progress: Callable[[int, int], None] | None,
    chunk: int = 64,
) -> list[list[_Found]]:
    """``link(texts)`` in chunks of ``chunk`` texts, reporting ``progress(done, total)`` after each."""
    if progress is None:
        return link(texts)
    out: list[list[_Found]] = []
    for start in range(0, len(texts), chunk):
        out.extend(link(texts[start : start + chunk]))
        progress(len(out), len(texts))
    return out


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
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def open_service(path: Path, settings: Settings | None = None) -> Skillmatch:
    """Open a bundle with its encoder for a command (errors become clear messages)."""
    from skillmatch.facade import load

    with friendly_errors():
        return load(path, settings=settings or get_settings())
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
    linked_postings: Annotated[
        Path | None,
        typer.Option(
            "--linked-postings", help="Output of 'skillmatch link-postings' (instead of --postings)."
        ),
    ] = None,
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
            fail("give --taxonomy PATH (or --demo)", EXIT_USAGE)
        if linked_postings is not None and postings is not None and not demo:
            fail("give --postings or --linked-postings, not both", EXIT_USAGE)
        inputs = read_inputs(taxonomy, credentials, None if linked_postings else postings)
        if linked_postings is not None:
            from skillmatch.batch import read_linked_postings

            inputs.linked_postings = read_linked_postings(linked_postings)
        if inputs.rejects:
            where = "" if strict else " (full report in the bundle's rejects.csv)"
            rows = len({(r.file, r.row) for r in inputs.rejects})
            err.print(f"[yellow]input rejected: {describe_rejects(len(inputs.rejects), rows)}[/]{where}:")
            for reject in inputs.rejects[:10]:
                err.print(f"  {reject}", markup=False, highlight=False)
            if len(inputs.rejects) > 10:
                err.print(f"  ... and {len(inputs.rejects) - 10} more")
        with build_progress() as progress:
            manifest = run_build(inputs, out, settings=settings, strict=strict, progress=progress)  # type: ignore[arg-type]
    table = Table(title=f"bundle {out}", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in manifest["counts"].items():
        table.add_row(key, str(value))
    rejects = manifest["rejects"]
    table.add_row("rejects", describe_rejects(rejects["total"], rejects.get("rows", rejects["total"])))
    err.print(table)
    choice = manifest.get("encoder", {})
    err.print(
        f"model {manifest['model']['id']} on {choice.get('backend', '?')} ({choice.get('chosen_by', '?')}); indexes: "
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
    texts = read_lines(file)
    service = open_service(bundle)
    with text_progress(len(texts), "linking") as progress:
        results = link_in_chunks(
            lambda chunk: service.extract(chunk, top_k=top_k, min_score=min_score).skills,
            texts,
            progress,
        )
    emit_jsonl(
        [
            {
                "text": text,
                "skills": [s.to_dict() for s in found],
            }
            for text, found in zip(texts, results, strict=True)
        ]
    )


def main() -> None:  # pragma: no cover
    """Entry point for ``python -m skillmatch``."""
    app()


# --- matching engine ----------------------------------------------------------------------------------------

SkillsOpt = Annotated[
    str | None,
    typer.Option(
        "--skills", "-s", help='Skills, comma- or semicolon-separated; "Python: advanced" sets a level.'
    ),
]
SkillOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--skill",
        help='One skill, as a label, free text or taxonomy id, optionally with a level ("SQL: intermediate"); '
        "repeatable, and commas stay part of the skill.",
    ),
]
SkillsFileOpt = Annotated[
    Path | None, typer.Option("--skills-file", help="A UTF-8 file of skills, one per line (commas allowed).")
]
CvOpt = Annotated[Path | None, typer.Option("--cv", help="CV or paragraph text file (UTF-8).")]
HeldOpt = Annotated[
    list[str] | None, typer.Option("--held", help="Id of a credential already held (repeatable).")
]
RoleOpt = Annotated[list[str], typer.Option("--role", "-r", help="Target role: id or name (repeatable).")]


def split_skills(text: str | None) -> list[str]:
    """Split a --skills value on commas, semicolons and newlines."""
    if not text:
        return []
    return [s.strip() for s in re.split(r"[,;\n]", text) if s.strip()]


def learner_from_options(
    skills: str | None,
    cv: Path | None,
    held: list[str] | None,
    skill: list[str] | None = None,
    skills_file: Path | None = None,
) -> Learner:
    """A learner from CLI options: ``--skills`` (split on commas), ``--skill`` (one each), ``--skills-file``."""
    from skillmatch.matching.gaps import make_learner

    cv_text = None
    if cv is not None:
        try:
            cv_text = cv.read_text(encoding="utf-8")
        except FileNotFoundError:
            fail(f"{cv}: no such file")
        except UnicodeDecodeError as exc:
            fail(f"{cv}: not valid UTF-8 ({exc.reason} at byte {exc.start}); save it as UTF-8")
    listed = [*split_skills(skills), *(skill or [])]
    if skills_file is not None:
        listed.extend(line for line in read_lines(skills_file) if line.strip())
    learner = make_learner(listed, cv_text, held or [])
    if not learner.skills and not learner.cv and not learner.credentials_held:
        fail("tell us what the learner has: --skills, --skill, --skills-file, --cv and/or --held", EXIT_USAGE)
    return learner


def resolve_roles(service: Skillmatch, roles: list[str]) -> list[str]:
    """Role ids from ids or names (clear error for unknown ones)."""
    from skillmatch.matching.roles import UnknownRoleError

    try:
        return service.resolve_roles(roles)
    except UnknownRoleError as exc:
        fail(str(exc))
    raise AssertionError("unreachable")  # pragma: no cover


def counts_in_words(counts: dict[str, int]) -> str:
    """``{"covered": 3, "partial": 1, "missing": 2}`` -> ``"3 covered, 1 partly covered, 2 missing"``."""
    names = {"covered": "covered", "partial": "partly covered", "missing": "missing"}
    return ", ".join(f"{counts.get(key, 0)} {name}" for key, name in names.items())


def print_json(data: object) -> None:
    """Pretty JSON on standard output."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@app.command()
def roles(
    bundle: BundleOpt,
    file: Annotated[
        Path | None, typer.Argument(help="Queries, one per line (default: standard input).")
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", "-q", help="One query (instead of FILE/stdin).")
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=100)] = 5,
) -> None:
    """Find roles (taxonomy occupations and posting-derived roles); JSON Lines, one per query, in order.

    A query may also name a role of the other taxonomy: an O*NET-SOC code (15-2051.00) on an ESCO bundle, an
    ESCO occupation URI on an O*NET bundle. The roles the ESCO–O*NET crosswalk maps it to come first, each with
    its "match" (exactMatch, closeMatch, narrowMatch, broadMatch; null for ordinary hits).
    """
    queries = [query] if query is not None else read_lines(file)
    found = open_service(bundle).roles(queries, top_k=top_k)
    emit_jsonl(
        [
            {"query": q, "roles": [asdict(h) for h in hits]}
            for q, hits in zip(found.queries, found.hits, strict=True)
        ]
    )


@app.command()
def gaps(
    bundle: BundleOpt,
    role: RoleOpt,
    skills: SkillsOpt = None,
    skill: SkillOpt = None,
    skills_file: SkillsFileOpt = None,
    cv: CvOpt = None,
    held: HeldOpt = None,
    output: Annotated[TableOrJson, typer.Option("--format", "-f", help="Output format.")] = TableOrJson.table,
) -> None:
    """Compare a learner with one or more roles: covered, partly covered and missing skills."""
    learner = learner_from_options(skills, cv, held, skill, skills_file)
    service = open_service(bundle)
    role_ids = resolve_roles(service, role)
    with friendly_errors():
        report = service.gaps(role_ids, learner)
    if output is TableOrJson.json:
        print_json(report.to_dict())
        return
    out = Console()
    out.print(
        f"[bold]{escape(', '.join(str(r['label']) for r in report.roles))}[/]: coverage "
        f"{report.coverage:.0%} ({counts_in_words(report.counts)})"
    )
    table = Table("status", "skill", "weight", "coverage", "gap", "matched by")
    for item in report.items:
        table.add_row(
            item.status,
            item.label,
            f"{item.weight:.2f}",
            f"{item.coverage:.2f}",
            f"{item.gap_weight:.2f}",
            item.matched_by or "",
        )
    out.print(table)
    if report.learner.unmatched:
        out.print(f"[yellow]not linked to any skill:[/] {escape(', '.join(report.learner.unmatched))}")


@app.command()
def recommend(
    bundle: BundleOpt,
    role: RoleOpt,
    skills: SkillsOpt = None,
    skill: SkillOpt = None,
    skills_file: SkillsFileOpt = None,
    cv: CvOpt = None,
    held: HeldOpt = None,
    max_hours: Annotated[float | None, typer.Option("--max-hours", min=0)] = None,
    max_cost: Annotated[float | None, typer.Option("--max-cost", min=0)] = None,
    currency: Annotated[str, typer.Option("--currency", help="Currency of --max-cost.")] = "EUR",
    max_items: Annotated[int | None, typer.Option("--max-items", min=1)] = None,
    level: Annotated[list[str] | None, typer.Option("--level", help="Allowed level (repeatable).")] = None,
    mode: Annotated[list[str] | None, typer.Option("--mode", help="Allowed mode (repeatable).")] = None,
    language: Annotated[
        list[str] | None, typer.Option("--language", help="Allowed language (repeatable).")
    ] = None,
    exclude_provider: Annotated[list[str] | None, typer.Option("--exclude-provider")] = None,
    output: Annotated[
        PathwayFormat,
        typer.Option(
            "--format", "-f", help="Output format (csv: one row per step; ob3: Open Badges 3.0 achievements)."
        ),
    ] = PathwayFormat.table,
) -> None:
    """Recommend a pathway of credentials that closes the learner's gap within their limits."""
    from skillmatch.matching.gaps import UnknownCredentialError
    from skillmatch.matching.recommend import Limits

    learner = learner_from_options(skills, cv, held, skill, skills_file)
    with friendly_errors(EXIT_USAGE):
        limits = Limits(
            max_hours=max_hours,
            max_cost=max_cost,
            currency=currency,
            max_items=max_items,
            levels=level or [],
            modes=mode or [],
            languages=language or [],
            exclude_providers=exclude_provider or [],
        )
    service = open_service(bundle)
    role_ids = resolve_roles(service, role)
    try:
        result = service.recommend(role_ids, learner, limits=limits)
    except (UnknownCredentialError, ValueError) as exc:
        fail(str(exc).strip("'\""))
    if output is not PathwayFormat.table:
        from skillmatch.matching.export import export_pathway

        exported = export_pathway(
            result,
            output.value,
            framework=service.bundle.taxonomy.name,
            credentials=service.context.credentials_by_id,
        )
        if isinstance(exported, str):
            sys.stdout.write(exported)
        else:
            print_json(exported)
        return
    out = Console()
    totals = result.totals
    out.print(
        f"[bold]{escape(', '.join(str(r['label']) for r in result.roles))}[/]: coverage "
        f"{result.coverage_before:.0%} -> {result.coverage_after:.0%} with "
        f"{totals.items} credential(s), {totals.hours} h, {totals.cost} {totals.currency}"
    )
    table = Table("#", "credential", "level", "hours", "cost", "gain", "covers")
    for step in result.pathway:
        c = step.credential
        covers = "; ".join(f"{x.label} ({x.degree:.2f})" for x in step.covers[:4])
        if step.required_by:
            covers = f"prerequisite of {step.required_by}. " + covers
        needs = [
            f"{r.label} ({r.level}, {'you have it' if r.met_by == 'learner' else r.met_by})"
            for r in step.requires
        ]
        if needs:
            covers += ". Needs " + "; ".join(needs)
        table.add_row(
            str(step.step),
            f"{c['title']} ({c['id']}, {c['provider']})",
            str(c["level"]),
            str(c["duration_hours"]),
            f"{c['cost']} {c['currency']}",
            f"{step.gain:.2f}",
            covers,
        )
    out.print(table)
    if result.remaining_gap:
        out.print(
            "[bold]remaining gap[/]: "
            + "; ".join(f"{r.label} ({r.remaining:.2f}, {r.reason})" for r in result.remaining_gap[:10])
        )


@app.command()
def cohort(
    bundle: BundleOpt,
    learners: Annotated[Path, typer.Option("--learners", "-l", help="Learners file (CSV/JSONL/Parquet).")],
    role: RoleOpt,
    output: Annotated[JsonOrCsv, typer.Option("--format", "-f", help="Output format.")] = JsonOrCsv.json,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit non-zero if any learner row is rejected.")
    ] = False,
) -> None:
    """Cohort gap table and the credentials that close the most gap across the cohort."""
    from skillmatch.matching.cohort import cohort_gaps, gap_table
    from skillmatch.matching.gaps import learners_from_table
    from skillmatch.readers.learners import read_learners

    with friendly_errors():
        result = read_learners(learners)
    for reject in result.rejects:
        err.print(f"[yellow]rejected:[/] {escape(str(reject))}", highlight=False)
    if strict and result.rejects:
        fail(f"{len(result.rejects)} learner row(s) rejected")
    service = open_service(bundle)
    role_ids = resolve_roles(service, role)
    with friendly_errors():
        report = cohort_gaps(service.context, learners_from_table(result.table), role_ids)
    report["rejected_rows"] = [str(r) for r in result.rejects]
    if output is JsonOrCsv.csv:
        gap_table(report).to_csv(sys.stdout, index=False)
    else:
        print_json(report)


# --- API ------------------------------------------------------------------------------------------------------

HostOpt = Annotated[
    str | None, typer.Option("--host", help="Interface to bind (default: SKILLMATCH_API_HOST or 127.0.0.1).")
]
PortOpt = Annotated[
    int | None,
    typer.Option("--port", "-p", min=1, max=65535, help="Port (default: SKILLMATCH_API_PORT or 8000)."),
]


@app.command()
def serve(
    bundle: Annotated[
        Path | None, typer.Option("--bundle", "-b", help="Bundle folder (default: SKILLMATCH_BUNDLE).")
    ] = None,
    host: HostOpt = None,
    port: PortOpt = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", "-w", min=1, help="Worker processes (default: SKILLMATCH_API_WORKERS or 1)."
        ),
    ] = None,
) -> None:
    """Serve the HTTP API on a bundle (OpenAPI docs at /docs; see docs/api.md)."""
    from skillmatch.api.server import serve as run_server

    settings = get_settings()
    path = bundle or settings.bundle
    if path is None:
        fail("give --bundle PATH or set SKILLMATCH_BUNDLE", EXIT_USAGE)
    with friendly_errors():
        run_server(
            path,
            host=host or settings.api_host,
            port=port or settings.api_port,
            workers=workers or settings.api_workers,
        )


@app.command()
def demo(
    host: HostOpt = None,
    port: PortOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where the demo bundle is built.")] = Path(
        "models/bundles/demo"
    ),
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Rebuild the demo bundle even if present.")
    ] = False,
) -> None:
    """Build the demo bundle (data/demo) if absent, then serve it on http://127.0.0.1:8000."""
    from skillmatch.api.server import ensure_demo_bundle
    from skillmatch.api.server import serve as run_server

    settings = get_settings()
    host = host or settings.api_host
    port = port or settings.api_port
    with friendly_errors():
        if rebuild or not (out / "manifest.json").is_file():
            err.print(f"building the demo bundle at {out} (a few minutes on a laptop CPU)...")
            with build_progress() as progress:
                ensure_demo_bundle(out, rebuild=rebuild, progress=progress)  # type: ignore[arg-type]
        err.print(f"serving {out} on http://{host}:{port} (docs: http://{host}:{port}/docs)")
        run_server(out, host=host, port=port, workers=1)


# --- quality --------------------------------------------------------------------------------------------------

app.add_typer(finetune_app, name="finetune", help="Fine-tune the encoder on the taxonomy and compare models.")
app.add_typer(convert_app, name="convert", help="Convert OB 3.0, ELM and CTDL credentials to the catalogue.")
app.add_typer(
    cache_app, name="cache", help="Label-vector packs: encode a taxonomy's labels once per release."
)
app.command("link-postings")(link_postings_command)


@app.command()
def evaluate(
    bundle: BundleOpt,
    data: Annotated[
        Path, typer.Option("--data", help="Shared data folder holding benchmarks/ (see docs/evaluation.md).")
    ] = Path("../shared/data"),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the results as JSON.")
    ] = None,
    normalisation_sample: Annotated[
        int,
        typer.Option(
            "--normalisation-sample", min=10, help="Concepts whose alternative labels are held out."
        ),
    ] = 2000,
) -> None:
    """Evaluate a bundle on the public benchmarks, beside lexical and dense baselines; prints a table."""
    from skillmatch.evaluation.runner import format_table, run_all

    if not data.is_dir():
        fail(f"{data}: no such folder (give --data PATH to the shared data with benchmarks/)")
    loaded = open_service(bundle)
    with friendly_errors(), build_progress() as progress:
        results = run_all(
            loaded,
            data,
            normalisation_sample=normalisation_sample,
            progress=progress,  # type: ignore[arg-type]
        )
    if output is not None:
        output.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    sys.stdout.write(format_table(results) + "\n")
