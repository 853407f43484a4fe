"""Read the official ESCO CSV export: a folder, a zip, a folder of zips, or several of these.

ESCO publishes a release as two zips, one with the labels of a language (``skills_en.csv``,
``skillGroups_en.csv``, ``occupations_en.csv``, ...) and one with the language-independent relations
(``broaderRelationsSkillPillar.csv``, ``occupationSkillRelations.csv``); :func:`read_esco` merges whatever it
is given by file name. Newer releases name the relations file ``occupationSkillRelations_en.csv`` and add
label columns; both are read. All work is vectorised with pandas (full ESCO reads in a few seconds).
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

import pandas as pd

from skillmatch.readers.generic import ancestor_paths
from skillmatch.readers.tables import sort_rejects
from skillmatch.schema import (
    CONCEPT_COLUMNS,
    GROUP_COLUMNS,
    OCCUPATION_COLUMNS,
    RELATION_COLUMNS,
    RELATION_WEIGHTS,
    InputError,
    Reject,
    Taxonomy,
)

logger = logging.getLogger(__name__)

#: ESCO ``skillType`` values -> concept ``type`` ("" is used by a few digital-competence concepts).
SKILL_TYPES = {
    "skill/competence": "skill",
    "skill": "skill",
    "competence": "skill",
    "knowledge": "knowledge",
    "": "skill",
}
RELATION_TYPES = ("essential", "optional")
_VERSION = re.compile(r"v(\d+(?:\.\d+)+)", re.IGNORECASE)

PathLike = str | Path


@dataclass(frozen=True)
class _Source:
    """One CSV file of the export, in a folder or inside a zip."""

    name: str
    path: Path
    member: str | None = None

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        """The file's bytes (the zip is closed again afterwards)."""
        if self.member is None:
            with self.path.open("rb") as handle:
                yield handle
        else:
            with zipfile.ZipFile(self.path) as archive, archive.open(self.member) as handle:
                yield handle


def _zip_sources(path: Path) -> list[_Source]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if m.lower().endswith(".csv") and not m.endswith("/")]
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path}: not a readable zip file ({exc})") from None
    return [_Source(f"{Path(m).name} (in {path})", path, m) for m in members]


def _collect(paths: Sequence[Path]) -> dict[str, _Source]:
    """All CSV files of the given folders/zips/files, by lower-case file name (the first one found wins)."""
    sources: dict[str, _Source] = {}
    for path in paths:
        if not path.exists():
            raise InputError(f"{path}: not found")
        found: list[_Source]
        if path.is_dir():
            found = [_Source(str(p), p) for p in sorted(path.glob("*.csv"))]
            for archive in sorted(path.glob("*.zip")):
                found.extend(_zip_sources(archive))
        elif path.suffix.lower() == ".zip":
            found = _zip_sources(path)
        elif path.suffix.lower() == ".csv":
            found = [_Source(str(path), path)]
        else:
            raise InputError(f"{path}: expected an ESCO CSV folder, a zip of it, or a folder of such zips")
        for source in found:
            key = Path(source.member or source.path).name.lower()
            if key in sources:
                logger.info("ESCO: using %s; ignoring %s", sources[key].name, source.name)
            else:
                sources[key] = source
    return sources


def esco_version(paths: Iterable[PathLike]) -> str:
    """The release version (``"v1.1.1"``) found in the folder/zip names, else ``"unknown"``."""
    folders = [Path(p) for p in paths]
    names: list[str] = []
    for path in folders:
        names.append(path.name)
        if path.is_dir():
            names.extend(p.name for p in sorted(path.glob("*.zip")))
    names.extend(part for path in folders for part in reversed(path.resolve().parts[:-1]))
    for name in names:
        match = _VERSION.search(name)
        if match:
            return f"v{match.group(1)}"
    return "unknown"


def _read_csv(source: _Source, required: Sequence[str], optional: Sequence[str] = ()) -> pd.DataFrame:
    """Read one export file as strings ("" for empty); the index holds spreadsheet row numbers (header = 1)."""
    try:
        with source.open() as handle:
            frame = pd.read_csv(handle, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{source.name}: not valid UTF-8; re-save it as UTF-8") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{source.name}: the file is empty") from None
    except (pd.errors.ParserError, OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"{source.name}: cannot be read as CSV ({exc})") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            f"{source.name}: missing required column(s): {', '.join(missing)} (found: {', '.join(frame.columns)})"
        )
    frame = frame[[*required, *(c for c in optional if c in frame.columns)]].copy()
    for column in optional:
        if column not in frame.columns:
            frame[column] = ""
    for column in frame.columns:
        frame[column] = frame[column].str.strip()
    frame.index = pd.RangeIndex(2, len(frame) + 2)
    return frame


def _rejects(
    frame: pd.DataFrame, mask: pd.Series, file: str, field: str, reason: str | pd.Series
) -> list[Reject]:
    """One reject per masked row; ``reason`` may be a per-row Series."""
    rows = frame.index[mask.to_numpy()]
    reasons = reason[mask] if isinstance(reason, pd.Series) else [reason] * len(rows)
    return [Reject(file, int(row), field, str(why)) for row, why in zip(rows, reasons, strict=True)]


def _keep_valid_ids(
    frame: pd.DataFrame, file: str, id_col: str, label_col: str
) -> tuple[pd.DataFrame, list[Reject]]:
    """Reject rows with no id, no label, or an id seen on an earlier valid row."""
    rejects = _rejects(frame, frame[id_col] == "", file, id_col, "required value is missing or empty")
    ok = frame[id_col] != ""
    no_label = ok & (frame[label_col] == "")
    rejects += _rejects(frame, no_label, file, label_col, "required value is missing or empty")
    ok &= ~no_label
    dup = ok & frame[ok][id_col].duplicated().reindex(frame.index, fill_value=False)
    if dup.any():
        kept = frame[ok & ~dup]
        first = dict(zip(kept[id_col], kept.index, strict=True))
        why = frame[id_col].map(lambda i: f"duplicate id {i!r} (first used on row {first.get(i)})")
        rejects += _rejects(frame, dup, file, id_col, why)
    return frame[ok & ~dup], rejects


def _split_lines(values: pd.Series, labels: pd.Series) -> list[list[str]]:
    """ESCO alt labels: one per line; trimmed, empties, duplicates and the preferred label removed."""
    out = []
    for text, label in zip(values, labels, strict=True):
        items = (item.strip() for item in text.splitlines()) if text else ()
        out.append([item for item in dict.fromkeys(items) if item and item != label])
    return out


def _source(sources: dict[str, _Source], *names: str) -> _Source | None:
    return next((sources[n.lower()] for n in names if n.lower() in sources), None)


def read_esco(path: PathLike | Sequence[PathLike], language: str = "en") -> tuple[Taxonomy, list[Reject]]:
    """Read an ESCO release from its CSV export.

    Args:
        path: a folder with the extracted CSV files, one zip, a folder holding the zips, or a list of these
            (the labels zip and the relations zip of a release are merged).
        language: the language suffix of the label files (``skills_<language>.csv``).

    Returns:
        The taxonomy (name ``"ESCO"``, version parsed from the folder/zip names such as ``v1.1.1``) and the
        rejects: rows with no id/label, duplicate ids, unknown skill types and relation/broader rows whose
        ids are unknown or whose relation type is not essential/optional.

    Raises:
        InputError: ``skills_<language>.csv`` is missing, only one file of a pair is present
            (``skillGroups``/``broaderRelationsSkillPillar``; ``occupations``/``occupationSkillRelations``),
            or a file is unreadable or lacks required columns.
    """
    paths = [Path(p) for p in ([path] if isinstance(path, str | Path) else path)]
    if not paths:
        raise InputError("read_esco: no path given")
    sources = _collect(paths)
    where = ", ".join(str(p) for p in paths)
    lang = language.lower()

    skills_src = _source(sources, f"skills_{lang}.csv")
    if skills_src is None:
        raise InputError(
            f"{where}: no skills_{lang}.csv found; pass the ESCO CSV folder or the release's zips "
            "(the labels zip holds skills, the other one the relations)"
        )
    groups_src = _source(sources, f"skillGroups_{lang}.csv")
    broader_src = _source(sources, "broaderRelationsSkillPillar.csv")
    occupations_src = _source(sources, f"occupations_{lang}.csv")
    relations_src = _source(sources, "occupationSkillRelations.csv", f"occupationSkillRelations_{lang}.csv")
    for (a_name, a), (b_name, b) in (
        ((f"skillGroups_{lang}.csv", groups_src), ("broaderRelationsSkillPillar.csv", broader_src)),
        ((f"occupations_{lang}.csv", occupations_src), ("occupationSkillRelations.csv", relations_src)),
    ):
        if (a is None) != (b is None):
            have, lacking = (a_name, b_name) if b is None else (b_name, a_name)
            raise InputError(
                f"{where}: found {have} but not {lacking}; an ESCO release comes as two zips (labels and "
                "relations): pass both, or a folder holding both"
            )
    if broader_src is None:
        logger.warning("%s: no skill hierarchy files; broader and group_path stay empty", where)
    if occupations_src is None:
        logger.warning("%s: no occupation files; occupations and relations stay empty", where)

    rejects: list[Reject] = []

    # concepts
    skills = _read_csv(
        skills_src, ["conceptUri", "preferredLabel"], ["altLabels", "description", "skillType", "reuseLevel"]
    )
    skills, bad = _keep_valid_ids(skills, skills_src.name, "conceptUri", "preferredLabel")
    rejects += bad
    kind = skills["skillType"].str.lower().map(SKILL_TYPES)
    unknown_type = kind.isna()
    rejects += _rejects(
        skills,
        unknown_type,
        skills_src.name,
        "skillType",
        "unknown skill type " + skills["skillType"].map(repr) + "; expected skill/competence or knowledge",
    )
    skills, kind = skills[~unknown_type], kind[~unknown_type]
    concept_ids = set(skills["conceptUri"])

    # groups
    groups = pd.DataFrame({"conceptUri": [], "preferredLabel": []}, dtype=str)
    if groups_src is not None:
        groups = _read_csv(groups_src, ["conceptUri", "preferredLabel"])
        groups, bad = _keep_valid_ids(groups, groups_src.name, "conceptUri", "preferredLabel")
        rejects += bad
        clash = groups["conceptUri"].isin(concept_ids)
        rejects += _rejects(
            groups, clash, groups_src.name, "conceptUri", "id is already used by a skill concept"
        )
        groups = groups[~clash]
    group_ids = set(groups["conceptUri"])

    # hierarchy
    labels = dict(zip(skills["conceptUri"], skills["preferredLabel"], strict=True))
    labels.update(zip(groups["conceptUri"], groups["preferredLabel"], strict=True))
    broader_lists: dict[str, list[str]] = {}
    paths_by_id: dict[str, str] = {}
    if broader_src is not None:
        links = _read_csv(broader_src, ["conceptUri", "broaderUri"])
        known = links["conceptUri"].isin(labels.keys())
        known_broader = links["broaderUri"].isin(labels.keys())
        why = "unknown id " + links["conceptUri"].map(repr) + " (not in the skills or skill groups file)"
        rejects += _rejects(links, ~known, broader_src.name, "conceptUri", why)
        why = (
            "unknown broader id "
            + links["broaderUri"].map(repr)
            + " (not in the skills or skill groups file)"
        )
        rejects += _rejects(links, known & ~known_broader, broader_src.name, "broaderUri", why)
        ok = known & known_broader
        loop = ok & (links["conceptUri"] == links["broaderUri"])
        rejects += _rejects(
            links, loop, broader_src.name, "broaderUri", "a concept cannot be broader than itself"
        )
        ok &= ~loop
        dup = ok & links[ok].duplicated(["conceptUri", "broaderUri"]).reindex(links.index, fill_value=False)
        rejects += _rejects(links, dup, broader_src.name, "broaderUri", "duplicate broader link")
        links = links[ok & ~dup]
        broader_lists = cast(
            "dict[str, list[str]]", links.groupby("conceptUri", sort=False)["broaderUri"].agg(list).to_dict()
        )
        # the parent used for group_path: the first broader group, else the first broader concept
        primary = (
            links.assign(is_group=links["broaderUri"].isin(group_ids), order=range(len(links)))
            .sort_values(["is_group", "order"], ascending=[False, True])
            .drop_duplicates("conceptUri")
        )
        parents = dict(zip(primary["conceptUri"], primary["broaderUri"], strict=True))
        paths_by_id = ancestor_paths(parents, labels, skills["conceptUri"])

    concepts = pd.DataFrame(
        {
            "id": skills["conceptUri"],
            "label": skills["preferredLabel"],
            "alt_labels": _split_lines(skills["altLabels"], skills["preferredLabel"]),
            "description": skills["description"].replace("", None),
            "type": kind,
            "reuse_level": skills["reuseLevel"].replace("", None),
            "broader": [list(broader_lists.get(i, [])) for i in skills["conceptUri"]],
            "group_path": [paths_by_id.get(i, "") for i in skills["conceptUri"]],
        },
        columns=CONCEPT_COLUMNS,
    ).reset_index(drop=True)
    group_table = pd.DataFrame(
        {"id": groups["conceptUri"], "label": groups["preferredLabel"]}, columns=GROUP_COLUMNS
    ).reset_index(drop=True)

    # occupations and relations
    occupation_table = pd.DataFrame(columns=OCCUPATION_COLUMNS)
    relation_table = pd.DataFrame(columns=RELATION_COLUMNS)
    if occupations_src is not None and relations_src is not None:
        occupations = _read_csv(
            occupations_src, ["conceptUri", "preferredLabel"], ["altLabels", "description", "iscoGroup"]
        )
        occupations, bad = _keep_valid_ids(occupations, occupations_src.name, "conceptUri", "preferredLabel")
        rejects += bad
        occupation_table = pd.DataFrame(
            {
                "id": occupations["conceptUri"],
                "label": occupations["preferredLabel"],
                "alt_labels": _split_lines(occupations["altLabels"], occupations["preferredLabel"]),
                "description": occupations["description"].replace("", None),
                "isco_group": occupations["iscoGroup"].replace("", None),
            },
            columns=OCCUPATION_COLUMNS,
        ).reset_index(drop=True)
        relation_table, bad = _read_relations(relations_src, set(occupation_table["id"]), concept_ids)
        rejects += bad

    taxonomy = Taxonomy(
        name="ESCO",
        version=esco_version(paths),
        concepts=concepts,
        occupations=occupation_table,
        relations=relation_table,
        groups=group_table,
    )
    return taxonomy, sort_rejects(rejects)


def _read_relations(
    source: _Source, occupation_ids: set[str], concept_ids: set[str]
) -> tuple[pd.DataFrame, list[Reject]]:
    """Occupation–skill relations; rows with unknown ids or relation types, or repeated pairs, are rejects."""
    links = _read_csv(source, ["occupationUri", "relationType", "skillUri"])
    relation = links["relationType"].str.lower()
    known_occ = links["occupationUri"].isin(occupation_ids)
    known_skill = links["skillUri"].isin(concept_ids)
    good_type = relation.isin(RELATION_TYPES)
    rejects = _rejects(
        links,
        ~known_occ,
        source.name,
        "occupationUri",
        "unknown occupation id " + links["occupationUri"].map(repr) + " (not in the occupations file)",
    )
    rejects += _rejects(
        links,
        known_occ & ~known_skill,
        source.name,
        "skillUri",
        "unknown skill id "
        + links["skillUri"].map(repr)
        + " (not in the skills file, or its row was rejected)",
    )
    ok = known_occ & known_skill
    rejects += _rejects(
        links,
        ok & ~good_type,
        source.name,
        "relationType",
        "unknown relation type " + links["relationType"].map(repr) + "; expected essential or optional",
    )
    ok &= good_type
    dup = ok & links[ok].duplicated(["occupationUri", "skillUri"]).reindex(links.index, fill_value=False)
    rejects += _rejects(
        links, dup, source.name, "skillUri", "the occupation already has a relation to this skill"
    )
    ok &= ~dup
    table = pd.DataFrame(
        {
            "occupation_id": links["occupationUri"][ok],
            "skill_id": links["skillUri"][ok],
            "relation": relation[ok],
            "weight": relation[ok].map(RELATION_WEIGHTS).astype(float),
        },
        columns=RELATION_COLUMNS,
    ).reset_index(drop=True)
    return table, rejects
