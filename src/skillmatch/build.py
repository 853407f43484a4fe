"""The build job: read the inputs, report rejects, and write a bundle (used by the CLI, API and notebooks)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from skillmatch.bundle import BuildInputs, BuildProgress, Bundle, RejectedInput, build_bundle
from skillmatch.config import Settings
from skillmatch.encoding.encoder import Encoder, SentenceTransformerEncoder
from skillmatch.readers import load_taxonomy, read_credentials, read_postings
from skillmatch.schema import CREDENTIAL_COLUMNS, POSTING_COLUMNS, Reject

#: Extra build stages registered by other modules (the matching engine adds role tables).
ExtraStage = Callable[[Bundle], dict[str, pd.DataFrame]]


def demo_dir() -> Path:
    """The folder of the embedded demo data (``SKILLMATCH_DEMO_DIR`` overrides it)."""
    env = os.environ.get("SKILLMATCH_DEMO_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "data" / "demo"


def demo_paths() -> tuple[Path, Path, Path]:
    """Paths of the demo taxonomy, credentials and postings."""
    folder = demo_dir()
    found = []
    for stem in ("taxonomy", "credentials", "postings"):
        matches = sorted(
            p for p in folder.glob(f"{stem}.*") if p.suffix in {".csv", ".jsonl", ".parquet", ".json"}
        )
        if not matches:
            raise FileNotFoundError(
                f"demo file {stem}.* not found in {folder}; set SKILLMATCH_DEMO_DIR to the data/demo folder"
            )
        found.append(matches[0])
    return found[0], found[1], found[2]


def read_inputs(
    taxonomy: Path | Sequence[Path],
    credentials: Path | None = None,
    postings: Path | None = None,
) -> BuildInputs:
    """Read and validate every input; whole-file problems raise :class:`~skillmatch.schema.InputError`."""
    paths = [Path(p) for p in taxonomy] if isinstance(taxonomy, (list, tuple)) else [Path(taxonomy)]
    tax, rejects = load_taxonomy(paths if len(paths) > 1 else paths[0])
    all_rejects: list[Reject] = list(rejects)
    sources: dict[str, str] = {"taxonomy": ", ".join(str(p) for p in paths)}
    if credentials is not None:
        result = read_credentials(Path(credentials))
        creds = result.table
        all_rejects.extend(result.rejects)
        sources["credentials"] = str(credentials)
    else:
        creds = pd.DataFrame(columns=CREDENTIAL_COLUMNS)
    if postings is not None:
        result = read_postings(Path(postings))
        posts = result.table
        all_rejects.extend(result.rejects)
        sources["postings"] = str(postings)
    else:
        posts = pd.DataFrame(columns=POSTING_COLUMNS)
    return BuildInputs(taxonomy=tax, credentials=creds, postings=posts, rejects=all_rejects, sources=sources)


def default_stages() -> list[ExtraStage]:
    """The extra stages every build runs (role tables of the matching engine)."""
    from skillmatch.matching.roles import role_stage

    return [role_stage]


def run_build(
    inputs: BuildInputs,
    out: Path,
    *,
    settings: Settings,
    encoder: Encoder | None = None,
    strict: bool = False,
    progress: BuildProgress | None = None,
    stages: list[ExtraStage] | None = None,
) -> dict[str, Any]:
    """Build a bundle from validated inputs; with ``strict`` any reject stops the build before encoding."""
    if strict and inputs.rejects:
        raise RejectedInput(inputs.rejects)
    encoder = encoder or SentenceTransformerEncoder.from_settings(settings)
    return build_bundle(
        inputs,
        out,
        encoder=encoder,
        settings=settings,
        progress=progress,
        extra_stages=default_stages() if stages is None else stages,
    )
