"""The build pipeline: read the inputs, encode and index, link, profile roles, and write a bundle.

read (:mod:`skillmatch.readers`) -> encode + index labels and occupations (:mod:`skillmatch.encoding`,
:mod:`skillmatch.index`) -> link credentials and postings (:mod:`skillmatch.linking`) -> roles and their profiles
(:mod:`skillmatch.matching.roles`) -> write (:func:`skillmatch.bundle.write_bundle`). The CLI, the API's demo and
the notebooks all call :func:`run_build`.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skillmatch.bundle import (
    LINK_COLUMNS,
    OUTCOME_COLUMNS,
    PREREQUISITE_COLUMNS,
    Bundle,
    BundleError,
    write_bundle,
)
from skillmatch.config import Settings, get_settings
from skillmatch.currencies import RateTable, rate_table
from skillmatch.encoding.base import Encoder
from skillmatch.encoding.factory import make_encoder, query_chain
from skillmatch.encoding.label_pack import PackedEncoder, find_pack, write_pack
from skillmatch.encoding.models import vector_family
from skillmatch.encoding.selection import selection_of
from skillmatch.index import VectorIndex
from skillmatch.linking.link_cache import LinkCache, link_cached, linker_signature
from skillmatch.linking.linker import SkillLinker, label_table, link_options, linker_for
from skillmatch.matching.roles import ROLE_TABLE_COLUMNS, RoleParams, role_tables
from skillmatch.readers import load_credentials, load_taxonomy, read_postings
from skillmatch.schema import (
    CREDENTIAL_COLUMNS,
    POSTING_COLUMNS,
    Reject,
    Taxonomy,
    looks_like_id,
    rejects_to_frame,
    split_skill_level,
)

#: Stage-aware progress callback: ``progress(stage, done, total)``.
BuildProgress = Callable[[str, int, int], None]


class RejectedInput(BundleError):
    """Strict build: some input rows were rejected."""

    def __init__(self, rejects: list[Reject]) -> None:
        self.rejects = rejects
        lines = "\n".join(f"  {r}" for r in rejects[:20])
        more = f"\n  ... and {len(rejects) - 20} more" if len(rejects) > 20 else ""
        super().__init__(f"{len(rejects)} input row(s) rejected (strict mode):\n{lines}{more}")


@dataclass
class LinkedPostings:
    """Postings linked earlier by ``skillmatch link-postings`` (read by :func:`skillmatch.batch.read_linked_postings`).

    A build given these uses their links instead of linking the postings again; they must come from the same model
    and taxonomy version as the build (:func:`check_linked_postings`).
    """

    postings: pd.DataFrame
    posting_skills: pd.DataFrame
    model_fingerprint: str
    taxonomy_version: str
    source: str
    run: dict[str, Any] = field(default_factory=dict)


@dataclass
class BuildInputs:
    """Everything a build reads, already validated (``linked_postings``: postings linked by a batch run)."""

    taxonomy: Taxonomy
    credentials: pd.DataFrame
    postings: pd.DataFrame
    rejects: list[Reject] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    linked_postings: LinkedPostings | None = None


def check_linked_postings(linked: LinkedPostings, encoder: Encoder, taxonomy: Taxonomy) -> None:
    """Refuse batch-linked postings made with another model or taxonomy version than this build's.

    Raises:
        BundleError: the model fingerprint or the taxonomy version differs (the message gives both).
    """
    # auto may pick block-wise int8 on one machine and float32 on another: their vectors stand in for each other
    if vector_family(linked.model_fingerprint) != vector_family(encoder.fingerprint):
        raise BundleError(
            f"{linked.source}: postings were linked with model fingerprint {linked.model_fingerprint!r} but this "
            f"build encodes with {encoder.fingerprint!r}; link them again with a bundle of this model"
        )
    if linked.taxonomy_version != taxonomy.version:
        raise BundleError(
            f"{linked.source}: postings were linked against taxonomy version {linked.taxonomy_version!r} but "
            f"this build reads version {taxonomy.version!r}; link them again with a bundle of this taxonomy"
        )


def demo_dir() -> Path:
    """The folder of the embedded demo data (``SKILLMATCH_DEMO_DIR`` overrides it)."""
    env = os.environ.get("SKILLMATCH_DEMO_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "data" / "demo"


def demo_paths() -> tuple[Path, Path, Path]:
    """Paths of the demo taxonomy, credentials and postings.

    Raises:
        FileNotFoundError: a demo file is missing.
    """
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
    *,
    rates: RateTable | None = None,
) -> BuildInputs:
    """Read and validate every input; whole-file problems raise :class:`~skillmatch.schema.InputError`.

    ``rates``: the exchange-rate table prices must be convertible with (default: the packaged one).
    """
    paths = [Path(p) for p in taxonomy] if isinstance(taxonomy, (list, tuple)) else [Path(taxonomy)]  # type: ignore[arg-type]
    tax, rejects = load_taxonomy(paths if len(paths) > 1 else paths[0])
    all_rejects: list[Reject] = list(rejects)
    sources: dict[str, str] = {"taxonomy": ", ".join(str(p) for p in paths)}
    if credentials is not None:
        result = load_credentials(Path(credentials))
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
    known = set(tax.concepts["id"])
    creds = screen_ids(creds, known, sources.get("credentials", "credentials"), "credential", all_rejects)
    if rates is None:
        rates_file = get_settings().fx_rates_file
        rates = rate_table(str(rates_file) if rates_file else None)
    creds = screen_currencies(creds, rates, sources.get("credentials", "credentials"), all_rejects)
    posts = screen_ids(posts, known, sources.get("postings", "postings"), "posting", all_rejects)
    return BuildInputs(taxonomy=tax, credentials=creds, postings=posts, rejects=all_rejects, sources=sources)


def screen_ids(
    table: pd.DataFrame, known: set[str], file: str, what: str, rejects: list[Reject]
) -> pd.DataFrame:
    """``table`` without the rows whose explicit skills name a taxonomy id the taxonomy does not have.

    Each such row becomes a reject naming the record, the field and the id (ids resolve exactly or not at all).
    """
    bad: set[str] = set()
    for column in ("skills", "prerequisite_skills"):
        if column not in table.columns:
            continue
        for rid, items in zip(table["id"], table[column], strict=True):
            for item in items or []:
                text, _level = split_skill_level(item)
                if looks_like_id(text) and text not in known:
                    rejects.append(
                        Reject(file, None, column, f"{what} {rid!r}: unknown taxonomy id {text!r}")
                    )
                    bad.add(rid)
    return table[~table["id"].isin(bad)].reset_index(drop=True) if bad else table


def screen_currencies(
    table: pd.DataFrame, rates: RateTable, file: str, rejects: list[Reject]
) -> pd.DataFrame:
    """``table`` without the priced rows whose currency is missing or has no rate in ``rates`` (each a reject).

    A price that cannot be converted cannot be compared or budgeted, and is never shown as 0.
    """
    if "cost" not in table.columns or table.empty:
        return table
    bad: set[str] = set()
    currencies = table["currency"] if "currency" in table.columns else pd.Series([None] * len(table))
    for rid, cost, currency in zip(table["id"], table["cost"], currencies, strict=True):
        if cost is None or pd.isna(cost):
            continue
        if not isinstance(currency, str) or not currency.strip():
            rejects.append(
                Reject(file, None, "currency", f"credential {rid!r}: a cost of {cost} needs a currency")
            )
            bad.add(rid)
            continue
        try:
            rates.check(currency)
        except ValueError as exc:
            rejects.append(Reject(file, None, "currency", f"credential {rid!r}: {exc}"))
            bad.add(rid)
    return table[~table["id"].isin(bad)].reset_index(drop=True) if bad else table


def _link_table(
    linker: SkillLinker,
    owner_ids: list[str],
    texts: list[str],
    source: str,
    *,
    owner_column: str,
    explicit: bool = False,
    levels: list[str | None] | None = None,
    evidence: list[str] | None = None,
    progress: BuildProgress | None = None,
    stage: str = "",
    cache: LinkCache | None = None,
) -> pd.DataFrame:
    """Link texts (or normalise explicit skill phrases) and return one row per (owner, skill) hit.

    ``levels`` (one per text) fills the ``level`` column: the level the owner teaches (or asks for) the skill at.
    ``evidence`` (one per text; default: the texts) fills the ``evidence`` column, ``phrase`` gets the segment
    that matched.
    """
    if not texts:
        return pd.DataFrame(columns=[owner_column, *LINK_COLUMNS])
    step = None if progress is None else (lambda done, total: progress(stage, done, total))
    results = linker.normalise(texts) if explicit else link_cached(linker, texts, cache, progress=step)
    levels = levels or [None] * len(texts)
    rows = [
        (owner, s.id, s.score, shown, s.evidence, source, level)
        for owner, shown, level, found in zip(owner_ids, evidence or texts, levels, results, strict=True)
        for s in found
    ]
    return pd.DataFrame(rows, columns=[owner_column, *LINK_COLUMNS])


def _explicit_links(linker: SkillLinker, owners: pd.DataFrame, owner_column: str) -> pd.DataFrame:
    """Normalise the explicit ``skills`` lists of ``owners`` (credentials or postings) to concepts.

    A skill may carry a level ("SQL: intermediate"); the ``level`` column keeps it (None when not given).
    """
    items = [
        (oid, *split_skill_level(s))
        for oid, skills in zip(owners["id"], owners["skills"], strict=True)
        for s in skills
    ]
    return _link_table(
        linker,
        [o for o, _, _ in items],
        [t for _, t, _ in items],
        "explicit",
        owner_column=owner_column,
        explicit=True,
        levels=[str(level) if level else None for _, _, level in items],
    )


def _column(table: pd.DataFrame, name: str) -> list[Any]:
    """A list column of ``table``, or empty lists when the table has no such column."""
    return table[name].tolist() if name in table.columns else [[] for _ in range(len(table))]


def link_prerequisite_skills(
    linker: SkillLinker, credentials: pd.DataFrame, file: str
) -> tuple[pd.DataFrame, list[Reject], set[str]]:
    """The skills each credential requires, at a level (``PREREQUISITE_COLUMNS``), the rejects and their ids.

    A requirement without a level needs the skill at beginner level. A requirement that resolves to no taxonomy
    skill makes its credential a reject (its admission rule could not be checked).
    """
    rows: list[tuple[str, str, str, str]] = []
    rejects: list[Reject] = []
    bad: set[str] = set()
    items = [
        (cid, *split_skill_level(s))
        for cid, skills in zip(credentials["id"], _column(credentials, "prerequisite_skills"), strict=True)
        for s in skills or []
    ]
    found = linker.normalise([text for _, text, _ in items]) if items else []
    for (cid, text, level), hits in zip(items, found, strict=True):
        if not hits:
            rejects.append(
                Reject(
                    file,
                    None,
                    "prerequisite_skills",
                    f"credential {cid!r}: {text!r} matches no taxonomy skill",
                )
            )
            continue
        rows.append((cid, hits[0].id, str(level or "beginner"), text))
    return pd.DataFrame(rows, columns=PREREQUISITE_COLUMNS), rejects, bad


def best_links(frame: pd.DataFrame, owner_column: str) -> pd.DataFrame:
    """Keep the best-scoring row per (owner, skill); rows sorted by owner then score descending."""
    if frame.empty:
        return frame.reset_index(drop=True)
    frame = frame.sort_values([owner_column, "score", "skill_id"], ascending=[True, False, True])
    return frame.drop_duplicates([owner_column, "skill_id"]).reset_index(drop=True)


def link_credentials(
    linker: SkillLinker,
    credentials: pd.DataFrame,
    progress: BuildProgress | None = None,
    cache: LinkCache | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The outcomes table and the credential–skill links (from outcomes, explicit skills, else description).

    Outcomes already in ``cache`` (:mod:`skillmatch.linking.link_cache`) are not linked again.
    """
    outcome_rows: list[tuple[str, int, str]] = []
    for cid, outcomes, description in zip(
        credentials["id"], credentials["learning_outcomes"], credentials["description"], strict=True
    ):
        items = [o for o in outcomes if str(o).strip()]
        if not items and isinstance(description, str) and description.strip():
            items = [description]
        outcome_rows.extend((cid, i, str(text)) for i, text in enumerate(items))
    outcomes = pd.DataFrame(outcome_rows, columns=OUTCOME_COLUMNS)
    linked = _link_table(
        linker,
        outcomes["credential_id"].tolist(),
        outcomes["text"].tolist(),
        "outcome",
        owner_column="credential_id",
        progress=progress,
        stage="link credentials",
        cache=cache,
    )
    explicit = _explicit_links(linker, credentials, "credential_id")
    links = best_links(pd.concat([linked, explicit], ignore_index=True), "credential_id")
    # a skill is taught at its explicit level, else at the credential's level
    level_of = dict(zip(credentials["id"], credentials["level"], strict=True))
    links["level"] = [
        level
        if isinstance(level, str)
        else (level_of.get(cid) if isinstance(level_of.get(cid), str) else None)
        for cid, level in zip(links["credential_id"], links["level"], strict=True)
    ]
    return outcomes, links


def link_postings(
    linker: SkillLinker,
    postings: pd.DataFrame,
    progress: BuildProgress | None = None,
    cache: LinkCache | None = None,
) -> pd.DataFrame:
    """Posting–skill links from title + description and from explicit skill lists.

    A link's ``evidence`` is the posting's title, not its text (the postings table has that; a copy in every
    link row took gigabytes for 100,000 postings); ``phrase`` is the segment that matched. Postings already in
    ``cache`` (:mod:`skillmatch.linking.link_cache`) are not linked again.
    """
    titles = [str(t) if isinstance(t, str) else "" for t in postings["title"]]
    texts = [
        "\n".join(str(x) for x in (title, desc) if isinstance(x, str) and x.strip())
        for title, desc in zip(postings["title"], postings["description"], strict=True)
    ]
    linked = _link_table(
        linker,
        postings["id"].tolist(),
        texts,
        "text",
        evidence=titles,
        owner_column="posting_id",
        progress=progress,
        stage="link postings",
        cache=cache,
    )
    explicit = _explicit_links(linker, postings, "posting_id")
    return best_links(pd.concat([linked, explicit], ignore_index=True), "posting_id")


def _encode(encoder: Encoder, texts: list[str], progress: BuildProgress | None, stage: str) -> np.ndarray:
    step = None if progress is None else (lambda done, total: progress(stage, done, total))
    vectors = encoder.encode(texts, progress=step)
    return vectors.reshape(0, encoder.dim) if not len(texts) else vectors


def _index(vectors: np.ndarray, settings: Settings) -> VectorIndex:
    return VectorIndex(
        exact_limit=settings.exact_index_limit, hnsw_m=settings.hnsw_m, ef_search=settings.hnsw_ef_search
    ).build(vectors)


def _encode_index(
    encoder: Encoder, texts: list[str], settings: Settings, progress: BuildProgress | None, stage: str
) -> VectorIndex:
    return _index(_encode(encoder, texts, progress, stage), settings)


def label_texts(taxonomy: Taxonomy) -> list[str]:
    """Every text a build encodes for ``taxonomy``: skill labels then occupation labels (preferred and alt)."""
    texts = label_table(taxonomy.concepts)["text"].tolist()
    if len(taxonomy.occupations):
        texts += label_table(taxonomy.occupations)["text"].tolist()
    return list(dict.fromkeys(texts))


def label_encoder(encoder: Encoder, taxonomy: Taxonomy, settings: Settings) -> tuple[Encoder, dict[str, Any]]:
    """``encoder`` behind the label pack of ``taxonomy``'s version when ``<cache_dir>/labels`` has one.

    Returns the encoder for the label stages and what the manifest records about it (``{}`` without a pack).
    """
    if not settings.use_cache:
        return encoder, {}
    pack = find_pack(settings.cache_dir / "labels", encoder, taxonomy.name, taxonomy.version)
    if pack is None:
        return encoder, {}
    return PackedEncoder(encoder, pack), {
        "pack": pack.path.name if pack.path else "",
        "fingerprint": pack.meta.get("fingerprint"),
        "created": pack.meta.get("created"),
        "count": len(pack.texts),
    }


def build_bundle(
    inputs: BuildInputs,
    out: Path,
    *,
    encoder: Encoder,
    settings: Settings,
    progress: BuildProgress | None = None,
    role_params: RoleParams | None = None,
    strict: bool = False,
) -> dict[str, Any]:
    """Encode, index and link ``inputs``, profile the roles and write a bundle to ``out`` atomically.

    With ``strict``, a credential whose prerequisite skills resolve to no taxonomy skill stops the build
    (:class:`RejectedInput`); otherwise it is left out and listed in the bundle's rejects.

    Returns:
        The bundle's manifest.
    """
    timings: dict[str, float] = {}
    cpu_timings: dict[str, float] = {}
    tax = inputs.taxonomy
    if inputs.linked_postings is not None:
        check_linked_postings(inputs.linked_postings, encoder, tax)
        known = set(tax.concepts["id"])
        links = inputs.linked_postings.posting_skills
        unknown = sorted(set(links["skill_id"]) - known)
        if unknown:
            raise BundleError(
                f"{inputs.linked_postings.source}: {len(unknown)} linked skill id(s) are not in the taxonomy "
                f"(first: {unknown[0]!r}); link the postings again with a bundle of this taxonomy"
            )
        posting_skills = best_links(links, "posting_id")
        inputs = dataclasses.replace(
            inputs,
            postings=inputs.linked_postings.postings,
            sources={**inputs.sources, "linked_postings": inputs.linked_postings.source},
        )

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        # CPU seconds of the whole process (every thread) beside wall seconds: cpu / wall is how many cores the
        # stage kept busy
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        timings[name] = round(time.perf_counter() - start, 3)
        cpu_timings[name] = round(time.process_time() - cpu, 3)
        return result

    labels = label_table(tax.concepts)
    occ_labels = (
        label_table(tax.occupations)
        if len(tax.occupations)
        else pd.DataFrame(columns=["concept_id", "text", "kind"])
    )
    packed, label_vectors = label_encoder(encoder, tax, settings)
    label_vectors_arr = timed(
        "encode labels", lambda: _encode(packed, labels["text"].tolist(), progress, "labels")
    )
    label_index = timed("index labels", lambda: _index(label_vectors_arr, settings))
    occ_vectors = timed(
        "encode occupations",
        lambda: _encode(packed, occ_labels["text"].tolist(), progress, "occupations"),
    )
    occ_index = timed("index occupations", lambda: _index(occ_vectors, settings))
    if isinstance(packed, PackedEncoder):
        label_vectors.update(packed.stats)
    options = link_options(settings)
    chain = query_chain(encoder, labels["text"].tolist(), label_index.reconstruct)
    linker = linker_for(
        chain, labels, label_index, tax.concepts, options, memory_cache=settings.linker_memory_cache
    )
    cache = (
        LinkCache(settings.cache_dir, linker_signature(linker, encoder.fingerprint))
        if settings.use_cache
        else None
    )
    try:
        outcomes, credential_skills = timed(
            "link credentials", lambda: link_credentials(linker, inputs.credentials, progress, cache)
        )
        outcome_index = timed(
            "encode+index outcomes",
            lambda: _encode_index(encoder, outcomes["text"].tolist(), settings, progress, "outcomes"),
        )
        if inputs.linked_postings is None:
            posting_skills = timed(
                "link postings", lambda: link_postings(linker, inputs.postings, progress, cache)
            )
    finally:
        if cache is not None:
            cache.close()
    prerequisite_skills, prerequisite_rejects, dropped = link_prerequisite_skills(
        linker, inputs.credentials, inputs.sources.get("credentials", "credentials")
    )
    credentials = inputs.credentials
    if prerequisite_rejects:
        if strict:
            raise RejectedInput(prerequisite_rejects)
        credentials = credentials[~credentials["id"].isin(dropped)].reset_index(drop=True)
        credential_skills = credential_skills[~credential_skills["credential_id"].isin(dropped)]
        prerequisite_skills = prerequisite_skills[~prerequisite_skills["credential_id"].isin(dropped)]
        keep = ~outcomes["credential_id"].isin(dropped).to_numpy()
        outcomes = outcomes[keep].reset_index(drop=True)
        outcome_index = VectorIndex(
            exact_limit=settings.exact_index_limit, hnsw_m=settings.hnsw_m, ef_search=settings.hnsw_ef_search
        ).build(outcome_index.reconstruct()[keep])

    bundle = Bundle(
        path=Path(out),
        manifest={},
        taxonomy=tax,
        labels=labels,
        label_index=label_index,
        occupation_labels=occ_labels,
        occupation_index=occ_index,
        credentials=credentials,
        outcomes=outcomes,
        outcome_index=outcome_index,
        credential_skills=credential_skills.reset_index(drop=True),
        credential_prerequisites=prerequisite_skills.reset_index(drop=True),
        postings=inputs.postings,
        posting_skills=posting_skills,
        rejects=rejects_to_frame([*inputs.rejects, *prerequisite_rejects]),
        **{name: pd.DataFrame(columns=cols) for name, cols in ROLE_TABLE_COLUMNS.items()},
    )
    bundle = bundle.replace(**timed("roles", lambda: role_tables(bundle, chain, role_params)))
    return write_bundle(
        bundle,
        out,
        encoder,
        sources=inputs.sources,
        linking=options,
        timings_s=timings,
        cpu_s=cpu_timings,
        label_vectors=label_vectors,
    )


def run_build(
    inputs: BuildInputs,
    out: Path,
    *,
    settings: Settings,
    encoder: Encoder | None = None,
    strict: bool = False,
    progress: BuildProgress | None = None,
) -> dict[str, Any]:
    """Build a bundle from validated inputs; with ``strict`` any reject stops the build before encoding.

    Raises:
        RejectedInput: ``strict`` and some rows were rejected.
    """
    if strict and inputs.rejects:
        raise RejectedInput(inputs.rejects)
    return build_bundle(
        inputs, out, encoder=encoder or make_encoder(settings), settings=settings, progress=progress
    )


def warm_label_pack(
    taxonomy: Taxonomy,
    encoder: Encoder,
    folder: Path,
    progress: BuildProgress | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Encode every label of ``taxonomy`` (:func:`label_texts`) into a label pack in ``folder``.

    Builds of this taxonomy version with this model family then take the label vectors from the pack (see
    :mod:`skillmatch.encoding.label_pack`). Returns the pack's path and what was done (texts, seconds, rate).
    """
    texts = label_texts(taxonomy)
    start = time.perf_counter()
    vectors = _encode(encoder, texts, progress, "labels")
    seconds = time.perf_counter() - start
    path = write_pack(
        folder,
        texts,
        vectors,
        encoder=encoder,
        taxonomy=taxonomy.name,
        version=taxonomy.version,
        extra={"encoder": selection_of(encoder), "encode_seconds": round(seconds, 2)},
    )
    return path, {
        "texts": len(texts),
        "seconds": round(seconds, 2),
        "texts_per_s": round(len(texts) / seconds, 1) if seconds > 0 else None,
    }
