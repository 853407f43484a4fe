"""Loaders for the public linking benchmarks, turned into ``(query text, relevant taxonomy ids)`` sets.

* Skill extraction (TECH / HOUSE validation splits, Decorte et al. 2022/2023): job-posting sentences annotated
  with ESCO v1.1.0 preferred labels. :func:`load_skill_extraction` maps the gold labels onto a concept table
  (which may be a newer ESCO release) and keeps count of every label it cannot map.
* Job titles (MELO ``usa_q_en_c_en``, Retyk et al. 2024): occupation titles to link to ESCO occupations.
  :func:`load_job_titles` maps each MELO concept to an ESCO occupation id through its label texts.

Nothing is dropped silently: every result carries the counts and ids of what did not make it into the set.
Row numbers in error messages are 1-based data rows (the header of a CSV file is not counted).
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from skillmatch.schema import InputError, Reject

#: Gold labels of the skill-extraction benchmarks that mean "no ESCO skill for this span".
NO_SKILL_LABELS = frozenset({"LABEL NOT PRESENT", "UNDERSPECIFIED"})

#: Columns of a skill-extraction benchmark file.
SKILL_EXTRACTION_COLUMNS = ["sentence", "span", "sub_span", "label"]

#: Default file-name prefix of the MELO dataset shipped in ``benchmarks/job-titles``.
MELO_PREFIX = "usa_q_en_c_en_"

#: How a gold label was matched to a concept (see :func:`match_labels`).
MATCH_KINDS = ("exact", "casefold", "alt", "ambiguous", "unmapped")

_ELEMENT_ID = re.compile(r"^(?P<concept>.+)_[A-Za-z]{2,3}_(?P<number>\d+)$")


@dataclass(frozen=True)
class LabelMatch:
    """The outcome of mapping one label onto a taxonomy table.

    Attributes:
        label: The label as given.
        kind: One of :data:`MATCH_KINDS`.
        concept_id: The matched id, or None when ``kind`` is "ambiguous" or "unmapped".
        candidates: The ids the label matched when it was ambiguous (several concepts at the same step).
    """

    label: str
    kind: str
    concept_id: str | None = None
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True)
class SkillExtractionSet:
    """Sentences with their gold ESCO skills, in file order.

    Attributes:
        source: The file the set was read from.
        queries: Sentence texts, one per query.
        relevant: The concept ids of each query's gold labels (never empty).
        gold_labels: The distinct gold labels of each query, as written in the file (mapped or not).
        matches: How each distinct gold label of the file was mapped.
        n_rows: Data rows in the file.
        n_sentences: Distinct sentences in the file.
        no_gold: Sentences whose spans are all "LABEL NOT PRESENT" / "UNDERSPECIFIED" (not queries).
        unmapped_only: Sentences with gold labels none of which could be mapped (not queries).
    """

    source: str
    queries: list[str]
    relevant: list[set[str]]
    gold_labels: list[list[str]]
    matches: dict[str, LabelMatch]
    n_rows: int
    n_sentences: int
    no_gold: list[str] = field(default_factory=list)
    unmapped_only: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.queries)

    @property
    def unmapped(self) -> list[str]:
        """Distinct gold labels that could not be mapped to one concept (ambiguous ones included)."""
        return [m.label for m in self.matches.values() if m.concept_id is None]

    @property
    def match_counts(self) -> dict[str, int]:
        """Number of distinct gold labels per match kind (all of :data:`MATCH_KINDS`, zeros included)."""
        counts = Counter(m.kind for m in self.matches.values())
        return {kind: counts.get(kind, 0) for kind in MATCH_KINDS}

    @property
    def mapping_rate(self) -> float:
        """Share of the distinct gold labels that mapped to a concept."""
        return 1.0 - len(self.unmapped) / len(self.matches) if self.matches else 0.0


@dataclass(frozen=True)
class JobTitleSet:
    """Job-title queries with the ESCO occupations they should link to, in file order.

    Attributes:
        source: The folder the set was read from.
        query_ids: Benchmark query ids (e.g. "Q000001").
        queries: Query texts.
        relevant: ESCO occupation ids of each query's relevant MELO concepts (never empty).
        concept_map: MELO concept id -> ESCO occupation id, for the concepts that mapped.
        unmapped_concepts: MELO concepts none of whose texts match an occupation label.
        tied_concepts: Mapped concepts whose vote was tied and settled by the tie-break rule.
        n_concepts: MELO concepts in the corpus.
        n_queries_total: Queries in the query file.
        unannotated_queries: Query ids without any relevant annotation (not queries of the set).
        unmapped_queries: Query ids whose relevant concepts are all unmapped (not queries of the set).
    """

    source: str
    query_ids: list[str]
    queries: list[str]
    relevant: list[set[str]]
    concept_map: dict[str, str]
    unmapped_concepts: list[str]
    tied_concepts: list[str]
    n_concepts: int
    n_queries_total: int
    unannotated_queries: list[str] = field(default_factory=list)
    unmapped_queries: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.queries)

    @property
    def concept_mapping_rate(self) -> float:
        """Share of MELO concepts mapped to an ESCO occupation."""
        return len(self.concept_map) / self.n_concepts if self.n_concepts else 0.0


# --- helpers -----------------------------------------------------------------------------------------------


def _error(file: str | Path, row: int | None, field_name: str | None, reason: str) -> InputError:
    return InputError(str(Reject(file=str(file), row=row, field=field_name, reason=reason)))


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _taxonomy_labels(table: pd.DataFrame, what: str) -> list[tuple[str, str, list[str]]]:
    """Validate a concept/occupation table and return ``(id, label, alt_labels)`` per row."""
    missing = [c for c in ("id", "label", "alt_labels") if c not in table.columns]
    if missing:
        raise ValueError(f"{what} table is missing columns {missing}")
    rows = []
    for position, (item_id, label, alts) in enumerate(
        zip(table["id"], table["label"], table["alt_labels"], strict=True)
    ):
        if not isinstance(item_id, str) or not item_id:
            raise ValueError(f"{what} table, row {position} [id]: empty or non-string id {item_id!r}")
        if not isinstance(label, str) or not label.strip():
            raise ValueError(f"{what} table, row {position} [label]: empty or non-string label {label!r}")
        if isinstance(alts, str) or not isinstance(alts, list | tuple | np.ndarray):
            raise ValueError(f"{what} table, row {position} [alt_labels]: expected a list of strings")
        for alt in alts:
            if not isinstance(alt, str) or not alt.strip():
                raise ValueError(
                    f"{what} table, row {position} [alt_labels]: empty or non-string label {alt!r}"
                )
        rows.append((item_id, label.strip(), [a.strip() for a in alts]))
    return rows


def match_labels(labels: Iterable[str], concepts: pd.DataFrame) -> dict[str, LabelMatch]:
    """Map labels onto a taxonomy table: exact preferred label, then case-insensitive, then alternative labels.

    Matching is whitespace-normalised at every step. A step that finds more than one concept makes the label
    "ambiguous" (and unmapped); one that finds none passes the label on to the next step.

    Args:
        labels: The labels to map (duplicates are mapped once).
        concepts: A table with columns ``id``, ``label`` and ``alt_labels`` (list of strings).

    Returns:
        One :class:`LabelMatch` per distinct label, in first-seen order.
    """
    exact: dict[str, list[str]] = defaultdict(list)
    folded: dict[str, list[str]] = defaultdict(list)
    alternative: dict[str, list[str]] = defaultdict(list)
    for concept_id, label, alts in _taxonomy_labels(concepts, "concept"):
        exact[" ".join(label.split())].append(concept_id)
        folded[_norm(label)].append(concept_id)
        for alt in dict.fromkeys(_norm(a) for a in alts):
            alternative[alt].append(concept_id)
    result: dict[str, LabelMatch] = {}
    for label in labels:
        if label in result:
            continue
        for kind, index, key in (
            ("exact", exact, " ".join(label.split())),
            ("casefold", folded, _norm(label)),
            ("alt", alternative, _norm(label)),
        ):
            ids = list(dict.fromkeys(index.get(key, [])))
            if len(ids) == 1:
                result[label] = LabelMatch(label, kind, ids[0])
                break
            if ids:
                result[label] = LabelMatch(label, "ambiguous", None, tuple(ids))
                break
        else:
            result[label] = LabelMatch(label, "unmapped")
    return result


# --- skill extraction ----------------------------------------------------------------------------------------


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    if not path.is_file():
        raise _error(path, None, None, "file not found")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise _error(path, None, None, f"cannot be read as UTF-8 CSV: {exc}") from exc
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise _error(path, None, None, f"missing columns {missing} (found {list(frame.columns)})")
    return frame


def load_skill_extraction(csv_path: str | Path, concepts: pd.DataFrame) -> SkillExtractionSet:
    """Load a TECH/HOUSE skill-extraction file as sentences with gold concept ids.

    Rows are grouped by sentence (in order of first appearance); a sentence's gold set is the concepts of its
    labels other than "LABEL NOT PRESENT" / "UNDERSPECIFIED", mapped with :func:`match_labels`. Sentences left
    without a mapped gold label are not queries; they are listed in ``no_gold`` / ``unmapped_only``.

    Args:
        csv_path: A ``sentence,span,sub_span,label`` CSV file.
        concepts: The skill table (columns ``id``, ``label``, ``alt_labels``; see
            :data:`skillmatch.schema.CONCEPT_COLUMNS`).

    Returns:
        The query set with its mapping report.

    Raises:
        InputError: If the file is missing, unreadable, lacks a column, or a row has an empty sentence or
            label (the message names file, row and field).
    """
    path = Path(csv_path)
    frame = _read_csv(path, SKILL_EXTRACTION_COLUMNS)
    gold: dict[str, list[str]] = {}
    for row, (sentence, label) in enumerate(zip(frame["sentence"], frame["label"], strict=True), start=1):
        if not sentence.strip():
            raise _error(path, row, "sentence", "empty sentence")
        if not label.strip():
            raise _error(path, row, "label", "empty label")
        labels = gold.setdefault(sentence.strip(), [])
        label = label.strip()
        if label not in NO_SKILL_LABELS and label not in labels:
            labels.append(label)
    matches = match_labels((label for labels in gold.values() for label in labels), concepts)
    queries, relevant, gold_labels, no_gold, unmapped_only = [], [], [], [], []
    for sentence, labels in gold.items():
        ids = {cid for label in labels if (cid := matches[label].concept_id) is not None}
        if not labels:
            no_gold.append(sentence)
        elif not ids:
            unmapped_only.append(sentence)
        else:
            queries.append(sentence)
            relevant.append(ids)
            gold_labels.append(labels)
    return SkillExtractionSet(
        source=str(path),
        queries=queries,
        relevant=relevant,
        gold_labels=gold_labels,
        matches=matches,
        n_rows=len(frame),
        n_sentences=len(gold),
        no_gold=no_gold,
        unmapped_only=unmapped_only,
    )


# --- job titles -------------------------------------------------------------------------------------------------


def _melo_file(folder: Path, prefix: str, name: str) -> Path:
    """``{prefix}{name}.tsv`` as shipped in shared data, or ``{name}.tsv`` as laid out in the MELO repo."""
    for candidate in (folder / f"{prefix}{name}.tsv", folder / f"{name}.tsv"):
        if candidate.is_file():
            return candidate
    raise _error(folder / f"{prefix}{name}.tsv", None, None, "file not found")


def _read_tsv(path: Path, fields: list[str]) -> list[tuple[int, list[str]]]:
    """Read a header-less TSV file; every line must have exactly ``fields`` non-empty values."""
    rows = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for row, values in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
                if not values:
                    continue  # blank line
                if len(values) != len(fields):
                    raise _error(
                        path, row, None, f"expected {len(fields)} tab-separated fields, got {len(values)}"
                    )
                values = [v.strip() for v in values]
                for name, value in zip(fields, values, strict=True):
                    if not value:
                        raise _error(path, row, name, "empty value")
                rows.append((row, values))
    except UnicodeDecodeError as exc:
        raise _error(path, None, None, f"not valid UTF-8: {exc}") from exc
    return rows


def _vote(
    texts: list[str], label_index: dict[str, list[int]], preferred: list[str]
) -> tuple[int | None, bool]:
    """Majority vote of a concept's texts over occupations; returns (occupation position, was tied)."""
    votes: Counter[int] = Counter()
    for text in texts:
        votes.update(label_index.get(_norm(text), []))
    if not votes:
        return None, False
    best = max(votes.values())
    leaders = [position for position, count in votes.items() if count == best]
    if len(leaders) == 1:
        return leaders[0], False
    # tie-break: the occupation whose preferred label is the concept's first text, then table order
    first = _norm(texts[0])
    leaders.sort(key=lambda position: (_norm(preferred[position]) != first, position))
    return leaders[0], True


def load_job_titles(folder: str | Path, occupations: pd.DataFrame, prefix: str = MELO_PREFIX) -> JobTitleSet:
    """Load a MELO job-title benchmark with ESCO occupation ids as relevant items.

    Corpus elements ``<concept>_<lang>_<n>`` are labels of a MELO concept. Each concept is mapped to the ESCO
    occupation whose preferred or alternative labels match most of its texts (case- and whitespace-insensitive
    majority vote; ties go to the occupation whose preferred label is the concept's first text, then to the
    earlier occupation in the table). Annotations with relevance > 0 are relevant.

    Args:
        folder: Folder holding ``{prefix}queries.tsv``, ``{prefix}corpus_elements.tsv`` and
            ``{prefix}annotations.tsv`` (or the same names without the prefix).
        occupations: The occupation table (columns ``id``, ``label``, ``alt_labels``; see
            :data:`skillmatch.schema.OCCUPATION_COLUMNS`).
        prefix: File-name prefix of the dataset.

    Returns:
        The query set with its mapping report.

    Raises:
        InputError: If a file is missing or malformed, ids repeat, or an annotation names an unknown query
            or corpus element (the message names file, row and field).
    """
    root = Path(folder)
    queries_path = _melo_file(root, prefix, "queries")
    corpus_path = _melo_file(root, prefix, "corpus_elements")
    annotations_path = _melo_file(root, prefix, "annotations")

    queries: dict[str, str] = {}
    for row, (qid, text) in _read_tsv(queries_path, ["query_id", "text"]):
        if qid in queries:
            raise _error(queries_path, row, "query_id", f"duplicate query id {qid!r}")
        queries[qid] = text

    element_concept: dict[str, str] = {}
    concept_texts: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for row, (element_id, text) in _read_tsv(corpus_path, ["element_id", "text"]):
        match = _ELEMENT_ID.match(element_id)
        if match is None:
            raise _error(corpus_path, row, "element_id", f"{element_id!r} is not <concept>_<lang>_<number>")
        if element_id in element_concept:
            raise _error(corpus_path, row, "element_id", f"duplicate element id {element_id!r}")
        element_concept[element_id] = match["concept"]
        concept_texts[match["concept"]].append((int(match["number"]), element_id, text))

    relevant_concepts: dict[str, list[str]] = defaultdict(list)
    annotation_fields = ["query_id", "iteration", "element_id", "relevance"]
    for row, (qid, _, element_id, relevance) in _read_tsv(annotations_path, annotation_fields):
        if qid not in queries:
            raise _error(annotations_path, row, "query_id", f"unknown query id {qid!r}")
        if element_id not in element_concept:
            raise _error(annotations_path, row, "element_id", f"unknown corpus element {element_id!r}")
        try:
            grade = float(relevance)
        except ValueError:
            raise _error(annotations_path, row, "relevance", f"not a number: {relevance!r}") from None
        concept = element_concept[element_id]
        if grade > 0 and concept not in relevant_concepts[qid]:
            relevant_concepts[qid].append(concept)

    table = _taxonomy_labels(occupations, "occupation")
    label_index: dict[str, list[int]] = defaultdict(list)
    for position, (_, label, alts) in enumerate(table):
        for key in dict.fromkeys(_norm(text) for text in [label, *alts]):
            label_index[key].append(position)
    preferred = [label for _, label, _ in table]

    concept_map: dict[str, str] = {}
    unmapped_concepts: list[str] = []
    tied: list[str] = []
    for concept, elements in concept_texts.items():
        texts = [text for *_, text in sorted(elements)]
        winner, was_tied = _vote(texts, label_index, preferred)
        if winner is None:
            unmapped_concepts.append(concept)
            continue
        concept_map[concept] = table[winner][0]
        if was_tied:
            tied.append(concept)

    query_ids, texts, relevant, unannotated, unmapped_queries = [], [], [], [], []
    for qid, text in queries.items():
        concepts = relevant_concepts.get(qid, [])
        ids = {concept_map[c] for c in concepts if c in concept_map}
        if not concepts:
            unannotated.append(qid)
        elif not ids:
            unmapped_queries.append(qid)
        else:
            query_ids.append(qid)
            texts.append(text)
            relevant.append(ids)
    return JobTitleSet(
        source=str(root),
        query_ids=query_ids,
        queries=texts,
        relevant=relevant,
        concept_map=concept_map,
        unmapped_concepts=unmapped_concepts,
        tied_concepts=tied,
        n_concepts=len(concept_texts),
        n_queries_total=len(queries),
        unannotated_queries=unannotated,
        unmapped_queries=unmapped_queries,
    )


#: C1 control characters that SkillSpan carries where cp1252 punctuation was meant.
_CP1252_QUOTES = str.maketrans({"\x91": "'", "\x92": "'", "\x93": '"', "\x94": '"', "\x96": "-", "\x97": "-"})


def skillspan_postings(path: str | Path, *, count: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Job postings rebuilt from SkillSpan (``postings/skillspan/train.json``), as a postings table.

    Each posting is the sentences of one (source, idx) joined in order; its first sentence is the title. With
    ``count`` larger than the number of real postings, more are made by recombining real sentences: each
    synthetic posting takes the title of a real one and a seeded sample of sentences from postings of the same
    source, so lengths and vocabulary stay realistic. Columns follow :data:`~skillmatch.schema.POSTING_COLUMNS`.
    """
    import json
    import random

    from skillmatch.schema import POSTING_COLUMNS

    by_posting: dict[tuple[str, int], list[str]] = {}
    with Path(path).open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                key = (str(record["source"]), int(record["idx"]))
                tokens = record["tokens"]
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise InputError(f"{path}, line {line_no}: not a SkillSpan record ({exc})") from exc
            by_posting.setdefault(key, []).append(" ".join(tokens).translate(_CP1252_QUOTES))
    real = [
        {
            "id": f"skillspan-{src}-{idx}",
            "title": sents[0],
            "description": "\n".join(sents[1:]),
            "source": f"skillspan-{src}",
        }
        for (src, idx), sents in sorted(by_posting.items())
    ]
    rows = list(real)
    if count is not None and count > len(real):
        rng = random.Random(seed)
        pools: dict[str, list[str]] = {}
        for (src, _), sents in by_posting.items():
            pools.setdefault(src, []).extend(sents[1:])
        lengths = [len(s) - 1 for s in by_posting.values()]
        for n in range(count - len(real)):
            base = real[n % len(real)]
            src = base["source"].removeprefix("skillspan-")
            k = max(3, min(len(pools[src]), rng.choice(lengths)))
            rows.append(
                {
                    "id": f"synthetic-{n}",
                    "title": base["title"],
                    "description": "\n".join(rng.sample(pools[src], k)),
                    "source": f"synthetic-{src}",
                }
            )
    frame = pd.DataFrame(rows[: count or len(rows)])
    for col in POSTING_COLUMNS:
        if col not in frame:
            frame[col] = [[] for _ in range(len(frame))] if col == "skills" else None
    return frame[POSTING_COLUMNS]
