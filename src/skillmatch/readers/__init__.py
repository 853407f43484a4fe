"""Input readers: credential catalogues and standards (OB 3.0, ELM/EDC, CTDL), postings and taxonomies.

Every reader returns the valid rows with exactly the columns of :mod:`skillmatch.schema` plus a list of
:class:`~skillmatch.schema.Reject` (file, row, field, reason); whole-input problems raise
:class:`~skillmatch.schema.InputError`. The formats are described in docs/data-formats.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from skillmatch.readers.credentials import read_credentials
from skillmatch.readers.esco import read_esco
from skillmatch.readers.generic import read_generic_taxonomy
from skillmatch.readers.onet import is_onet, read_onet
from skillmatch.readers.postings import read_postings
from skillmatch.readers.standards import load_credentials, read_standard
from skillmatch.readers.tables import parse_list, read_table
from skillmatch.schema import InputError, Reject, Taxonomy

__all__ = [
    "is_esco",
    "is_onet",
    "load_credentials",
    "load_taxonomy",
    "parse_list",
    "read_credentials",
    "read_esco",
    "read_generic_taxonomy",
    "read_onet",
    "read_postings",
    "read_standard",
    "read_table",
]


def is_esco(path: str | Path) -> bool:
    """Whether ``path`` looks like an ESCO export.

    That is a zip, a folder holding ``skills_*.csv`` or zips, or an ESCO ``skills_*.csv`` file.
    """
    path = Path(path)
    if path.is_dir():
        return any(path.glob("skills_*.csv")) or any(path.glob("*.zip"))
    return path.suffix.lower() == ".zip" or (
        path.name.lower().startswith("skills_") and path.suffix == ".csv"
    )


def load_taxonomy(path: str | Path | Sequence[str | Path]) -> tuple[Taxonomy, list[Reject]]:
    """Load a taxonomy, telling ESCO, O*NET and the generic format apart.

    ESCO: a folder with ``skills_en.csv``, a zip, a folder of zips, a list of these, or the path of an
    extracted ``skills_<lang>.csv`` (its folder is read). O*NET: a folder whose files are recognised by their
    headers (:func:`read_onet`). Any other file is read as the generic one-table format
    (:func:`read_generic_taxonomy`).

    Args:
        path: see above.

    Returns:
        The taxonomy and the rejects.

    Raises:
        InputError: the path does not exist, is a folder without ESCO files, or cannot be read.
    """
    if not isinstance(path, str | Path):
        return read_esco(path)
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: not found")
    if path.is_dir():
        if is_esco(path):
            return read_esco(path)
        if is_onet(path):
            return read_onet(path)
        raise InputError(
            f"{path}: a folder without ESCO files (skills_en.csv or the release zips) or O*NET files (an "
            "occupations file with the columns O*NET-SOC Code, Title, Description); for the generic format pass "
            "the taxonomy file itself"
        )
    if path.suffix.lower() == ".zip":
        return read_esco(path)
    if is_esco(path):
        language = path.stem.split("_", 1)[1]
        return read_esco(path.parent, language=language)
    return read_generic_taxonomy(path)
