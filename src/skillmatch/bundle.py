"""The bundle artefact: tables, FAISS indexes and a manifest that describes them, read once by :func:`open_bundle`.

A bundle is a folder with fixed file names (:data:`FILES`) and ``manifest.json``. :func:`write_bundle` writes it to
a temporary folder beside the target and renames it into place, so an interrupted build never damages an existing
bundle. :func:`open_bundle` checks the manifest (format version, files, checksums) and fails with a clear message
on any mismatch. A bundle holds no encoder: :func:`model_for` says which model to load for it (the manifest's,
unless one is configured) and :func:`check_encoder` refuses an encoder that did not make its vectors.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from skillmatch import __version__
from skillmatch.config import Settings
from skillmatch.encoding.base import Encoder
from skillmatch.encoding.models import vector_family
from skillmatch.encoding.selection import selection_of
from skillmatch.index import VectorIndex, faiss_version
from skillmatch.schema import Taxonomy, rejected_rows

#: Bumped when the files change: 2 added ``credential_prerequisites`` and the taught ``level`` of each link.
FORMAT_VERSION = 2

#: The bundle's files (the key is the :class:`Bundle` field or index it holds).
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
    "credential_prerequisites": "credential_prerequisites.parquet",
    "postings": "postings.parquet",
    "posting_skills": "posting_skills.parquet",
    "roles": "roles.parquet",
    "posting_roles": "posting_roles.parquet",
    "role_profiles": "role_profiles.parquet",
    "role_labels": "role_labels.parquet",
    "rejects": "rejects.csv",
}

#: Columns of the link tables (credential_skills uses ``credential_id``, posting_skills ``posting_id``).
#: ``level``: the level a credential teaches the skill at (explicit, else the credential's level; None unknown).
LINK_COLUMNS = ["skill_id", "score", "evidence", "phrase", "source", "level"]
#: The skills a credential requires before it can be taken, at a level (``text`` as written in the catalogue).
PREREQUISITE_COLUMNS = ["credential_id", "skill_id", "level", "text"]
OUTCOME_COLUMNS = ["credential_id", "position", "text"]

#: Table columns that hold lists (parquet gives arrays back).
_LIST_COLUMNS = {
    "concepts": ("alt_labels", "broader"),
    "occupations": ("alt_labels",),
    "credentials": (
        "learning_outcomes",
        "skills",
        "prerequisites",
        "prerequisite_skills",
        "stackable_into",
        "tags",
    ),
    "postings": ("skills",),
}


class BundleError(RuntimeError):
    """A bundle cannot be built or loaded; the message says why."""


@dataclass(frozen=True)
class Bundle:
    """A bundle's content: the taxonomy, the link and role tables and the three vector indexes."""

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
    credential_prerequisites: pd.DataFrame
    postings: pd.DataFrame
    posting_skills: pd.DataFrame
    roles: pd.DataFrame
    posting_roles: pd.DataFrame
    role_profiles: pd.DataFrame
    role_labels: pd.DataFrame
    rejects: pd.DataFrame

    def replace(self, **changes: Any) -> Bundle:
        """A copy with some fields replaced (the build fills in tables stage by stage)."""
        return dataclasses.replace(self, **changes)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by its :data:`FILES` key (the taxonomy's four tables included)."""
        tax = self.taxonomy
        return {
            "concepts": tax.concepts,
            "groups": tax.groups,
            "occupations": tax.occupations,
            "relations": tax.relations,
            "labels": self.labels,
            "occupation_labels": self.occupation_labels,
            "credentials": self.credentials,
            "outcomes": self.outcomes,
            "credential_skills": self.credential_skills,
            "credential_prerequisites": self.credential_prerequisites,
            "postings": self.postings,
            "posting_skills": self.posting_skills,
            "roles": self.roles,
            "posting_roles": self.posting_roles,
            "role_profiles": self.role_profiles,
            "role_labels": self.role_labels,
        }

    def counts(self) -> dict[str, int]:
        """Rows per table (recorded in the manifest)."""
        return {name: len(table) for name, table in self.tables().items()}

    def write(self, folder: Path) -> None:
        """Write every table and index into ``folder`` (no manifest; see :func:`write_bundle`)."""
        for name, table in self.tables().items():
            table.reset_index(drop=True).to_parquet(folder / FILES[name], index=False)
        self.label_index.save(folder / FILES["label_index"])
        self.occupation_index.save(folder / FILES["occupation_index"])
        self.outcome_index.save(folder / FILES["outcome_index"])
        self.rejects.to_csv(folder / FILES["rejects"], index=False)


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_version(package: str) -> str:
    """Installed version of ``package`` (``"not installed"`` when it is not)."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the bundle at ``path``, after checking its format version.

    Raises:
        BundleError: no manifest, not JSON, or a format this version cannot read.
    """
    path = Path(path)
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise BundleError(
            f"{path} is not a skillmatch bundle (no manifest.json); build one with 'skillmatch build'"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{manifest_path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise BundleError(
            f"{path}: bundle format {found} is not supported by this skillmatch "
            f"(format {FORMAT_VERSION}); rebuild it with 'skillmatch build'"
        )
    return manifest


#: A file name in a manifest: a plain name inside the bundle folder, no path.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def verify_files(path: Path, manifest: dict[str, Any], *, checksums: bool = True) -> None:
    """Check the manifest's ``files`` against the folder: nothing outside it, nothing unlisted, nothing changed.

    Every entry must be a plain file name (no path, no ``..``) of a regular file in ``path`` (not a link, FIFO or
    device: nothing outside the bundle is ever opened), with a SHA-256; every file of the bundle (the known
    tables and indexes and any other data file in the folder) must be listed; with ``checksums`` each listed
    file is hashed and compared.

    Raises:
        BundleError: the first problem found, naming the file.
    """
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise BundleError(f"{path}: the manifest lists no files; the bundle cannot be verified, rebuild it")
    for name, meta in files.items():
        if not isinstance(name, str) or not _PLAIN_NAME.fullmatch(name) or name in (".", ".."):
            raise BundleError(
                f"{path}: manifest file entry {name!r} is not a plain file name inside the bundle"
            )
        if not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str):
            raise BundleError(f"{path}: manifest file entry {name!r} has no sha256")
        file = path / name
        try:
            mode = os.lstat(file).st_mode
        except FileNotFoundError:
            raise BundleError(f"{path}: file {name} listed in the manifest is missing") from None
        if not stat.S_ISREG(mode):
            raise BundleError(f"{path}: {name} is not a regular file (a link, folder or special file)")
    unlisted = sorted(
        p.name
        for p in path.iterdir()
        if p.name != "manifest.json" and p.name not in files and not p.name.startswith(".")
    )
    if unlisted:
        raise BundleError(
            f"{path}: files not listed in the manifest: {', '.join(unlisted)}; rebuild the bundle"
        )
    missing = sorted(f for f in FILES.values() if f not in files)
    if missing:
        raise BundleError(
            f"{path}: bundle files missing: {', '.join(missing)}; rebuild it with 'skillmatch build'"
        )
    if checksums:
        for name, meta in files.items():
            if sha256(path / name) != meta["sha256"]:
                raise BundleError(
                    f"{path}: file {name} does not match its checksum in the manifest (changed or damaged); "
                    "rebuild the bundle"
                )


def model_for(manifest: dict[str, Any], settings: Settings) -> str:
    """The model to encode queries of this bundle with.

    That is ``settings.model`` when it was set explicitly (it must then match the bundle, see
    :func:`check_encoder`), else the model recorded in the manifest.
    """
    return settings.model if "model" in settings.model_fields_set else str(manifest["model"]["id"])


def open_bundle(path: Path, *, ef_search: int = 64, verify_checksums: bool = True) -> Bundle:
    """Read a bundle: its manifest, every file listed there (checksums verified) and the indexes.

    Args:
        path: the bundle folder.
        ef_search: HNSW search breadth of approximate indexes.
        verify_checksums: check every file against its SHA-256 in the manifest.

    Raises:
        BundleError: the folder is not a readable bundle of this format, or a file is missing or changed.
    """
    given = Path(path)
    # read one version: a symlinked bundle (see write_bundle) is resolved once, so a swap during the load
    # cannot mix the files of two builds
    path = given.resolve() if given.is_symlink() else given
    manifest = read_manifest(path)
    verify_files(path, manifest, checksums=verify_checksums)

    def table(name: str) -> pd.DataFrame:
        frame = pd.read_parquet(path / FILES[name])
        for col in _LIST_COLUMNS.get(name, ()):
            if col in frame.columns:
                frame[col] = [list(v) if v is not None else [] for v in frame[col]]
        return frame

    def index(name: str) -> VectorIndex:
        return VectorIndex.load(path / FILES[name], ef_search=ef_search)

    taxonomy = Taxonomy(
        name=manifest["taxonomy"]["name"],
        version=manifest["taxonomy"]["version"],
        concepts=table("concepts"),
        occupations=table("occupations"),
        relations=table("relations"),
        groups=table("groups"),
    )
    return Bundle(
        path=given,
        manifest=manifest,
        taxonomy=taxonomy,
        labels=table("labels"),
        label_index=index("label_index"),
        occupation_labels=table("occupation_labels"),
        occupation_index=index("occupation_index"),
        credentials=table("credentials"),
        outcomes=table("outcomes"),
        outcome_index=index("outcome_index"),
        credential_skills=table("credential_skills"),
        credential_prerequisites=table("credential_prerequisites"),
        postings=table("postings"),
        posting_skills=table("posting_skills"),
        roles=table("roles"),
        posting_roles=table("posting_roles"),
        role_profiles=table("role_profiles"),
        role_labels=table("role_labels"),
        rejects=pd.read_csv(path / FILES["rejects"]),
    )


def manifest_for(bundle: Bundle, folder: Path, encoder: Encoder, **fields: Any) -> dict[str, Any]:
    """The manifest of ``bundle`` written into ``folder``.

    It holds versions, model, counts, indexes, file checksums, and the build's own ``fields`` (sources,
    linking options, timings).
    """
    tax = bundle.taxonomy
    rejects = bundle.rejects
    return {
        "format_version": FORMAT_VERSION,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": {
            "skillmatch": __version__,
            "faiss": faiss_version(),
            "sentence-transformers": package_version("sentence-transformers"),
            "torch": package_version("torch"),
            "pandas": pd.__version__,
        },
        "model": {"id": encoder.model_id, "fingerprint": encoder.fingerprint, "dim": encoder.dim},
        "encoder": selection_of(encoder),
        "taxonomy": {"name": tax.name, "version": tax.version},
        "counts": bundle.counts(),
        "rejects": {
            "total": len(rejects),  # rejects: a row rejected for two fields counts twice
            "rows": rejected_rows(rejects),  # input rows rejected
            "by_file": {str(k): int(v) for k, v in rejects["file"].value_counts().items()}
            if len(rejects)
            else {},
        },
        "indexes": {
            "labels": vars(bundle.label_index.info_),
            "occupations": vars(bundle.occupation_index.info_),
            "outcomes": vars(bundle.outcome_index.info_),
        },
        **fields,
        "files": {
            p.name: {"sha256": sha256(p), "bytes": p.stat().st_size}
            for p in sorted(folder.iterdir())
            if p.is_file() and p.name != "manifest.json"
        },
    }


def write_bundle(bundle: Bundle, out: Path, encoder: Encoder, **fields: Any) -> dict[str, Any]:
    """Write ``bundle`` to ``out`` atomically; returns the manifest.

    The files go to a temporary folder, which becomes a versioned folder ``.NAME.v-<stamp>`` beside ``out``;
    ``out`` is a symbolic link to it, replaced with one ``rename`` of a new link (:func:`os.replace`), so at every
    moment ``out`` is either the old bundle or the new one, whatever kills the process. Folders left by interrupted
    builds and versions older than the previous one are removed by the next build (:func:`clean_stale`).
    A real folder at ``out`` (a bundle written by an earlier skillmatch) is moved aside once, then linked.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and not out.is_symlink() and not (out / "manifest.json").exists() and any(out.iterdir()):
        raise BundleError(f"{out} exists and is not a skillmatch bundle; refusing to replace it")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        bundle.write(tmp)
        manifest = manifest_for(bundle, tmp, encoder, **fields)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    clean_stale(out)
    return manifest


def _stamp() -> str:
    return f"{time.time_ns():x}-{os.getpid()}"


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Make ``out`` point at the finished folder ``tmp`` (see :func:`write_bundle`)."""
    version = out.with_name(f".{out.name}.v-{_stamp()}")
    tmp.rename(version)
    link = out.with_name(f".{out.name}.link-{_stamp()}")
    os.symlink(version.name, link)  # relative: the bundle folder and its versions can move together
    if out.exists() and not out.is_symlink():
        # an earlier skillmatch wrote a real folder: the one step with a window, taken once per bundle path
        out.rename(out.with_name(f".{out.name}.old-{_stamp()}"))
    os.replace(link, out)


def clean_stale(out: Path, *, keep_previous: bool = True) -> list[Path]:
    """Remove what interrupted or earlier builds of ``out`` left beside it; returns what was removed.

    Temporary folders and links, moved-aside folders and versions other than the current one (and, with
    ``keep_previous``, the newest other version, which a server may still be loading) are removed.
    """
    current = out.resolve().name if out.is_symlink() else None
    removed: list[Path] = []
    versions = sorted(
        (p for p in out.parent.glob(f".{out.name}.v-*") if p.name != current),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    stale = [
        *out.parent.glob(f".{out.name}.tmp-*"),
        *out.parent.glob(f".{out.name}.link-*"),
        *out.parent.glob(f".{out.name}.old-*"),
        *(versions[1:] if keep_previous else versions),
    ]
    for path in stale:
        if path.is_symlink() or path.is_file():
            path.unlink(missing_ok=True)
        else:
            shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _fingerprint_digest(fingerprint: str) -> str | None:
    return fingerprint.rsplit("@", 1)[1] if "@" in fingerprint else None


def _fingerprint_precision(fingerprint: str) -> str:
    """The precision suffix of a fingerprint ("" for float32): ``int8`` of ``model@hub+int8``."""
    return (_fingerprint_digest(fingerprint) or "").partition("+")[2]


def check_encoder(manifest: dict[str, Any], encoder: Encoder, path: Path) -> None:
    """Fail with a clear message when ``encoder`` is not the one that built the bundle.

    Raises:
        BundleError: another model, dimension or (for a hub model) precision.
    """
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
