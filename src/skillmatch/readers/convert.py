"""Write a credential table in the catalogue's own formats (CSV, JSONL, Parquet), readable by the reader again.

``skillmatch convert credentials IN --to csv`` uses it to turn Open Badges 3.0, ELM/EDC or CTDL documents (or any
catalogue file) into the format of docs/data-formats.md: list columns are written as JSON arrays in CSV cells
(an item may then hold ``|``), natively in JSONL and Parquet; absent values are empty cells, JSON ``null`` or
Parquet nulls.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from skillmatch.schema import CREDENTIAL_COLUMNS

#: Output formats of :func:`write_catalogue`.
CATALOGUE_FORMATS = ("csv", "jsonl", "parquet")


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, list):
        return value.item()
    return value


def catalogue_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a credential table as plain JSON-ready dicts (lists stay lists, absent values are None)."""
    return [
        {
            c: (list(row[c]) if isinstance(row[c], list | tuple) else _plain(row[c]))
            for c in CREDENTIAL_COLUMNS
        }
        for row in table[CREDENTIAL_COLUMNS].to_dict(orient="records")
    ]


def catalogue_text(table: pd.DataFrame, fmt: str) -> str:
    """The table as CSV or JSONL text.

    Raises:
        ValueError: ``fmt`` is not ``csv`` or ``jsonl``.
    """
    records = catalogue_records(table)
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if fmt != "csv":
        raise ValueError(f"unknown text format {fmt!r}; use csv or jsonl")
    cells = [
        {
            k: (json.dumps(v, ensure_ascii=False) if v else "")
            if isinstance(v, list)
            else ("" if v is None else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)))
            for k, v in r.items()
        }
        for r in records
    ]
    return pd.DataFrame(cells, columns=CREDENTIAL_COLUMNS).to_csv(index=False, lineterminator="\n")


def write_catalogue(table: pd.DataFrame, path: str | Path, fmt: str) -> Path:
    """Write the credential table to ``path`` as ``csv``, ``jsonl`` or ``parquet``.

    Raises:
        ValueError: unknown format.
    """
    path = Path(path)
    if fmt not in CATALOGUE_FORMATS:
        raise ValueError(f"unknown catalogue format {fmt!r}; use one of {', '.join(CATALOGUE_FORMATS)}")
    if fmt == "parquet":
        pd.DataFrame(catalogue_records(table), columns=CREDENTIAL_COLUMNS).to_parquet(path, index=False)
    else:
        path.write_text(catalogue_text(table, fmt), encoding="utf-8")
    return path
