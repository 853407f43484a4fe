"""Job titles as people write them: two evaluation sets for job-title normalisation beyond MELO's clean titles.

* **Noisy ESCO titles** (:func:`noisy_titles`): the titles of occupations held out of encoder training, dressed as
  vacancy titles by rules written here (seniority, gender markers, locations, contract and pay words, employer
  names, hiring prefixes, abbreviations, typos, shouting). Each query records the noise it got, so results can be
  broken down by kind. The index keeps or drops the source title (``hold_out_label``): with it dropped, a query
  must be recognised as its occupation from another of its titles.
* **O*NET alternate titles** (:func:`onet_titles`): real alternate titles from O*NET 29.2 ("CEO (Chief Executive
  Officer)", "BD Officer", "ICU Nurse"), linked to ESCO occupations through the official ESCO–O*NET crosswalk
  (exact and close matches). Nobody on this team wrote them; titles that are also MELO queries are left out.

Both return :class:`TitleSet`; :func:`skillmatch.evaluation.runner.evaluate_title_sets` scores rankers on them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

# read_crosswalk lived here before skillmatch.readers.crosswalk; importing it from here still works
from skillmatch.readers.crosswalk import read_crosswalk
from skillmatch.schema import InputError

#: The kinds of noise :func:`dress_title` can add.
NOISE_KINDS = (
    "seniority",
    "gender",
    "location",
    "contract",
    "employer",
    "pay",
    "prefix",
    "abbreviation",
    "typo",
    "case",
)

_SENIORITY = (
    "Senior",
    "Sr.",
    "Sr",
    "Junior",
    "Jr.",
    "Lead",
    "Principal",
    "Graduate",
    "Trainee",
    "Experienced",
)
_LEVEL_SUFFIX = ("II", "III", "I", "Level 2")
_GENDER = ("(m/f/d)", "(m/w/d)", "(f/m/d)", "(h/f)", "(m/f/x)", "m/w/d", "(all genders)", "(w/m/d)")
_LOCATIONS = (
    "London",
    "Berlin",
    "Remote",
    "Manchester, UK",
    "Munich",
    "New York, NY",
    "Dublin",
    "Paris (Hybrid)",
    "Austin, TX",
    "Home Based",
    "Leeds",
    "Madrid",
)
_CONTRACT = (
    "Full-time",
    "Part Time",
    "Contract",
    "Temporary",
    "Permanent",
    "Nights",
    "Weekends",
    "Fixed Term",
    "12 Month Contract",
    "Immediate Start",
    "Maternity Cover",
)
_EMPLOYER = (
    "at Acme Ltd",
    "| NHS Trust",
    "- Recruitment Agency",
    "@ Startup",
    "for leading retailer",
    "at Bosch",
)
_PAY = ("£30k", "$25/hr", "€45,000", "up to £40,000 + benefits", "$80K-$95K", "DOE")
_PREFIX = ("Hiring:", "URGENT:", "Job:", "NEW:", "We're hiring -")
_SEPARATORS = (" - ", " – ", " | ", ", ", " / ")

#: Word abbreviations used in vacancy titles (the noise side; the cleaner in roles.py has its own list).
ABBREVIATIONS = {
    "manager": "Mgr",
    "management": "Mgmt",
    "assistant": "Asst",
    "engineer": "Eng",
    "engineering": "Eng",
    "developer": "Dev",
    "administrator": "Admin",
    "administrative": "Admin",
    "technician": "Tech",
    "representative": "Rep",
    "coordinator": "Coord",
    "supervisor": "Supv",
    "director": "Dir",
    "executive": "Exec",
    "specialist": "Spec",
    "operator": "Op",
    "department": "Dept",
    "associate": "Assoc",
    "international": "Intl",
    "senior": "Sr",
    "and": "&",
    "officer": "Ofcr",
    "accountant": "Acct",
}


@dataclass
class TitleSet:
    """Job-title queries with the occupations they should link to.

    Attributes:
        name: Short name of the set ("noisy_esco", "onet_alternate").
        queries: Query texts.
        relevant: Occupation ids relevant to each query (never empty).
        sources: The clean title each query was made from.
        noise: The noise kinds applied to each query (empty for real titles).
        held_out_labels: (occupation id, label text) pairs to drop from the index while evaluating.
        notes: Counts of the build (queries skipped and why).
    """

    name: str
    queries: list[str]
    relevant: list[set[str]]
    sources: list[str]
    noise: list[tuple[str, ...]]
    held_out_labels: list[tuple[str, str]] = field(default_factory=list)
    notes: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        """The number of queries."""
        return len(self.queries)


def _typo(word: str, rng: np.random.Generator) -> str:
    """One keyboard slip inside ``word``: two inner letters swapped, one dropped or one doubled."""
    if len(word) < 5:
        return word
    i = int(rng.integers(1, len(word) - 2))
    kind = int(rng.integers(3))
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def dress_title(title: str, rng: np.random.Generator, *, kinds: int = 3) -> tuple[str, tuple[str, ...]]:
    """Dress a clean title as a vacancy title with ``kinds`` kinds of noise (a seeded random choice).

    Abbreviation and typo only count when they change a word; the returned kinds are the ones applied.

    Args:
        title: A clean occupation title ("registered nurse").
        rng: The random generator (seeded by the caller).
        kinds: How many kinds of noise to try (at least 1).

    Returns:
        The dressed title and the noise kinds applied, in :data:`NOISE_KINDS` order.
    """
    if kinds < 1:
        raise ValueError(f"kinds must be >= 1, got {kinds!r}")
    chosen = {
        NOISE_KINDS[i] for i in rng.choice(len(NOISE_KINDS), size=min(kinds, len(NOISE_KINDS)), replace=False)
    }
    words = " ".join(title.split()).split(" ")
    applied: set[str] = set()

    def pick(options: Sequence[str]) -> str:
        return options[int(rng.integers(len(options)))]

    if "abbreviation" in chosen:
        spots = [i for i, w in enumerate(words) if w.lower() in ABBREVIATIONS]
        if spots:
            i = spots[int(rng.integers(len(spots)))]
            words[i] = ABBREVIATIONS[words[i].lower()]
            applied.add("abbreviation")
    if "typo" in chosen:
        spots = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
        if spots:
            i = spots[int(rng.integers(len(spots)))]
            slipped = _typo(words[i], rng)
            if slipped != words[i]:
                words[i] = slipped
                applied.add("typo")
    text = " ".join(words)
    if "case" in chosen:
        cased = text.upper() if rng.random() < 0.3 else text.title()
        if cased != text:
            text = cased
            applied.add("case")
    if "seniority" in chosen:
        text = f"{pick(_SENIORITY)} {text}" if rng.random() < 0.8 else f"{text} {pick(_LEVEL_SUFFIX)}"
        applied.add("seniority")
    if "gender" in chosen:
        text = f"{text} {pick(_GENDER)}"
        applied.add("gender")
    tail = []
    for kind, options in (("contract", _CONTRACT), ("location", _LOCATIONS), ("pay", _PAY)):
        if kind in chosen:
            tail.append(pick(options))
            applied.add(kind)
    if tail:
        order = rng.permutation(len(tail))
        text = text + pick(_SEPARATORS) + pick(_SEPARATORS).join(tail[i] for i in order)
    if "employer" in chosen:
        text = f"{text} {pick(_EMPLOYER)}"
        applied.add("employer")
    if "prefix" in chosen:
        text = f"{pick(_PREFIX)} {text}"
        applied.add("prefix")
    return text, tuple(k for k in NOISE_KINDS if k in applied)


def noisy_titles(
    occupations: pd.DataFrame,
    occupation_ids: Collection[str],
    *,
    seed: int = 0,
    kinds: int = 3,
    hold_out_label: bool = False,
) -> TitleSet:
    """Noisy vacancy titles made from the titles of the given occupations (e.g. those held out of training).

    Per occupation: the preferred label and one alternative label (a seeded choice; case-insensitively distinct
    from the preferred label and from every label of another occupation), each dressed by :func:`dress_title`.

    Args:
        occupations: The occupation table (``id``, ``label``, ``alt_labels``).
        occupation_ids: The occupations to draw titles from (unknown ids raise).
        seed: Random seed of the title choice and the noise.
        kinds: Kinds of noise per title.
        hold_out_label: Record each query's source alternative label in ``held_out_labels`` so that an evaluation
            drops it from the index (the preferred label always stays: an occupation needs one label).

    Returns:
        The query set; ``relevant`` is the source occupation.
    """
    wanted = set(occupation_ids)
    unknown = wanted - set(occupations["id"])
    if unknown:
        raise ValueError(f"{len(unknown)} occupation ids are not in the table, e.g. {sorted(unknown)[:3]}")
    owners: dict[str, set[str]] = {}
    for occupation_id, label, alts in zip(
        occupations["id"], occupations["label"], occupations["alt_labels"], strict=True
    ):
        for text in [label, *alts]:
            owners.setdefault(" ".join(str(text).split()).casefold(), set()).add(occupation_id)
    rng = np.random.default_rng(seed)
    out = TitleSet("noisy_esco", [], [], [], [])
    skipped = 0
    for occupation_id, label, alts in zip(
        occupations["id"], occupations["label"], occupations["alt_labels"], strict=True
    ):
        if occupation_id not in wanted:
            continue
        label = " ".join(str(label).split())
        own = sorted(
            {
                " ".join(str(a).split())
                for a in alts
                if " ".join(str(a).split()).casefold() != label.casefold()
                and owners.get(" ".join(str(a).split()).casefold()) == {occupation_id}
            }
        )
        sources = [(label, False)]
        if own:
            sources.append((own[int(rng.integers(len(own)))], True))
        else:
            skipped += 1
        for source, is_alt in sources:
            text, noise = dress_title(source, rng, kinds=kinds)
            out.queries.append(text)
            out.relevant.append({occupation_id})
            out.sources.append(source)
            out.noise.append(noise)
            if hold_out_label and is_alt:
                out.held_out_labels.append((occupation_id, source))
    out.notes = {"occupations": len(wanted), "without_distinct_alt_label": skipped}
    return out


def onet_titles(
    alternate_titles: str | Path,
    crosswalk: str | Path,
    occupation_ids: Collection[str],
    *,
    matches: Sequence[str] = ("exactMatch", "closeMatch"),
    exclude: Collection[str] = (),
    sample: int | None = 1500,
    seed: int = 0,
) -> TitleSet:
    """Real job titles: O*NET alternate titles with the ESCO occupations their O*NET code crosswalks to.

    Args:
        alternate_titles: O*NET's ``Alternate Titles.txt`` (tab-separated; ``O*NET-SOC Code``, ``Alternate Title``).
        crosswalk: The ESCO–O*NET crosswalk CSV (:func:`read_crosswalk`).
        occupation_ids: ESCO occupation ids of the bundle; crosswalk targets outside it are ignored.
        matches: Crosswalk match types that count as relevant.
        exclude: Titles to leave out (case-insensitive), e.g. the MELO queries.
        sample: Keep a seeded sample of this many titles (None: all).
        seed: Random seed of the sample.

    Returns:
        The query set (``noise`` empty): one query per distinct title (case-insensitive), relevant to the
        occupations of every code it is listed under; ``notes`` counts the distinct titles with a target and the
        title rows without a crosswalk target or excluded.

    Raises:
        InputError: A file is missing or malformed (the message names file, row and field).
    """
    path = Path(alternate_titles)
    if not path.is_file():
        raise InputError(f"{path}: O*NET alternate titles file not found")
    titles = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    for name in ("O*NET-SOC Code", "Alternate Title"):
        if name not in titles.columns:
            raise InputError(f"{path}, row 1 [{name}]: column missing")
    walk = read_crosswalk(crosswalk)
    known = set(occupation_ids)
    walk = walk[walk["match"].isin(list(matches)) & walk["esco_uri"].isin(known)]
    targets = walk.groupby("onet_code")["esco_uri"].agg(set).to_dict()
    excluded = {" ".join(t.split()).casefold() for t in exclude}
    merged: dict[str, tuple[str, set[str]]] = {}
    no_target = dropped = 0
    for code, title in zip(titles["O*NET-SOC Code"], titles["Alternate Title"], strict=True):
        text = " ".join(title.split())
        if not text:
            continue
        key = text.casefold()
        if key in excluded:
            dropped += 1
        elif code not in targets:
            no_target += 1
        else:  # a title listed under several codes is one query relevant to all their occupations
            merged.setdefault(key, (text, set()))[1].update(targets[code])
    rows = list(merged.values())
    total = len(rows)
    if sample is not None and len(rows) > sample:
        keep = np.sort(np.random.default_rng(seed).choice(len(rows), size=sample, replace=False))
        rows = [rows[i] for i in keep]
    return TitleSet(
        "onet_alternate",
        [t for t, _ in rows],
        [r for _, r in rows],
        [t for t, _ in rows],
        [() for _ in rows],
        notes={
            "titles_with_target": total,
            "title_rows_without_target": no_target,
            "title_rows_excluded": dropped,
        },
    )
