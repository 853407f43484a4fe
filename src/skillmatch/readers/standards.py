"""Read credentials from any supported source, recognising each file by its content.

:func:`load_credentials` accepts a catalogue file (CSV, TSV, JSONL, JSON array, Parquet: :func:`read_credentials`),
an Open Badges 3.0, ELM/Europass EDC or CTDL document (a single credential, an array of credentials or a CTDL
``@graph``; ``.json`` or ``.jsonld``), or a folder of such files. JSON documents are told apart by content, not
by extension: the ``type`` / ``@type`` and ``@context`` of each object (:func:`detect_standard`); a JSON array of
plain objects is the catalogue's own JSON format. Every source ends in the same validated table
(:data:`~skillmatch.schema.CREDENTIAL_COLUMNS`) and the same rejects (file, record, field, reason).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from skillmatch.readers.credentials import read_credentials
from skillmatch.readers.ctdl import is_ctdl, map_ctdl, records_of
from skillmatch.readers.elm import is_elm, map_elm
from skillmatch.readers.ob3 import is_ob3, map_ob3
from skillmatch.readers.standard_values import MappedRecord, catalogue_table
from skillmatch.readers.tables import FORMATS, read_text, sort_rejects
from skillmatch.schema import CREDENTIAL_COLUMNS, InputError, ReadResult, Reject

logger = logging.getLogger(__name__)

#: File extensions read from a folder of credentials (others are skipped with a warning).
CREDENTIAL_SUFFIXES = frozenset({*FORMATS, ".jsonld"})

_DETECTORS: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
    ("ob3", is_ob3),
    ("elm", is_elm),
    ("ctdl", is_ctdl),
]
_NAMES = {"ob3": "Open Badges 3.0", "elm": "ELM / Europass EDC", "ctdl": "CTDL"}


def detect_standard(doc: Any) -> str | None:
    """``"ob3"``, ``"elm"`` or ``"ctdl"`` for a JSON object of that standard, else None."""
    if not isinstance(doc, dict) or set(doc) <= {"@context"}:
        return None  # not an object, or a JSON-LD context document (no data)
    return next((name for name, test in _DETECTORS if test(doc)), None)


def sniff(path: str | Path) -> str:
    """What a credential file holds: ``"ob3"``, ``"elm"``, ``"ctdl"``, ``"mixed"``, ``"catalogue"`` or ``"context"``.

    ``"context"`` is a JSON-LD context document (only ``@context``, as ``edc-ap-context.jsonld``): no data.

    Raises:
        InputError: the file cannot be read, or is JSON that is neither a standard nor the catalogue format.
    """
    path = Path(path)
    if path.suffix.lower() not in (".json", ".jsonld"):
        return "catalogue"
    doc = _parse(path)
    if isinstance(doc, dict) and set(doc) == {"@context"}:
        return "context"
    items = doc if isinstance(doc, list) else [doc]
    kinds = {detect_standard(item) for item in items}
    if kinds == {None}:
        if isinstance(doc, list) and path.suffix.lower() == ".json":
            return "catalogue"
        raise InputError(
            f"{path}: not a credential document: expected Open Badges 3.0, ELM/EDC or CTDL JSON(-LD) "
            "(recognised by 'type'/'@type' and '@context'), or a JSON array of catalogue rows"
        )
    found = sorted(k for k in kinds if k)
    return found[0] if len(found) == 1 else "mixed"


def _parse(path: Path) -> Any:
    text = read_text(path)
    if not text.strip():
        raise InputError(f"{path}: the file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None


def read_standard(path: str | Path) -> ReadResult:
    """Read an OB 3.0, ELM/EDC or CTDL document (one credential, an array, or a CTDL graph).

    Records are numbered 1 for a single object, else by their position in the array or ``@graph``.
    An array item that is no credential of a known standard, and a record whose values cannot be mapped or
    validated, become rejects.

    Raises:
        InputError: unreadable file, malformed JSON, or no credential of a known standard in it.
    """
    path = Path(path)
    file = str(path)
    doc = _parse(path)
    items = doc if isinstance(doc, list) else [doc]
    records: list[MappedRecord] = []
    rejects: list[Reject] = []
    for pos, item in enumerate(items, start=1):
        kind = detect_standard(item)
        if kind == "ob3":
            records.append(map_ob3(item, pos))
        elif kind == "elm":
            records.extend(map_elm(item, pos))
        elif kind == "ctdl":
            found, problems, graph = records_of(item)
            single = not isinstance(doc, list)
            rejects.extend(Reject(file, row if single else pos, "@type", why) for row, why in problems)
            records.extend(map_ctdl(node, row if single else pos, graph) for row, node in found)
        else:
            what = type(item).__name__ if not isinstance(item, dict) else "an object of no known standard"
            rejects.append(
                Reject(file, pos, "type", f"expected an OB 3.0, ELM/EDC or CTDL credential, got {what}")
            )
    if not records and not rejects:
        raise InputError(f"{path}: no credentials found")
    return catalogue_table(file, records, rejects)


def load_credentials(path: str | Path) -> ReadResult:
    """Read credentials from a catalogue file, a standard's document or a folder of either (see module doc).

    In a folder, files are read in name order; an id used in an earlier file rejects the later record; a file
    that cannot be read at all becomes one reject (row empty) and the others are still read.

    Args:
        path: a file or a folder.

    Returns:
        The credentials with exactly :data:`~skillmatch.schema.CREDENTIAL_COLUMNS` and the rejects.

    Raises:
        InputError: the path is missing; a single file cannot be used; a folder holds no readable credentials.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: not found")
    if not path.is_dir():
        return _load_file(path)
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    skipped = [p.name for p in files if p.suffix.lower() not in CREDENTIAL_SUFFIXES]
    if skipped:
        logger.warning("%s: skipping files that are not credential files: %s", path, ", ".join(skipped))
    tables: list[pd.DataFrame] = []
    rejects: list[Reject] = []
    first: dict[str, str] = {}
    for file in (p for p in files if p.suffix.lower() in CREDENTIAL_SUFFIXES):
        try:
            if sniff(file) == "context":
                logger.warning("%s: skipping a JSON-LD context document (no credential in it)", file)
                continue
            result = _load_file(file)
        except InputError as exc:
            rejects.append(Reject(str(file), None, None, str(exc).removeprefix(f"{file}: ")))
            continue
        rejects.extend(result.rejects)
        keep = []
        for rid in result.table["id"]:
            if rid in first:
                rejects.append(
                    Reject(str(file), None, "id", f"duplicate id {rid!r} (first read from {first[rid]})")
                )
                keep.append(False)
            else:
                first[rid] = str(file)
                keep.append(True)
        tables.append(result.table[keep])
    if not tables:
        detail = f" (first problem: {rejects[0]})" if rejects else ""
        raise InputError(f"{path}: no readable credential files in the folder{detail}")
    table = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0].reset_index(drop=True)
    return ReadResult(table=table[CREDENTIAL_COLUMNS], rejects=sort_rejects(rejects))


def _load_file(path: Path) -> ReadResult:
    kind = sniff(path)
    if kind == "context":
        raise InputError(f"{path}: a JSON-LD context document, not a credential")
    if kind == "catalogue":
        return read_credentials(path)
    logger.info("%s: reading %s credentials", path, _NAMES.get(kind, "mixed-standard"))
    return read_standard(path)
