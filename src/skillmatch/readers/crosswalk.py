"""The ESCO–O*NET crosswalk: which ESCO occupation each O*NET-SOC occupation corresponds to, and how closely.

The official file (ESCO Secretariat with the U.S. Department of Labor, ``esco_onet_crosswalk.csv``) is a CSV with
a preamble of 16 lines before its header row ``O*NET Id,O*NET Title,O*NET Description,ESCO or ISCO URI,ESCO or
ISCO Title,ESCO or ISCO Description,Type of Match``. Each row links one O*NET-SOC code (``15-2051.00``) to one
ESCO occupation URI (or, for ``exactISCO``, an ISCO group URI) with a SKOS match type: ``exactMatch``,
``closeMatch``, ``broadMatch`` or ``narrowMatch``.

:func:`read_crosswalk` reads the file; :func:`crosswalk_for` turns it into the lookup a role catalogue uses to
find a role asked for in the other taxonomy (docs/data-formats.md, "ESCO–O*NET crosswalk").
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection
from pathlib import Path

import pandas as pd

from skillmatch.schema import InputError

#: The columns :func:`read_crosswalk` needs, and the names it gives them.
CROSSWALK_FIELDS = {"O*NET Id": "onet_code", "ESCO or ISCO URI": "esco_uri", "Type of Match": "match"}
#: The title columns :func:`read_crosswalk` adds with ``titles=True``.
TITLE_FIELDS = {"O*NET Title": "onet_title", "ESCO or ISCO Title": "esco_title"}

#: Match types from best to worst: a crosswalked role lookup prefers them in this order (any other type, such
#: as ``exactISCO``, comes after them).
MATCH_ORDER = ("exactMatch", "closeMatch", "narrowMatch", "broadMatch")

#: A crosswalk lookup: a code or URI of the other taxonomy -> ``(role id, match type)``, best match first.
Crosswalk = dict[str, list[tuple[str, str]]]

_HEADER_START = "O*NET Id,"
_SOC_WITHOUT_SUFFIX = re.compile(r"\d{2}-\d{4}")


def read_crosswalk(path: str | Path, *, titles: bool = False) -> pd.DataFrame:
    """The ESCO–O*NET crosswalk as ``onet_code, esco_uri, match`` (the file's preamble skipped).

    Args:
        path: The crosswalk CSV (UTF-8, with or without a byte-order mark).
        titles: Also return ``onet_title`` and ``esco_title``.

    Returns:
        One row per row of the file, in file order, values stripped; match types as the file has them.

    Raises:
        InputError: The file is missing, has no header row, lacks a column, or a row lacks a code, URI or match
            type (the message names file, row and field; rows are lines of the file, 1-based).

    Examples:
        >>> walk = read_crosswalk("../shared/data/crosswalks/esco_onet_crosswalk.csv")  # doctest: +SKIP
        >>> walk[walk["onet_code"] == "15-2051.00"].head(1).values.tolist()             # doctest: +SKIP
        [['15-2051.00', 'http://data.europa.eu/esco/occupation/258e46f9-...', 'exactMatch']]
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: crosswalk file not found")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        lines = handle.read().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(_HEADER_START)), None)
    if start is None:
        raise InputError(f"{path}: no header row starting with 'O*NET Id,' (field O*NET Id)")
    reader = csv.DictReader(lines[start:])
    header = reader.fieldnames or []
    fields = {**CROSSWALK_FIELDS, **(TITLE_FIELDS if titles else {})}
    for name in fields:
        if name not in header:
            raise InputError(f"{path}, row {start + 1} [{name}]: column missing")
    rows: list[tuple[str, ...]] = []
    for record in reader:
        values = tuple((record.get(name) or "").strip() for name in fields)
        if not any(values):
            continue  # a blank line
        for name, value in zip(CROSSWALK_FIELDS, values, strict=False):
            if not value:
                raise InputError(f"{path}, row {start + reader.line_num} [{name}]: empty")
        rows.append(values)
    return pd.DataFrame(rows, columns=list(fields.values()))


def crosswalk_key(text: str) -> str:
    """The crosswalk key of a query: stripped, and an O*NET-SOC code without its suffix given ``.00``.

    >>> crosswalk_key(" 15-2051 ")
    '15-2051.00'
    >>> crosswalk_key("http://data.europa.eu/esco/occupation/258e46f9-0075-4a2e-adae-1ff0477e0f30")[-12:]
    '1ff0477e0f30'
    """
    text = text.strip()
    return f"{text}.00" if _SOC_WITHOUT_SUFFIX.fullmatch(text) else text


def match_rank(match: str) -> int:
    """Position of a match type in :data:`MATCH_ORDER` (other types after them all)."""
    return MATCH_ORDER.index(match) if match in MATCH_ORDER else len(MATCH_ORDER)


def crosswalk_for(walk: pd.DataFrame, role_ids: Collection[str]) -> Crosswalk:
    """The crosswalk as a lookup into a bundle's roles, in whichever direction the bundle needs.

    A row ``(code, uri, match)`` maps ``code`` to ``uri`` when ``uri`` is one of ``role_ids`` (an ESCO bundle)
    and ``uri`` to ``code`` when ``code`` is (an O*NET bundle); rows whose target is not a role are left out.
    The match type is the file's in both directions (it is not inverted for ESCO -> O*NET). A key linked to
    the same role twice keeps the better type; each key's targets are sorted best match first, then by id.

    Args:
        walk: :func:`read_crosswalk`'s frame.
        role_ids: The ids of the bundle's roles.

    Returns:
        Key (O*NET-SOC code or ESCO/ISCO URI) -> ``[(role id, match type), ...]``.

    >>> walk = pd.DataFrame(
    ...     [("15-2051.00", "esco:ds", "exactMatch"), ("15-2051.00", "esco:da", "closeMatch")],
    ...     columns=["onet_code", "esco_uri", "match"],
    ... )
    >>> crosswalk_for(walk, {"esco:ds", "esco:da"})
    {'15-2051.00': [('esco:ds', 'exactMatch'), ('esco:da', 'closeMatch')]}
    >>> crosswalk_for(walk, {"15-2051.00"})
    {'esco:ds': [('15-2051.00', 'exactMatch')], 'esco:da': [('15-2051.00', 'closeMatch')]}
    """
    known = set(role_ids)
    best: dict[str, dict[str, str]] = {}
    for code, uri, match in zip(walk["onet_code"], walk["esco_uri"], walk["match"], strict=True):
        for key, target in ((str(code), str(uri)), (str(uri), str(code))):
            if target not in known:
                continue
            targets = best.setdefault(key, {})
            if target not in targets or match_rank(match) < match_rank(targets[target]):
                targets[target] = str(match)
    return {
        key: sorted(targets.items(), key=lambda item: (match_rank(item[1]), item[0]))
        for key, targets in best.items()
    }
