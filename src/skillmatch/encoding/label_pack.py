"""Label-vector packs: every label of one taxonomy version encoded once, in a file that can be copied.

A cold full-ESCO build spends most of its time encoding about 132,000 skill and occupation labels, the same ones
for every bundle of that taxonomy version. ``skillmatch cache warm --taxonomy ...`` encodes them once into a
pack (``<name>.npy``: the float32 vectors; ``<name>.json``: model, taxonomy, texts, a checksum of the vectors);
a build finds a pack of its taxonomy version and model in ``<cache_dir>/labels`` and takes the vectors from it
(:class:`PackedEncoder`), encoding only texts the pack lacks. A pack can be built once per release and copied to
every machine: it is keyed by the model's vector family (:func:`~skillmatch.encoding.models.vector_family`, so a
float32 pack serves a block-wise int8 build and vice versa) and the taxonomy's name and version, and a pack whose
vectors do not match its checksum or whose model differs is not used.

The on-disk SQLite embedding cache (:mod:`~skillmatch.encoding.disk_cache`) also makes a second build fast, but on
one machine only, and it holds every text ever encoded under one model; a pack holds one taxonomy's labels.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from skillmatch.encoding.base import Encoder, EncoderWrapper, ProgressFn
from skillmatch.encoding.models import vector_family

log = logging.getLogger("skillmatch.encoding")

#: Bumped when the file layout changes; packs of another format are not used.
PACK_FORMAT = 1


class PackError(ValueError):
    """A label pack cannot be read or does not fit (the message says which file and why)."""


def _slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[-limit:] or "x"


def pack_stem(folder: Path, taxonomy: str, version: str, fingerprint: str) -> Path:
    """Path without suffix of the pack of ``taxonomy`` ``version`` under the vector family of ``fingerprint``."""
    family = vector_family(fingerprint)
    digest = hashlib.sha1(f"{family}|{taxonomy}|{version}|{PACK_FORMAT}".encode()).hexdigest()[:10]
    return Path(folder) / f"{_slug(taxonomy)}-{_slug(version, 20)}-{_slug(family)}-{digest}"


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@dataclass
class LabelPack:
    """The vectors of one taxonomy version's labels under one model (see the module's docstring)."""

    texts: list[str]
    vectors: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self) -> None:
        if self.vectors.shape[0] != len(self.texts):
            raise PackError(f"{len(self.texts)} texts but {self.vectors.shape[0]} vectors")
        self.rows = {t: i for i, t in enumerate(self.texts)}

    def lookup(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, positions)``: pack rows of the texts it holds and their positions in ``texts``."""
        pairs = [(self.rows[t], i) for i, t in enumerate(texts) if t in self.rows]
        if not pairs:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        rows, positions = zip(*pairs, strict=True)
        return np.asarray(rows, dtype=np.int64), np.asarray(positions, dtype=np.int64)


def write_pack(
    folder: Path,
    texts: Sequence[str],
    vectors: np.ndarray,
    *,
    encoder: Encoder,
    taxonomy: str,
    version: str,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a pack of ``texts`` and their ``vectors`` (made by ``encoder``); returns the ``.json`` path.

    The vectors are written first and the JSON (which names their checksum) last, both under temporary names
    renamed into place, so a reader never sees a half-written pack.
    """
    texts = list(texts)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.shape != (len(texts), encoder.dim):
        raise PackError(f"vectors of shape {vectors.shape} for {len(texts)} texts of dimension {encoder.dim}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = pack_stem(folder, taxonomy, version, encoder.fingerprint)
    npy = stem.with_suffix(".npy")
    fd, tmp = tempfile.mkstemp(prefix=f".{npy.name}.", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, vectors)
        checksum = _sha256(Path(tmp))
        os.replace(tmp, npy)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    meta = {
        "format": PACK_FORMAT,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model_id": encoder.model_id,
        "fingerprint": encoder.fingerprint,
        "dim": encoder.dim,
        "taxonomy": taxonomy,
        "version": version,
        "count": len(texts),
        "vectors": {"file": npy.name, "sha256": checksum},
        **(extra or {}),
        "texts": texts,
    }
    target = stem.with_suffix(".json")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(meta, fh, ensure_ascii=False)
    os.replace(tmp, target)
    return target


def read_pack(path: Path) -> LabelPack:
    """Read the pack whose ``.json`` is ``path`` and check its vectors against the recorded checksum.

    Raises:
        PackError: unreadable JSON, another format, a missing vector file, a checksum or shape mismatch.
    """
    path = Path(path)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PackError(f"{path}: not a readable label pack ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != PACK_FORMAT:
        raise PackError(f"{path}: label pack format {meta.get('format')!r}, expected {PACK_FORMAT}")
    npy = path.parent / str(meta.get("vectors", {}).get("file", ""))
    if not npy.is_file() or npy.parent != path.parent:
        raise PackError(f"{path}: its vector file {npy.name!r} is missing")
    if _sha256(npy) != meta["vectors"].get("sha256"):
        raise PackError(f"{npy}: checksum differs from the one in {path.name} (damaged or replaced)")
    vectors = np.load(npy, allow_pickle=False)
    if vectors.ndim != 2 or vectors.shape[1] != meta.get("dim"):
        raise PackError(f"{npy}: vectors of shape {vectors.shape}, expected dimension {meta.get('dim')}")
    texts = meta.pop("texts", [])
    return LabelPack(texts=[str(t) for t in texts], vectors=vectors, meta=meta, path=path)


def find_pack(folder: Path, encoder: Encoder, taxonomy: str, version: str) -> LabelPack | None:
    """The usable pack of ``taxonomy`` ``version`` for ``encoder`` in ``folder``, or None.

    A pack of another model family is never used; a damaged one is skipped with a warning.
    """
    path = pack_stem(folder, taxonomy, version, encoder.fingerprint).with_suffix(".json")
    if not path.is_file():
        return None
    try:
        pack = read_pack(path)
    except PackError as exc:
        log.warning("label pack not used: %s", exc)
        return None
    if vector_family(str(pack.meta.get("fingerprint"))) != vector_family(encoder.fingerprint):
        log.warning(
            "label pack %s is of model %s, not %s", path, pack.meta.get("fingerprint"), encoder.fingerprint
        )
        return None
    if (pack.meta.get("taxonomy"), pack.meta.get("version")) != (taxonomy, version):
        return None
    return pack


def list_packs(folder: Path) -> list[dict[str, Any]]:
    """What each pack in ``folder`` holds (without its texts), newest first; unreadable ones say why."""
    out: list[dict[str, Any]] = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            with path.open(encoding="utf-8") as fh:
                meta = json.load(fh)
            meta.pop("texts", None)
            out.append({"file": path.name, **meta})
        except (OSError, ValueError) as exc:
            out.append({"file": path.name, "error": str(exc)})
    return sorted(out, key=lambda m: str(m.get("created", "")), reverse=True)


class PackedEncoder(EncoderWrapper):
    """``inner`` with the vectors of a :class:`LabelPack`: texts in the pack are not encoded.

    ``stats`` counts texts served from the pack and texts encoded by ``inner``.
    """

    def __init__(self, inner: Encoder, pack: LabelPack) -> None:
        super().__init__(inner)
        self.pack = pack
        self.stats = {"from_pack": 0, "encoded": 0}

    def encode(self, texts: Sequence[str], *, progress: ProgressFn | None = None) -> np.ndarray:
        """Vectors of ``texts``: the pack's where it has them, the rest from ``inner``."""
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        rows, positions = self.pack.lookup(texts)
        out[positions] = self.pack.vectors[rows]
        missing = np.ones(len(texts), dtype=bool)
        missing[positions] = False
        todo = np.flatnonzero(missing)
        self.stats["from_pack"] += len(positions)
        self.stats["encoded"] += len(todo)
        if len(todo):
            out[todo] = self.inner.encode([texts[i] for i in todo], progress=progress)
        elif progress:
            progress(len(texts), len(texts))
        return out
