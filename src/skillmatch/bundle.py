"""Build, save and load the artefact bundle: tables, FAISS indexes and a manifest that describes them.

A bundle is a folder with fixed file names (see :data:`FILES`) and ``manifest.json``. It is written to a
temporary folder beside the target and renamed into place, so an interrupted build never damages an
existing bundle. Loading checks the manifest (format version, files, checksums, encoder) and fails with a
clear message on any mismatch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from skillmatch import __version__
from skillmatch.config import Settings
from skillmatch.encoding.encoder import Encoder, SentenceTransformerEncoder, vector_family
from skillmatch.encoding.known_vectors import KnownVectorEncoder
from skillmatch.index import VectorIndex, faiss_version
from skillmatch.linking.link_cache import LinkCache, link_cached, linker_signature
from skillmatch.linking.linker import SkillLinker, label_table, link_options
from skillmatch.schema import Reject, Taxonomy, rejects_to_frame

FORMAT_VERSION = 1

#: Stage-aware progress callback: ``progress(stage, done, total)``.
BuildProgress = Callable[[str, int, int], None]

FILES = {
    "concepts": "concepts.parquet",
    "groups": "groups.parquet",
    "occupations": "occupations.parquet",
    "relations": "relations.parquet",
    "labels": "labels.parquet",
    "label_index": "labels.faiss",
    "occupation_labels": "occupation_labels.parquet",
    "occupation_index": "occupations.faiss",
    "credentials": "credentials.parquet",
    "outcomes": "outcomes.parquet",
    "outcome_index": "outcomes.faiss",
    "credential_skills": "credential_skills.parquet",
    "postings": "postings.parquet",
    "posting_skills": "posting_skills.parquet",
    "rejects": "rejects.csv",
}

#: Columns of the link tables (credential_skills uses ``credential_id``, posting_skills ``posting_id``).
LINK_COLUMNS = ["skill_id", "score", "evidence", "phrase", "source"]
OUTCOME_COLUMNS = ["credential_id", "position", "text"]


class BundleError(RuntimeError):
    """A bundle cannot be built or loaded; the message says why."""


class RejectedInput(BundleError):
    """Strict build: some input rows were rejected."""

    def __init__(self, rejects: list[Reject]) -> None:
        self.rejects = rejects
        lines = "\n".join(f"  {r}" for r in rejects[:20])
        more = f"\n  ... and {len(rejects) - 20} more" if len(rejects) > 20 else ""
        super().__init__(f"{len(rejects)} input row(s) rejected (strict mode):\n{lines}{more}")


@dataclass
class BuildInputs:
    """Everything a build reads, already validated."""

    taxonomy: Taxonomy
    credentials: pd.DataFrame
    postings: pd.DataFrame
    rejects: list[Reject] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _fingerprint_digest(fingerprint: str) -> str | None:
    return fingerprint.rsplit("@", 1)[1] if "@" in fingerprint else None


def _fingerprint_precision(fingerprint: str) -> str:
    """The precision suffix of a fingerprint ("" for float32): ``int8`` of ``model@hub+int8``."""
    return (_fingerprint_digest(fingerprint) or "").partition("+")[2]


def _link_table(
    linker: SkillLinker,
    owner_ids: list[str],
    texts: list[str],
    source: str,
    *,
    owner_column: str,
    explicit: bool = False,
    progress: BuildProgress | None = None,
    stage: str = "",
    cache: LinkCache | None = None,
) -> pd.DataFrame:
    """Link texts (or normalise explicit skill phrases) and return one row per (owner, skill) hit."""
    if not texts:
        return pd.DataFrame(columns=[owner_column, *LINK_COLUMNS])
    step = None if progress is None else (lambda done, total: progress(stage, done, total))
    results = linker.normalise(texts) if explicit else link_cached(linker, texts, cache, progress=step)
    rows = [
        (owner, s.id, s.score, text, s.evidence, source)
        for owner, text, found in zip(owner_ids, texts, results, strict=True)
        for s in found
    ]
    return pd.DataFrame(rows, columns=[owner_column, *LINK_COLUMNS])


def _explicit_links(linker: SkillLinker, owners: pd.DataFrame, owner_column: str) -> pd.DataFrame:
    """Normalise the explicit ``skills`` lists of ``owners`` (credentials or postings) to concepts."""
    pairs = [(oid, s) for oid, skills in zip(owners["id"], owners["skills"], strict=True) for s in skills]
    return _link_table(
        linker,
        [o for o, _ in pairs],
        [s for _, s in pairs],
        "explicit",
        owner_column=owner_column,
        explicit=True,
    )


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

    Outcomes already in ``cache`` (:mod:`skillmatch.linking.link_cache`) are not linked again."""
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
    return outcomes, best_links(pd.concat([linked, explicit], ignore_index=True), "credential_id")


def link_postings(
    linker: SkillLinker,
    postings: pd.DataFrame,
    progress: BuildProgress | None = None,
    cache: LinkCache | None = None,
) -> pd.DataFrame:
    """Posting–skill links from title + description and from explicit skill lists.

    Postings already in ``cache`` (:mod:`skillmatch.linking.link_cache`) are not linked again."""
    texts = [
        "\n".join(str(x) for x in (title, desc) if isinstance(x, str) and x.strip())
        for title, desc in zip(postings["title"], postings["description"], strict=True)
    ]
    linked = _link_table(
        linker,
        postings["id"].tolist(),
        texts,
        "text",
        owner_column="posting_id",
        progress=progress,
        stage="link postings",
        cache=cache,
    )
    explicit = _explicit_links(linker, postings, "posting_id")
    return best_links(pd.concat([linked, explicit], ignore_index=True), "posting_id")


def _encode_index(
    encoder: Encoder, texts: list[str], settings: Settings, progress: BuildProgress | None, stage: str
) -> VectorIndex:
    step = None if progress is None else (lambda done, total: progress(stage, done, total))
    vectors = encoder.encode(texts, progress=step)
    if not len(texts):
        vectors = vectors.reshape(0, encoder.dim)
    return VectorIndex(
        exact_limit=settings.exact_index_limit, hnsw_m=settings.hnsw_m, ef_search=settings.hnsw_ef_search
    ).build(vectors)


def bundle_linker(
    encoder: Encoder,
    labels: pd.DataFrame,
    label_index: VectorIndex,
    concepts: pd.DataFrame,
    options: dict[str, Any],
    settings: Settings,
) -> SkillLinker:
    """The linker of a bundle's label index, with ``options`` (:func:`~skillmatch.linking.linker.link_options`).

    A segment that is a label (as the tokenizer sees it) takes its vector from the index instead of being
    encoded (:mod:`skillmatch.encoding.known_vectors`), and normalised phrases are kept in an LRU of
    ``settings.linker_memory_cache`` entries; neither changes results.
    """
    known = KnownVectorEncoder.from_index(encoder, labels["text"].tolist(), label_index)
    names = dict(zip(concepts["id"], concepts["label"], strict=True))
    return SkillLinker(
        known, labels, label_index, names, memory_cache=settings.linker_memory_cache, **options
    )


def build_bundle(
    inputs: BuildInputs,
    out: Path,
    *,
    encoder: Encoder,
    settings: Settings,
    progress: BuildProgress | None = None,
    extra_stages: list[Callable[[Bundle], dict[str, pd.DataFrame]]] | None = None,
) -> dict[str, Any]:
    """Encode, index and link ``inputs`` and write a bundle to ``out`` atomically; returns the manifest.

    ``extra_stages`` are called with the in-memory bundle and return more tables to store (file stem -> table);
    the matching engine uses this to add role tables.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    tax = inputs.taxonomy

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = fn()
        timings[name] = round(time.perf_counter() - start, 3)
        return result

    labels = label_table(tax.concepts)
    label_index = timed(
        "encode+index labels",
        lambda: _encode_index(encoder, labels["text"].tolist(), settings, progress, "labels"),
    )
    occ_labels = (
        label_table(tax.occupations)
        if len(tax.occupations)
        else pd.DataFrame(columns=["concept_id", "text", "kind"])
    )
    occ_index = timed(
        "encode+index occupations",
        lambda: _encode_index(encoder, occ_labels["text"].tolist(), settings, progress, "occupations"),
    )
    linker = bundle_linker(encoder, labels, label_index, tax.concepts, link_options(settings), settings)
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
        posting_skills = timed(
            "link postings", lambda: link_postings(linker, inputs.postings, progress, cache)
        )
    finally:
        if cache is not None:
            cache.close()

    bundle = Bundle(
        path=out,
        manifest={},
        taxonomy=tax,
        labels=labels,
        label_index=label_index,
        occupation_labels=occ_labels,
        occupation_index=occ_index,
        credentials=inputs.credentials,
        outcomes=outcomes,
        outcome_index=outcome_index,
        credential_skills=credential_skills,
        postings=inputs.postings,
        posting_skills=posting_skills,
        rejects=rejects_to_frame(inputs.rejects),
        extra={},
        encoder=encoder,
        settings=settings,
    )
    for stage in extra_stages or []:
        name = getattr(stage, "__name__", "extra stage")
        bundle.extra.update(timed(name, lambda stage=stage: stage(bundle)))

    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        timed("write", lambda: bundle._write(tmp))
        manifest = _manifest(bundle, tmp, inputs, encoder, timings)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    bundle.manifest = manifest
    return manifest


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Replace ``out`` with ``tmp``: the old bundle is moved aside first and removed only afterwards."""
    old = None
    if out.exists():
        if not (out / "manifest.json").exists() and any(out.iterdir()):
            raise BundleError(f"{out} exists and is not a skillmatch bundle; refusing to replace it")
        old = out.with_name(f".{out.name}.old-{int(time.time() * 1000)}")
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _manifest(
    bundle: Bundle, folder: Path, inputs: BuildInputs, encoder: Encoder, timings: dict[str, float]
) -> dict[str, Any]:
    tax = bundle.taxonomy
    rejects = bundle.rejects
    return {
        "format_version": FORMAT_VERSION,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": {
            "skillmatch": __version__,
            "faiss": faiss_version(),
            "sentence-transformers": _version("sentence-transformers"),
            "torch": _version("torch"),
            "pandas": pd.__version__,
        },
        "model": {"id": encoder.model_id, "fingerprint": encoder.fingerprint, "dim": encoder.dim},
        "taxonomy": {"name": tax.name, "version": tax.version},
        "sources": inputs.sources,
        "counts": {
            "concepts": len(tax.concepts),
            "labels": len(bundle.labels),
            "groups": len(tax.groups),
            "occupations": len(tax.occupations),
            "occupation_labels": len(bundle.occupation_labels),
            "relations": len(tax.relations),
            "credentials": len(bundle.credentials),
            "outcomes": len(bundle.outcomes),
            "credential_skills": len(bundle.credential_skills),
            "postings": len(bundle.postings),
            "posting_skills": len(bundle.posting_skills),
            **{name: len(table) for name, table in bundle.extra.items()},
        },
        "rejects": {
            "total": len(rejects),
            "by_file": {str(k): int(v) for k, v in rejects["file"].value_counts().items()}
            if len(rejects)
            else {},
        },
        "indexes": {
            "labels": vars(bundle.label_index.info_),
            "occupations": vars(bundle.occupation_index.info_),
            "outcomes": vars(bundle.outcome_index.info_),
        },
        "linking": link_options(bundle.settings),
        "timings_s": timings,
        "files": {
            p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size}
            for p in sorted(folder.iterdir())
            if p.is_file() and p.name != "manifest.json"
        },
    }


@dataclass
class Bundle:
    """A loaded bundle: the tables, the indexes and a linker ready to use."""

    path: Path
    manifest: dict[str, Any]
    taxonomy: Taxonomy
    labels: pd.DataFrame
    label_index: VectorIndex
    occupation_labels: pd.DataFrame
    occupation_index: VectorIndex
    credentials: pd.DataFrame
    outcomes: pd.DataFrame
    outcome_index: VectorIndex
    credential_skills: pd.DataFrame
    postings: pd.DataFrame
    posting_skills: pd.DataFrame
    rejects: pd.DataFrame
    extra: dict[str, pd.DataFrame]
    encoder: Encoder
    settings: Settings

    def __post_init__(self) -> None:
        self.linker = bundle_linker(
            self.encoder,
            self.labels,
            self.label_index,
            self.taxonomy.concepts,
            self.linking_options(),
            self.settings,
        )

    def linking_options(self) -> dict[str, Any]:
        """The linker options: those recorded in the manifest at build time, unless set explicitly in settings
        (e.g. ``SKILLMATCH_LINK_MIN_SCORE``), so a served bundle links like it was built."""
        options = link_options(self.settings)
        explicit = self.settings.model_fields_set
        for key, value in self.manifest.get("linking", {}).items():
            if key in options and f"link_{key}" not in explicit:
                options[key] = value
        return options

    def _write(self, folder: Path) -> None:
        tax = self.taxonomy
        tables = {
            "concepts": tax.concepts,
            "groups": tax.groups,
            "occupations": tax.occupations,
            "relations": tax.relations,
            "labels": self.labels,
            "occupation_labels": self.occupation_labels,
            "credentials": self.credentials,
            "outcomes": self.outcomes,
            "credential_skills": self.credential_skills,
            "postings": self.postings,
            "posting_skills": self.posting_skills,
        }
        for name, table in tables.items():
            table.reset_index(drop=True).to_parquet(folder / FILES[name], index=False)
        for name, table in self.extra.items():
            table.reset_index(drop=True).to_parquet(folder / f"{name}.parquet", index=False)
        self.label_index.save(folder / FILES["label_index"])
        self.occupation_index.save(folder / FILES["occupation_index"])
        self.outcome_index.save(folder / FILES["outcome_index"])
        self.rejects.to_csv(folder / FILES["rejects"], index=False)

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        settings: Settings,
        encoder: Encoder | None = None,
        verify_checksums: bool = True,
    ) -> Bundle:
        """Load a bundle, checking its manifest, files and encoder.

        With no ``encoder`` the one recorded in the manifest is loaded (``settings.model`` is ignored unless
        it was set to something other than the default, in which case it must match the manifest).
        """
        path = Path(path)
        manifest_path = path / "manifest.json"
        if not manifest_path.exists():
            raise BundleError(
                f"{path} is not a skillmatch bundle (no manifest.json); build one with 'skillmatch build'"
            )
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise BundleError(f"{manifest_path} is not valid JSON: {exc}") from exc
        if manifest.get("format_version") != FORMAT_VERSION:
            raise BundleError(
                f"{path}: bundle format {manifest.get('format_version')} is not supported by this skillmatch "
                f"(format {FORMAT_VERSION}); rebuild it with 'skillmatch build'"
            )
        for name, meta in manifest.get("files", {}).items():
            file = path / name
            if not file.exists():
                raise BundleError(f"{path}: file {name} listed in the manifest is missing")
            if verify_checksums and _sha256(file) != meta["sha256"]:
                raise BundleError(
                    f"{path}: file {name} does not match its checksum in the manifest "
                    "(changed or damaged); rebuild the bundle"
                )
        model = manifest["model"]
        if encoder is None:
            wanted = settings.model if "model" in settings.model_fields_set else model["id"]
            encoder = SentenceTransformerEncoder.from_settings(settings, wanted)
        check_encoder(manifest, encoder, path)

        def table(name: str) -> pd.DataFrame:
            return pd.read_parquet(path / FILES[name])

        def lists(frame: pd.DataFrame, *cols: str) -> pd.DataFrame:
            for col in cols:
                if col in frame.columns:
                    frame[col] = [list(v) if v is not None else [] for v in frame[col]]
            return frame

        taxonomy = Taxonomy(
            name=manifest["taxonomy"]["name"],
            version=manifest["taxonomy"]["version"],
            concepts=lists(table("concepts"), "alt_labels", "broader"),
            occupations=lists(table("occupations"), "alt_labels"),
            relations=table("relations"),
            groups=table("groups"),
        )
        known = set(FILES.values()) | {"manifest.json"}
        extra = {p.stem: pd.read_parquet(p) for p in sorted(path.glob("*.parquet")) if p.name not in known}
        return cls(
            path=path,
            manifest=manifest,
            taxonomy=taxonomy,
            labels=table("labels"),
            label_index=VectorIndex.load(path / FILES["label_index"], ef_search=settings.hnsw_ef_search),
            occupation_labels=table("occupation_labels"),
            occupation_index=VectorIndex.load(
                path / FILES["occupation_index"], ef_search=settings.hnsw_ef_search
            ),
            credentials=lists(
                table("credentials"), "learning_outcomes", "skills", "prerequisites", "stackable_into"
            ),
            outcomes=table("outcomes"),
            outcome_index=VectorIndex.load(path / FILES["outcome_index"], ef_search=settings.hnsw_ef_search),
            credential_skills=table("credential_skills"),
            postings=lists(table("postings"), "skills"),
            posting_skills=table("posting_skills"),
            rejects=pd.read_csv(path / FILES["rejects"]),
            extra=extra,
            encoder=encoder,
            settings=settings,
        )


def check_encoder(manifest: dict[str, Any], encoder: Encoder, path: Path) -> None:
    """Fail with a clear message when ``encoder`` is not the one that built the bundle."""
    model = manifest["model"]
    if encoder.dim != model["dim"]:
        raise BundleError(
            f"{path} was built with {model['id']} ({model['dim']} dimensions) but the encoder "
            f"{encoder.model_id} has {encoder.dim}; use the same model or rebuild the bundle"
        )
    # an encoder at a precision that stands in for float32 (int8-block) may query a float32 bundle and vice versa
    want_family, have_family = vector_family(model["fingerprint"]), vector_family(encoder.fingerprint)
    want, have = _fingerprint_digest(want_family), _fingerprint_digest(have_family)
    if want and have:
        same = want == have
    else:  # a hub model on one side: the same id, at the same precision
        same = model["id"] == encoder.model_id and _fingerprint_precision(
            want_family
        ) == _fingerprint_precision(have_family)
    if not same:
        raise BundleError(
            f"{path} was built with model {model['id']} (fingerprint {model['fingerprint']}) but the encoder is "
            f"{encoder.model_id} (fingerprint {encoder.fingerprint}); use the same model "
            "(SKILLMATCH_MODEL / --model) or rebuild the bundle"
        )
