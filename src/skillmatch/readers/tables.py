"""Read tabular input files and validate their rows.

Shared by the credential, posting and generic-taxonomy readers:

* :func:`read_table` turns a ``.csv``/``.tsv``/``.jsonl``/``.ndjson``/``.json``/``.parquet`` file into a
  :class:`pandas.DataFrame` whose index holds the row number a user sees (see :data:`ROW_NUMBERS`);
* :func:`parse_list` reads list-valued cells;
* :func:`validate_rows` / :func:`validate_records` run a pydantic model over every row and turn validation
  errors into :class:`~skillmatch.schema.Reject` entries, so every input row ends in the table or in the
  rejects.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast, get_args, get_origin

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, field_validator

from skillmatch.schema import InputError, ReadResult, Reject

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

#: How row numbers are counted, per format (1-based, as a user sees them).
ROW_NUMBERS = {
    "csv": "spreadsheet row: the header is row 1, the first data row is row 2 (equals the line number "
    "unless a quoted cell holds line breaks)",
    "jsonl": "line number in the file (blank lines are counted, and skipped)",
    "json": "position of the object in the array (the first object is row 1)",
    "parquet": "position of the row in the file (the first row is row 1)",
}

#: File extensions :func:`read_table` understands, and the format each one means.
FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
}

_UTF8_HINT = (
    "re-save it as UTF-8 (Excel: 'CSV UTF-8 (comma delimited)'; LibreOffice: character set "
    "'Unicode (UTF-8)'; a text editor: encoding 'UTF-8')"
)


# --- small value helpers -----------------------------------------------------------------------------------


def is_missing(value: object) -> bool:
    """Whether a cell holds no value: ``None``, NaN, ``pd.NA``/``NaT`` or a blank string.

    Args:
        value: any cell value.

    Returns:
        True for an absent value. Lists and arrays are never "missing" (an empty list is a value).
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return False


def to_python(value: object) -> object:
    """Turn numpy scalars and arrays into plain Python values (pydantic and json want those)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


_LIST_SPLIT = re.compile(r"[|\r\n]")


def parse_list(value: object) -> list[str]:
    """Read a list-valued cell.

    Accepts a native list (or tuple / numpy array, as parquet gives), a JSON array written as a string
    (``'["a", "b"]'``), or a string whose items are separated by ``|`` or by line breaks (ESCO style).
    Items are trimmed, empty items removed, duplicates removed (first kept) and the order kept.
    Missing values (``None``, NaN, blank) give ``[]``.

    Args:
        value: the cell value.

    Returns:
        The list of items.

    Raises:
        ValueError: the value is neither text nor a list of texts/numbers.
    """
    if isinstance(value, np.ndarray | pd.Series):
        value = value.tolist()
    items: list[str] | None
    if isinstance(value, list | tuple):
        items = [_list_item(v) for v in value]
    elif is_missing(value):
        return []
    elif isinstance(value, str):
        text = value.strip()
        items = None
        if text.startswith("[") and text.endswith("]"):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, list):
                items = [_list_item(v) for v in parsed]
        if items is None:
            items = _LIST_SPLIT.split(text)
    elif isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        items = [_list_item(value)]
    else:
        raise ValueError(f"expected a list or text, got {type(value).__name__}")
    return list(dict.fromkeys(item for item in (i.strip() for i in items) if item))


def _list_item(value: object) -> str:
    value = to_python(value)
    if is_missing(value):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"list items must be text, got {type(value).__name__}: {value!r}")


#: A list-of-strings field for row models; accepts every form :func:`parse_list` does.
StrList = Annotated[list[str], BeforeValidator(parse_list)]


def normalise_key(value: str) -> str:
    """Lower-case, trim and collapse ``-``/``_``/spaces to single spaces (for alias look-ups)."""
    return re.sub(r"[\s_\-]+", " ", value.strip().lower()).strip()


def normalise_header(name: object) -> str:
    """Column names are matched case-insensitively; spaces and hyphens count as underscores."""
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


# --- reading files ------------------------------------------------------------------------------------------


def file_format(path: Path) -> str:
    """The format of a file from its extension (see :data:`FORMATS`).

    Raises:
        InputError: unknown extension.
    """
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(FORMATS)
        raise InputError(f"{path}: unknown file type {path.suffix or '(no extension)'!r}; use one of {known}")
    return fmt


def read_text(path: Path) -> str:
    """Read a whole file as UTF-8 text (a UTF-8 byte-order mark is allowed and removed).

    Raises:
        InputError: the file is missing, unreadable or not UTF-8 (the message says where and how to fix it).
    """
    data = _read_bytes(path)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{path}: the file is UTF-16 encoded, not UTF-8; {_UTF8_HINT}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start : exc.start + 1].hex()
        raise InputError(
            f"{path}: not valid UTF-8 (byte 0x{byte} on line {line}; the file is probably Latin-1 or "
            f"Windows-1252); {_UTF8_HINT}"
        ) from None


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def read_table(path: str | Path, rejects: list[Reject] | None = None) -> pd.DataFrame:
    """Read a table file into a DataFrame, keeping the row numbers a user sees.

    Formats by extension: ``.csv`` and ``.tsv`` (UTF-8, header row), ``.jsonl``/``.ndjson`` (one JSON object
    per line), ``.json`` (an array of objects) and ``.parquet``. Column names are normalised (trimmed,
    lower-case, spaces and hyphens to ``_``). CSV cells are kept as strings (``""`` when empty); JSON and
    parquet values keep their types (missing keys are NaN).

    The index (named ``row``) holds the row number of each record as described in :data:`ROW_NUMBERS`.

    Args:
        path: the file.
        rejects: where to append records that cannot be read at all (a malformed JSON line, a JSON value
            that is not an object, a CSV row with more cells than the header). When ``None``, such a record
            raises :class:`InputError` instead.

    Returns:
        The table, one row per readable record.

    Raises:
        InputError: missing/unreadable file, not UTF-8, unknown extension, empty file or no data rows,
            malformed JSON document, duplicate column names.
    """
    path = Path(path)
    fmt = file_format(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    bad: list[Reject] = []
    if fmt == "parquet":
        frame = _read_parquet(path)
    else:
        text = read_text(path)
        if not text.strip():
            raise InputError(f"{path}: the file is empty")
        if fmt in ("csv", "tsv"):
            frame = _read_delimited(path, text, "\t" if fmt == "tsv" else ",", bad)
        elif fmt == "jsonl":
            frame = _read_jsonl(path, text, bad)
        else:
            frame = _read_json(path, text, bad)
    if bad and (rejects is None or frame.columns.empty):
        first = str(bad[0])
        raise InputError(first if rejects is None else f"{path}: no readable rows (first problem: {first})")
    if rejects is not None:
        rejects.extend(bad)
    if frame.empty and not bad:
        raise InputError(f"{path}: no data rows")
    frame.index.name = "row"
    return frame


def _unique_headers(path: Path, names: Iterable[object]) -> list[str]:
    headers = [normalise_header(n) for n in names]
    seen: dict[str, int] = {}
    for pos, name in enumerate(headers, start=1):
        if name and name in seen:
            raise InputError(f"{path}: column {name!r} appears twice (columns {seen[name]} and {pos})")
        seen[name] = pos
    return headers


def _read_delimited(path: Path, text: str, delimiter: str, bad: list[Reject]) -> pd.DataFrame:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = list(reader)
    except csv.Error as exc:
        raise InputError(f"{path}: cannot be parsed as CSV near line {reader.line_num}: {exc}") from None
    header_at = next((i for i, rec in enumerate(records) if any(c.strip() for c in rec)), None)
    if header_at is None:
        raise InputError(f"{path}: the file is empty")
    headers = _unique_headers(path, records[header_at])
    width = len(headers)
    rows: list[int] = []
    data: list[list[str]] = []
    for i in range(header_at + 1, len(records)):
        rec = records[i]
        row = i + 1
        if not any(c.strip() for c in rec):
            if len(rec) > 1:  # separators but no values: a row that lost its data, not a blank line
                bad.append(Reject(str(path), row, None, "row has only empty cells"))
            continue  # a blank line holds no data
        if len(rec) > width:
            extra = [c for c in rec[width:] if c.strip()]
            if extra:
                bad.append(
                    Reject(
                        str(path),
                        row,
                        None,
                        f"row has {len(rec)} cells but the header has {width} columns "
                        "(an unquoted separator or a missing quote?)",
                    )
                )
                continue
            rec = rec[:width]
        rows.append(row)
        data.append(rec + [""] * (width - len(rec)))
    frame = pd.DataFrame(data, columns=headers, index=pd.Index(rows, dtype="int64"), dtype=object)
    named = [h for h in headers if h]
    if len(named) < len(headers):
        nameless = [pos for pos, h in enumerate(headers, start=1) if not h]
        if frame.iloc[:, [p - 1 for p in nameless]].map(lambda v: bool(v.strip())).any().any():
            raise InputError(f"{path}: column(s) {nameless} have values but no name in the header row")
        frame = frame.loc[:, [bool(h) for h in headers]]
    return frame


def _records_frame(path: Path, rows: list[int], records: list[dict[str, Any]]) -> pd.DataFrame:
    keys: dict[str, str] = {}
    normalised: list[dict[str, Any]] = []
    for row, rec in zip(rows, records, strict=True):
        out: dict[str, Any] = {}
        for key, value in rec.items():
            name = normalise_header(key)
            if name in out:
                raise InputError(
                    f"{path}, row {row}: key {key!r} appears twice (as {keys.get(name, name)!r})"
                )
            keys.setdefault(name, str(key))
            out[name] = value
        normalised.append(out)
    columns = list(dict.fromkeys(k for rec in normalised for k in rec))
    return pd.DataFrame(normalised, columns=columns, index=pd.Index(rows, dtype="int64"), dtype=object)


def _read_jsonl(path: Path, text: str, bad: list[Reject]) -> pd.DataFrame:
    rows: list[int] = []
    records: list[dict[str, Any]] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = _loads(line)
        except ValueError as exc:
            bad.append(Reject(str(path), line_no, None, f"malformed JSON line: {exc}"))
            continue
        if not isinstance(value, dict):
            bad.append(
                Reject(str(path), line_no, None, f"expected a JSON object, got {type(value).__name__}")
            )
            continue
        if (reject := _non_finite_reject(path, line_no, value)) is not None:
            bad.append(reject)
            continue
        rows.append(line_no)
        records.append(value)
    return _records_frame(path, rows, records)


class _NonFinite:
    """Stands for a ``NaN``, ``Infinity`` or ``-Infinity`` literal found while parsing JSON."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _loads(text: str) -> Any:
    """Parse JSON, keeping its non-standard ``NaN``/``Infinity`` literals as :class:`_NonFinite` markers.

    Python's parser reads them as floats, and a NaN cost would then pass for a missing one (unknown): such a
    record is rejected instead (:func:`_non_finite_reject`).
    """
    return json.loads(text, parse_constant=_NonFinite)


def _find_non_finite(value: object, where: str = "") -> tuple[str, str] | None:
    """Where (``cost``, ``prices[2].amount``) the first :class:`_NonFinite` marker in ``value`` is, and its literal."""
    if isinstance(value, _NonFinite):
        return where, value.literal
    if isinstance(value, dict):
        items: Iterable[tuple[str, object]] = (
            (f"{where}.{normalise_header(k)}" if where else normalise_header(k), v) for k, v in value.items()
        )
    elif isinstance(value, list):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for place, item in items:
        if (found := _find_non_finite(item, place)) is not None:
            return found
    return None


def _non_finite_reject(path: Path, row: int, record: dict[str, Any]) -> Reject | None:
    """A reject naming the field of a record that holds ``NaN`` or ``Infinity`` (anywhere inside), else None."""
    found = _find_non_finite(record)
    if found is None:
        return None
    place, literal = found
    field = re.split(r"[.\[]", place, maxsplit=1)[0]
    at = "" if place == field else f" (at {place})"
    return Reject(
        str(path),
        row,
        field,
        f"{literal} is not a number: JSON has no {literal}; leave the key out or write null for an unknown "
        f"value{at}",
    )


def _read_json(path: Path, text: str, bad: list[Reject]) -> pd.DataFrame:
    try:
        value = _loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(value, list):
        raise InputError(
            f"{path}: expected a JSON array of objects, got a {type(value).__name__}"
            " (for one object per line use the .jsonl extension)"
        )
    rows: list[int] = []
    records: list[dict[str, Any]] = []
    for pos, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            bad.append(Reject(str(path), pos, None, f"expected a JSON object, got {type(item).__name__}"))
            continue
        if (reject := _non_finite_reject(path, pos, item)) is not None:
            bad.append(reject)
            continue
        rows.append(pos)
        records.append(item)
    return _records_frame(path, rows, records)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path, dtype_backend="numpy_nullable")
    except Exception as exc:  # pyarrow raises several unrelated types for bad files
        raise InputError(f"{path}: cannot be read as parquet ({exc})") from None
    if frame.columns.size == 0:
        raise InputError(f"{path}: the file is empty")
    frame = frame.astype(object)
    frame.columns = _unique_headers(path, frame.columns)
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame


def require_columns(
    frame: pd.DataFrame, file: str | Path, required: Sequence[str], any_of: Sequence[Sequence[str]] = ()
) -> None:
    """Check that the columns a reader needs are there.

    Args:
        frame: the table from :func:`read_table`.
        file: the file name for the message.
        required: columns that must all be present.
        any_of: groups of columns of which at least one must be present.

    Raises:
        InputError: naming the file and the missing columns.
    """
    have = set(frame.columns)
    missing = [c for c in required if c not in have]
    problems = []
    if missing:
        problems.append("missing required column(s): " + ", ".join(missing))
    for group in any_of:
        if not have.intersection(group):
            problems.append("needs at least one of the columns: " + ", ".join(group))
    if problems:
        found = ", ".join(str(c) for c in frame.columns) or "(none)"
        raise InputError(f"{file}: {'; '.join(problems)} (found: {found})")


# --- row validation ----------------------------------------------------------------------------------------


class RowModel(BaseModel):
    """Base of the per-row pydantic models: trims strings, turns numeric ids into strings, no inf/NaN.

    Text with a NUL character is refused (a sign of a broken or binary file); the other control characters
    (C0 codes but tab, newline and carriage return, and DEL) become spaces: scraped postings carry stray ones
    (SkillSpan has U+001A), and they would otherwise travel into titles, pages and exports.
    """

    model_config = ConfigDict(
        extra="ignore", str_strip_whitespace=True, coerce_numbers_to_str=True, allow_inf_nan=False
    )

    @field_validator("*", mode="before")
    @classmethod
    def _control_characters(cls, value: object) -> object:
        if isinstance(value, list):
            return [_clean_text(v) for v in value]
        return _clean_text(value)


def _clean_text(value: object) -> object:
    if not isinstance(value, str):
        return value
    if "\x00" in value:
        raise ValueError("text holds a NUL character (U+0000): a broken or binary file?")
    return _CONTROL.sub(" ", value) if _CONTROL.search(value) else value


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


_MESSAGES = {
    "missing": "required value is missing or empty",
    "string_type": "expected text",
}


def _reason(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    message = _MESSAGES.get(kind) or str(error.get("msg", "invalid value"))
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    if kind != "missing" and "input" in error:
        shown = repr(error["input"])
        if len(shown) > 80:
            shown = shown[:77] + "..."
        message = f"{message} (got {shown})"
    return message


def validation_rejects(error: ValidationError, file: str, row: int | None) -> list[Reject]:
    """One reject per pydantic error, the field taken from the error location."""
    out = []
    for detail in error.errors(include_url=False):
        loc = detail.get("loc") or ()
        field = str(loc[0]) if loc else None
        out.append(Reject(file, row, field, _reason(detail)))
    return out


def validate_records(
    frame: pd.DataFrame, model: type[M], file: str, id_field: str | None = "id"
) -> tuple[list[tuple[int, M]], list[Reject]]:
    """Validate each row of ``frame`` with ``model``.

    Blank values are treated as absent (so a required field reports "missing"), numpy values become Python
    values, and columns that are not model fields are ignored. With ``id_field``, a second row with an id
    already seen (among valid rows) is rejected, naming the row of the first.

    Args:
        frame: a table from :func:`read_table` (index = row numbers).
        model: the pydantic row model.
        file: the file name used in rejects.
        id_field: the unique key field, or ``None``.

    Returns:
        ``(row number, model)`` pairs of the valid rows, in input order, and the rejects.
    """
    fields = [c for c in frame.columns if c in model.model_fields]
    good: list[tuple[int, M]] = []
    rejects: list[Reject] = []
    first_row: dict[str, int] = {}
    sub = frame[fields]
    for row, values in zip(sub.index, sub.itertuples(index=False, name=None), strict=True):
        data = {}
        for name, value in zip(fields, values, strict=True):
            value = to_python(value)
            if isinstance(value, list) or not is_missing(value):
                data[name] = value
        try:
            item = model.model_validate(data)
        except ValidationError as exc:
            rejects.extend(validation_rejects(exc, file, int(row)))
            continue
        if id_field is not None:
            key = getattr(item, id_field)
            if key in first_row:
                rejects.append(
                    Reject(
                        file, int(row), id_field, f"duplicate id {key!r} (first used on row {first_row[key]})"
                    )
                )
                continue
            first_row[key] = int(row)
        good.append((int(row), item))
    return good, rejects


def to_frame(
    items: Iterable[BaseModel], columns: Sequence[str], dtypes: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Dump models into a table with exactly ``columns`` (in order).

    Columns named in ``dtypes`` get that dtype; list-valued columns stay ``object`` (lists); every other
    column is text (pandas ``str`` dtype, NaN where absent).
    """
    dtypes = dict(dtypes or {})
    records = [item.model_dump(mode="json") for item in items]
    frame = pd.DataFrame(records, columns=list(columns))
    for column in frame.columns:
        values = frame[column]
        if column in dtypes:
            # pandas takes any dtype name; its stubs only list literal names
            frame[column] = values.astype(cast("Any", dtypes[column]))
        elif values.empty or not any(isinstance(v, list) for v in values):
            frame[column] = values.astype("str")
    return frame


def model_dtypes(model: type[BaseModel]) -> dict[str, str]:
    """Output dtypes for a row model's fields: lists -> object, float -> float64, int -> Int64, else str."""
    out = {}
    for name, info in model.model_fields.items():
        kinds = {a for a in (get_args(info.annotation) or (info.annotation,)) if a is not type(None)}
        if kinds == {float}:
            out[name] = "float64"
        elif kinds == {int}:
            out[name] = "Int64"
        elif info.annotation == list[str] or get_origin(info.annotation) is list:
            out[name] = "object"
        else:
            out[name] = "str"
    return out


def sort_rejects(rejects: Iterable[Reject]) -> list[Reject]:
    """Rejects ordered by file then row (whole-file notes first)."""
    return sorted(rejects, key=lambda r: (r.file, -1 if r.row is None else r.row))


def validate_rows(
    frame: pd.DataFrame,
    model: type[BaseModel],
    file: str,
    columns: Sequence[str],
    *,
    id_field: str | None = "id",
    dtypes: Mapping[str, str] | None = None,
    rejects: Iterable[Reject] = (),
) -> ReadResult:
    """Validate every row of ``frame`` and build the output table (see :func:`validate_records`).

    Args:
        frame: a table from :func:`read_table`.
        model: pydantic row model whose fields are ``columns``.
        file: the file name used in rejects.
        columns: the output columns, in order.
        id_field: the unique key field, or ``None``.
        dtypes: dtypes to apply to output columns.
        rejects: rejects found earlier (e.g. by :func:`read_table`), merged into the result.

    Returns:
        The valid rows as a table with exactly ``columns`` and all rejects, ordered by row.
    """
    good, bad = validate_records(frame, model, file, id_field)
    table = to_frame((item for _, item in good), columns, {**model_dtypes(model), **(dtypes or {})})
    return ReadResult(table=table, rejects=sort_rejects([*rejects, *bad]))


def log_ignored_columns(frame: pd.DataFrame, known: Iterable[str], file: str) -> list[str]:
    """Log (at warning level) and return the columns of ``frame`` that a reader does not use."""
    known_set = set(known)
    ignored = [c for c in frame.columns if c not in known_set]
    if ignored:
        logger.warning("%s: ignoring unknown column(s): %s", file, ", ".join(ignored))
    return ignored
