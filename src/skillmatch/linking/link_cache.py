"""An on-disk cache of linked texts, so a rebuild links only the postings and outcomes it has not linked before.

A warm build already takes every vector from the embedding cache, but linking a posting still costs its search,
lexical scoring and aggregation (~20 ms on 2 cores). The links of a text depend only on the text and on the
linker: its options, its label table, the model that encoded the labels, the label index (kind and HNSW
parameters) and the linking code. All of these make up the cache's *signature*; each signature gets its own
SQLite file (``links-<digest>.sqlite`` beside the embedding cache), so a change to any of them starts a fresh
cache and stale links are never served. The code is part of the signature through a digest of the source files
that decide links, so results computed by an older version of the linker are not reused either.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from skillmatch import index as index_module
from skillmatch.encoding.base import ProgressFn
from skillmatch.encoding.disk_cache import text_key
from skillmatch.linking import linker as linking_module
from skillmatch.linking import phrases as phrases_module
from skillmatch.linking import vocabulary as vocabulary_module
from skillmatch.linking.linker import LINK_PASS_TEXTS, LinkedSkill, SkillLinker

_CHUNK = 900  # stays below SQLite's default limit of bound variables
_FORMAT = 1


def _code_digest() -> str:
    """SHA-1 of the source of the modules whose code decides links."""
    digest = hashlib.sha1()
    for module in (linking_module, phrases_module, vocabulary_module, index_module):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()


def linker_signature(linker: SkillLinker, model_fingerprint: str) -> str:
    """Everything a text's links depend on besides the text itself, as one string (see the module doc)."""
    labels = hashlib.sha1()
    for cid, text in zip(linker.labels["concept_id"], linker.labels["text"], strict=True):
        labels.update(f"{cid}\t{text}\n".encode())
    info = linker.index.info_
    return json.dumps(
        {
            "format": _FORMAT,
            "code": _code_digest(),
            "model": model_fingerprint,
            "labels": labels.hexdigest(),
            "concept_labels": hashlib.sha1(
                json.dumps(sorted(linker.concept_labels.items())).encode()
            ).hexdigest(),
            "index": {
                "kind": info.kind,
                "hnsw_m": info.hnsw_m,
                "ef_search": linker.index.current_ef_search(),
            },
            "options": linker.options(),
        },
        sort_keys=True,
    )


class LinkCache:
    """The links of texts under one linker signature (one SQLite file per signature).

    Args:
        folder: where the cache files live (the embedding cache's folder); created if missing.
        signature: the linker's signature (:func:`linker_signature`).
    """

    def __init__(self, folder: Path, signature: str) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / f"links-{hashlib.sha1(signature.encode()).hexdigest()[:16]}.sqlite"
        self._conn = sqlite3.connect(self.path, timeout=60)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS links (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
        self._conn.execute("CREATE TABLE IF NOT EXISTS meta (signature TEXT NOT NULL)")
        if self._conn.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 0:
            self._conn.execute("INSERT INTO meta (signature) VALUES (?)", (signature,))
        self._conn.commit()

    def get_many(self, texts: Sequence[str]) -> dict[str, list[LinkedSkill]]:
        """The links stored for ``texts``, by text (texts never linked under this signature are absent)."""
        keys = {text_key(t): t for t in texts}
        key_list = list(keys)
        found: dict[str, list[LinkedSkill]] = {}
        for start in range(0, len(key_list), _CHUNK):
            chunk = key_list[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for k, value in self._conn.execute(f"SELECT k, v FROM links WHERE k IN ({marks})", chunk):
                found[keys[k]] = [LinkedSkill(**item) for item in json.loads(value)]
        return found

    def put_many(self, links: dict[str, list[LinkedSkill]]) -> None:
        """Store the links of each text (overwriting what was there)."""
        rows = [(text_key(t), json.dumps([s.to_dict() for s in found])) for t, found in links.items()]
        with self._conn:
            self._conn.executemany("INSERT OR REPLACE INTO links (k, v) VALUES (?, ?)", rows)

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM links").fetchone()[0])

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()


def link_cached(
    linker: SkillLinker, texts: Sequence[str], cache: LinkCache | None, *, progress: ProgressFn | None = None
) -> list[list[LinkedSkill]]:
    """``linker.link(texts)`` (default threshold and top-k), with links kept in ``cache``.

    Texts already in ``cache`` are taken from it and the others' links are stored there. Without a cache this
    is ``linker.link(texts)``.
    """
    if cache is None:
        return linker.link(texts, progress=progress)
    found = cache.get_many(texts)
    todo = list(dict.fromkeys(t for t in texts if t not in found))
    # one linker pass at a time, stored as soon as it is linked: a build that stops keeps what it linked
    for start in range(0, len(todo), LINK_PASS_TEXTS):
        part = todo[start : start + LINK_PASS_TEXTS]
        step = None
        if progress is not None:

            def step(done: int, total: int, start: int = start) -> None:
                progress(start + done, len(todo))

        new = dict(zip(part, linker.link(part, progress=step), strict=True))
        cache.put_many(new)
        found.update(new)
    if not todo and progress is not None:
        progress(len(texts), len(texts))
    return [list(found[t]) for t in texts]
