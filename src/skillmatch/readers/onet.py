"""Read the O*NET database (text files, and ``Skills.xlsx``) as a taxonomy: occupations, skills, technologies.

A folder is read file by file; each file is recognised by its **header**, not its name (see
:data:`FILE_KINDS`): occupations (``O*NET-SOC Code, Title, Description``), alternate titles, task statements,
technology skills and element ratings (``Skills``; ``Knowledge`` and ``Abilities`` have the same columns), as
tab-separated text (``.txt``/``.tsv``) or Excel (``.xlsx``, read with openpyxl). Files of no known header are
skipped with a warning.

* occupations: the O*NET-SOC code is the id, ``Title`` the label, ``Alternate Title`` (and ``Short Title``) the
  alternative labels; the description gets the occupation's tasks appended (``Tasks: ...``; supplemental
  tasks are left out);
* element ratings: each element (``Element ID`` such as ``2.A.1.a``) is a concept labelled ``Element Name``,
  under a group of the O*NET content model (:data:`ELEMENT_GROUPS`); each occupation's importance (scale ``IM``,
  1–5) becomes a relation of weight ``(IM - 1) / 4``, ``essential`` from ``IM >= 3`` ("important") on, else
  ``optional``; a level rating (``LV``) marked ``Not Relevant = Y`` drops the relation;
* technology skills: each distinct ``Example`` (``Python``, ``Microsoft Excel``) is a concept under its
  commodity (a group); a relation per occupation, ``optional``, of weight ``0.25``, plus ``0.25`` when the
  example is a *Hot Technology* and ``0.25`` when it is *In Demand* for that occupation; both flags are also kept
  in the concept's description.

Every row that cannot be used is a reject naming file, row, field and reason (spreadsheet rows: header = 1).
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from skillmatch.readers.generic import PATH_SEPARATOR
from skillmatch.readers.tables import sort_rejects
from skillmatch.schema import (
    CONCEPT_COLUMNS,
    GROUP_COLUMNS,
    OCCUPATION_COLUMNS,
    RELATION_COLUMNS,
    InputError,
    Reject,
    Taxonomy,
)

logger = logging.getLogger(__name__)

CODE = "O*NET-SOC Code"

#: The kinds of O*NET file and the header columns that identify each (checked in this order).
FILE_KINDS: dict[str, tuple[str, ...]] = {
    "ratings": (CODE, "Element ID", "Element Name", "Scale ID", "Data Value"),
    "technology": (CODE, "Example", "Commodity Code", "Commodity Title"),
    "tasks": (CODE, "Task ID", "Task"),
    "alternate_titles": (CODE, "Alternate Title"),
    "occupations": (CODE, "Title", "Description"),
}

#: Top groups of the O*NET content model, by element id prefix (longest prefix first).
ELEMENT_GROUPS: dict[str, str] = {
    "2.A": "Basic Skills",
    "2.B": "Cross-Functional Skills",
    "2.C": "Knowledge",
    "1.A": "Abilities",
}
#: Group of the technology skills (commodities sit under it).
TECHNOLOGY_GROUP = "onet:technology"

#: Importance from which an element counts as essential for an occupation (O*NET: 3 = "Important").
ESSENTIAL_IMPORTANCE = 3.0
#: Weight of a technology relation, and what Hot Technology and In Demand add to it.
TECHNOLOGY_WEIGHT, HOT_BONUS, IN_DEMAND_BONUS = 0.25, 0.25, 0.25

_SUFFIXES = (".txt", ".tsv", ".xlsx")

#: Keeps the rows of a file whose occupation code is known (rejecting the others).
KnownCodes = Callable[[Path, pd.DataFrame], "pd.Series[bool]"]
_VERSION = re.compile(r"(\d+[._]\d+)")


@dataclass(frozen=True)
class OnetFile:
    """One recognised O*NET file."""

    path: Path
    kind: str


def _header(path: Path) -> list[str]:
    """The column names of a text or Excel file (empty when unreadable)."""
    try:
        if path.suffix.lower() == ".xlsx":
            import openpyxl

            book = openpyxl.load_workbook(path, read_only=True)
            try:
                first = next(book.worksheets[0].iter_rows(max_row=1, values_only=True), ())
            finally:
                book.close()
            return [str(c).strip() for c in first if c is not None]
        with path.open(encoding="utf-8-sig") as handle:
            return [c.strip() for c in handle.readline().rstrip("\r\n").split("\t")]
    except (OSError, UnicodeDecodeError, ValueError, KeyError):
        return []
    except Exception as exc:  # openpyxl raises its own errors on a broken workbook
        logger.warning("%s: cannot read the header (%s)", path, exc)
        return []


def kind_of(path: Path) -> str | None:
    """The :data:`FILE_KINDS` key of an O*NET file, recognised by its header, else None."""
    columns = set(_header(path))
    return next((kind for kind, needed in FILE_KINDS.items() if set(needed) <= columns), None)


def onet_files(folder: str | Path) -> list[OnetFile]:
    """The O*NET files of a folder, in name order (files of no known header are left out)."""
    found = []
    for path in sorted(Path(folder).iterdir()):
        if path.is_file() and path.suffix.lower() in _SUFFIXES:
            kind = kind_of(path)
            if kind:
                found.append(OnetFile(path, kind))
    return found


def is_onet(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding an O*NET occupations file (recognised by its header)."""
    path = Path(path)
    return path.is_dir() and any(f.kind == "occupations" for f in onet_files(path))


def _read(path: Path, needed: Iterable[str]) -> pd.DataFrame:
    """A file as strings ("" when empty), index = spreadsheet row (header = 1), needed columns checked."""
    try:
        if path.suffix.lower() == ".xlsx":
            frame = pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")
        else:
            frame = pd.read_csv(
                path, sep="\t", dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE, encoding="utf-8-sig"
            )
    except UnicodeDecodeError:
        raise InputError(f"{path}: not valid UTF-8; re-save it as UTF-8") from None
    except Exception as exc:  # pandas/openpyxl parser errors
        raise InputError(f"{path}: cannot be read ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputError(f"{path}, row 1: missing column(s) {', '.join(missing)}")
    frame = frame.apply(lambda col: col.str.strip())
    frame.index = pd.RangeIndex(2, len(frame) + 2)
    return frame


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def onet_version(path: Path) -> str:
    """The database version from the folder name (``29.2``, ``db_29_2_text`` -> ``29.2``), else ``unknown``."""
    for name in (path.name, *reversed(path.resolve().parts)):
        match = _VERSION.search(name)
        if match:
            return match.group(1).replace("_", ".")
    return "unknown"


def _element_group(element: str) -> str | None:
    return next((prefix for prefix in ELEMENT_GROUPS if element.startswith(prefix + ".")), None)


def read_onet(path: str | Path) -> tuple[Taxonomy, list[Reject]]:
    """Read an O*NET database folder as a taxonomy (see the module doc for the mapping).

    Args:
        path: the folder of the O*NET text files (and/or ``Skills.xlsx``).

    Returns:
        The taxonomy (name ``"O*NET"``, version from the folder name) and the rejects: occupation rows without
        code or title, duplicate codes, rows of the other files whose code is not an occupation, element rows
        with an empty id/name, ratings that are not numbers or outside the scale, unknown scales, repeated
        ratings, and technology rows without an example.

    Raises:
        InputError: the folder has no occupations file, or a file cannot be read.
    """
    folder = Path(path)
    files = onet_files(folder)
    by_kind: dict[str, list[Path]] = {}
    for f in files:
        by_kind.setdefault(f.kind, []).append(f.path)
    if "occupations" not in by_kind:
        raise InputError(
            f"{folder}: no O*NET occupations file (a tab-separated file with the columns {CODE}, Title, "
            "Description)"
        )
    rejects: list[Reject] = []

    # occupations
    occupations: dict[str, dict[str, object]] = {}
    for file in by_kind["occupations"]:
        frame = _read(file, FILE_KINDS["occupations"])
        for row, code, title, description in zip(
            frame.index, frame[CODE], frame["Title"], frame["Description"], strict=True
        ):
            if not code or not title:
                field = CODE if not code else "Title"
                rejects.append(Reject(str(file), int(row), field, "required value is missing or empty"))
            elif code in occupations:
                first = occupations[code]["_where"]
                rejects.append(
                    Reject(str(file), int(row), CODE, f"duplicate id {code!r} (first used on {first})")
                )
            else:
                occupations[code] = {
                    "id": code,
                    "label": title,
                    "alt_labels": [],
                    "description": description or None,
                    "isco_group": None,
                    "_where": f"{file.name} row {row}",
                    "_tasks": [],
                }

    def known(file: Path, frame: pd.DataFrame) -> pd.Series[bool]:
        ok = frame[CODE].isin(occupations.keys())
        for row, code in zip(frame.index[~ok], frame[CODE][~ok], strict=True):
            rejects.append(
                Reject(
                    str(file),
                    int(row),
                    CODE,
                    f"unknown occupation code {code!r} (not in the occupations file)",
                )
            )
        return ok

    for file in by_kind.get("alternate_titles", []):
        frame = _read(file, FILE_KINDS["alternate_titles"])
        frame = frame[known(file, frame)]
        shorts = frame["Short Title"] if "Short Title" in frame.columns else pd.Series("", index=frame.index)
        for code, title, short in zip(frame[CODE], frame["Alternate Title"], shorts, strict=True):
            occ = occupations[code]
            alts = occ["alt_labels"]
            assert isinstance(alts, list)
            for text in (title, short):
                if text and text.lower() != "n/a" and text != occ["label"] and text not in alts:
                    alts.append(text)

    for file in by_kind.get("tasks", []):
        frame = _read(file, FILE_KINDS["tasks"])
        frame = frame[known(file, frame)]
        types = frame["Task Type"] if "Task Type" in frame.columns else pd.Series("Core", index=frame.index)
        for code, task, kind in zip(frame[CODE], frame["Task"], types, strict=True):
            if task and kind.lower() != "supplemental":  # core tasks, and those not typed ("n/a")
                tasks = occupations[code]["_tasks"]
                assert isinstance(tasks, list)
                tasks.append(task)

    concepts: dict[str, dict[str, object]] = {}
    groups: dict[str, str] = {}
    relations: dict[tuple[str, str], dict[str, object]] = {}

    for file in by_kind.get("ratings", []):
        _read_ratings(file, known, concepts, groups, relations, rejects)
    for file in by_kind.get("technology", []):
        _read_technology(file, known, concepts, groups, relations, rejects)

    occupation_rows = []
    for occ in occupations.values():
        tasks = occ.pop("_tasks")
        occ.pop("_where")
        if tasks:
            assert isinstance(tasks, list)
            occ["description"] = f"{occ['description'] or ''} Tasks: {' '.join(tasks)}".strip()
        occupation_rows.append(occ)
    relation_rows = [r for r in relations.values() if not r.pop("_dropped", False)]
    taxonomy = Taxonomy(
        name="O*NET",
        version=onet_version(folder),
        concepts=pd.DataFrame(list(concepts.values()), columns=CONCEPT_COLUMNS),
        occupations=pd.DataFrame(occupation_rows, columns=OCCUPATION_COLUMNS),
        relations=pd.DataFrame(relation_rows, columns=RELATION_COLUMNS).astype({"weight": float}),
        groups=pd.DataFrame(list(groups.items()), columns=GROUP_COLUMNS),
    )
    return taxonomy, sort_rejects(rejects)


def _read_ratings(
    file: Path,
    known: KnownCodes,
    concepts: dict[str, dict[str, object]],
    groups: dict[str, str],
    relations: dict[tuple[str, str], dict[str, object]],
    rejects: list[Reject],
) -> None:
    """Elements as concepts, importance ratings as weighted relations (``Not Relevant`` level drops one)."""
    frame = _read(file, FILE_KINDS["ratings"])
    frame = frame[known(file, frame)]
    irrelevant = (
        frame["Not Relevant"] if "Not Relevant" in frame.columns else pd.Series("", index=frame.index)
    )
    for row, code, element, name, scale, value, not_relevant in zip(
        frame.index,
        frame[CODE],
        frame["Element ID"],
        frame["Element Name"],
        frame["Scale ID"],
        frame["Data Value"],
        irrelevant,
        strict=True,
    ):
        where = (str(file), int(row))
        if not element or not name:
            rejects.append(
                Reject(
                    *where,
                    "Element ID" if not element else "Element Name",
                    "required value is missing or empty",
                )
            )
            continue
        if scale not in ("IM", "LV"):
            rejects.append(
                Reject(*where, "Scale ID", f"unknown scale {scale!r}; expected IM (importance) or LV (level)")
            )
            continue
        try:
            number = float(value)
        except ValueError:
            rejects.append(Reject(*where, "Data Value", f"not a number: {value!r}"))
            continue
        low, high = (1.0, 5.0) if scale == "IM" else (0.0, 7.0)
        if not low <= number <= high:
            rejects.append(Reject(*where, "Data Value", f"{scale} rating {number} outside {low:g}-{high:g}"))
            continue
        if element not in concepts:
            prefix = _element_group(element)
            group_label = ELEMENT_GROUPS.get(prefix or "")
            if prefix and group_label:
                groups.setdefault(f"onet:{prefix}", group_label)
            concepts[element] = {
                "id": element,
                "label": name,
                "alt_labels": [],
                "description": None,
                "type": "knowledge" if prefix == "2.C" else "skill",
                "reuse_level": None,
                "broader": [f"onet:{prefix}"] if group_label else [],
                "group_path": group_label or "",
            }
        relation = relations.setdefault(
            (code, element), {"occupation_id": code, "skill_id": element, "relation": None, "weight": None}
        )
        if scale == "IM":
            if relation["weight"] is not None:
                rejects.append(Reject(*where, "Scale ID", f"repeated IM rating of {element!r} for {code!r}"))
                continue
            relation["weight"] = round((number - 1.0) / 4.0, 4)
            relation["relation"] = "essential" if number >= ESSENTIAL_IMPORTANCE else "optional"
        elif not_relevant.upper() == "Y":
            relation["_dropped"] = True
    for key, relation in list(relations.items()):
        if relation["weight"] is None:  # a level rating without an importance rating: no weight to give
            relation["_dropped"] = True
            del relations[key]


def _read_technology(
    file: Path,
    known: KnownCodes,
    concepts: dict[str, dict[str, object]],
    groups: dict[str, str],
    relations: dict[tuple[str, str], dict[str, object]],
    rejects: list[Reject],
) -> None:
    """Technology examples as concepts under their commodity; one weighted relation per occupation."""
    frame = _read(file, FILE_KINDS["technology"])
    frame = frame[known(file, frame)]
    blank = pd.Series("", index=frame.index)
    hot = frame["Hot Technology"] if "Hot Technology" in frame.columns else blank
    demand = frame["In Demand"] if "In Demand" in frame.columns else blank
    groups.setdefault(TECHNOLOGY_GROUP, "Technology Skills")
    flags: dict[str, set[str]] = {}
    for row, code, example, commodity, commodity_title, is_hot, in_demand in zip(
        frame.index,
        frame[CODE],
        frame["Example"],
        frame["Commodity Code"],
        frame["Commodity Title"],
        hot,
        demand,
        strict=True,
    ):
        if not example:
            rejects.append(Reject(str(file), int(row), "Example", "required value is missing or empty"))
            continue
        cid = f"onet:tech:{_slug(example)}"
        group = f"onet:commodity:{commodity}" if commodity else TECHNOLOGY_GROUP
        if commodity:
            groups.setdefault(group, commodity_title or commodity)
        concept = concepts.get(cid)
        if concept is None:
            concept = concepts[cid] = {
                "id": cid,
                "label": example,
                "alt_labels": [],
                "description": None,
                "type": "knowledge",
                "reuse_level": None,
                "broader": [group],
                "group_path": PATH_SEPARATOR.join(["Technology Skills", commodity_title or ""]).rstrip(
                    PATH_SEPARATOR
                ),
                "_commodity": commodity_title,
            }
        else:
            broader = concept["broader"]
            assert isinstance(broader, list)
            if group not in broader:
                broader.append(group)
        marks = flags.setdefault(cid, set())
        if is_hot.upper() == "Y":
            marks.add("hot technology")
        if in_demand.upper() == "Y":
            marks.add("in demand")
        weight = (
            TECHNOLOGY_WEIGHT
            + HOT_BONUS * (is_hot.upper() == "Y")
            + IN_DEMAND_BONUS * (in_demand.upper() == "Y")
        )
        old = relations.get((code, cid))
        if old is None or float(old["weight"] or 0.0) < weight:  # type: ignore[arg-type]
            relations[(code, cid)] = {
                "occupation_id": code,
                "skill_id": cid,
                "relation": "optional",
                "weight": weight,
            }
    for cid, marks in flags.items():
        concept = concepts[cid]
        commodity_title = concept.pop("_commodity", None)
        words = [f"Technology: {commodity_title}" if commodity_title else "Technology", *sorted(marks)]
        concept["description"] = "; ".join(words) + "."
