"""Job titles as people write them: cleaning, query variants and character n-gram matching against role labels.

Vacancy titles carry words that name no occupation: seniority ("Sr.", "Junior", "II"), gender markers ("(m/f/d)"),
locations, contract and pay terms, employer names and hiring prefixes, joined by separators ("–", "|", "@").
:func:`title_variants` turns a title into the texts worth searching: the cleaned whole title and each cleaned part
between separators, so "Hiring: Staff Nurse – ICU Nights – London" is searched as "Staff Nurse" (and the other
parts, which match nothing well). :class:`TitleLexicon` scores character n-grams, which survive typos and
truncated words ("adlt literacy teacher", "Mgmt") that a word-level or subword model may miss.
The weights and the rules were chosen on a development split and measured elsewhere (docs/evaluation.md).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA
from sklearn.feature_extraction.text import TfidfVectorizer

#: Common title abbreviations and their expansions (whole words, case-insensitive).
TITLE_ABBREVIATIONS = {
    "mgr": "manager",
    "mngr": "manager",
    "mgmt": "management",
    "asst": "assistant",
    "assoc": "associate",
    "eng": "engineer",
    "engr": "engineer",
    "dev": "developer",
    "admin": "administrator",
    "tech": "technician",
    "techn": "technician",
    "rep": "representative",
    "coord": "coordinator",
    "supv": "supervisor",
    "supvr": "supervisor",
    "dir": "director",
    "exec": "executive",
    "spec": "specialist",
    "dept": "department",
    "intl": "international",
    "acct": "accountant",
    "ofcr": "officer",
    "op": "operator",
    "opr": "operator",
    "svc": "service",
    "svcs": "services",
    "cust": "customer",
    "hr": "human resources",
    "it": "IT",
    "qa": "quality assurance",
    "rn": "registered nurse",
    "lpn": "licensed practical nurse",
    "cna": "certified nursing assistant",
    "hgv": "heavy goods vehicle",
    "&": "and",
}

_GENDER = re.compile(
    r"\(\s*(?:[a-z]{1,3}\s*/\s*){1,3}[a-z]{1,3}\s*\)|\b[mwfhd]\s*/\s*[mwfhd](?:\s*/\s*[mwfhdx])?\b|"
    r"\((?:all genders?|any gender)\)",
    re.IGNORECASE,
)
_PAY = re.compile(
    r"(?:up to\s+)?[£$€]\s?\d[\d,.]*\s*[kK]?(?:\s*(?:-|–|to)\s*[£$€]?\s?\d[\d,.]*\s*[kK]?)?"
    r"(?:\s*(?:/|per)\s*(?:hr|hour|h|annum|year|yr|day))?(?:\s*\+\s*benefits)?|\bDOE\b|\bcompetitive salary\b",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"<[A-Z_]+>")
_NOISE_WORDS = re.compile(
    r"\b(?:senior|snr|sr|junior|jnr|jr|graduate|trainee|experienced|entry[- ]level|mid[- ]level|"
    r"full[- ]time|part[- ]time|contract|temporary|temp|permanent|fixed[- ]term|freelance|"
    r"remote|hybrid|home[- ]based|on[- ]site|nights?|weekends?|days|immediate start|maternity cover|"
    r"\d+\s*months?(?:\s+contract)?|job|vacancy|position|opening|role|hiring|we're hiring|we are hiring|"
    r"urgent(?:ly)?|new|apply now)\b\.?",
    re.IGNORECASE,
)
_LEVEL = re.compile(r"\b(?:i{1,3}|iv|level\s*\d)\s*$", re.IGNORECASE)
_EMPLOYER = re.compile(r"\s+(?:at|@|for)\s+.*$", re.IGNORECASE)
_SEPARATORS = re.compile(r"\s+[-–—|/@:]\s+|\s*[|:–—]\s*|,\s+|\s+-\s*|\s*\(\s*|\s*\)\s*")
_WORD = re.compile(r"[A-Za-z&]+\.?")
_VOCAB_WORD = re.compile(r"[a-zA-Z]+")


def _expand(text: str) -> str:
    """Expand whole-word title abbreviations (:data:`TITLE_ABBREVIATIONS`)."""

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        key = word.rstrip(".").lower()
        return TITLE_ABBREVIATIONS.get(key, word)

    return _WORD.sub(swap, text)


def _tidy(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip(" ,-/|:.–—&") if text else ""


def clean_title(title: str) -> str:
    """A job title without gender markers, placeholders, pay, seniority, employment terms or trailing qualifiers.

    Returns the first part between separators that is left after cleaning (the title of a typical vacancy comes
    first); :func:`title_variants` gives every part. Falls back to the stripped input when cleaning leaves nothing.
    """
    parts = _clean_parts(title)
    return parts[0] if parts else str(title or "").strip()


def title_variants(title: str) -> list[str]:
    """The texts to search for a title: the cleaned whole title first, then each cleaned part, distinct.

    A title without separators gives one variant; one with separators gives the cleaned parts joined and then
    each part. Variants that differ only in case count once.

    Cleaning removes gender markers, placeholders (``<LOCATION>``), pay, seniority and employment words, level
    numerals and a trailing employer ("at Acme"), and expands title abbreviations ("Sr. Mgr" -> "manager").
    """
    parts = _clean_parts(title)
    if not parts:
        raw = str(title or "").strip()
        return [raw] if raw else []
    variants = ([_tidy(" ".join(parts))] if len(parts) > 1 else []) + parts
    distinct: dict[str, str] = {}
    for variant in variants:
        distinct.setdefault(variant.casefold(), variant)
    return list(distinct.values())


def _clean_parts(title: str) -> list[str]:
    """The cleaned, non-empty parts of a title between separators, in order."""
    text = _PLACEHOLDER.sub(" ", _GENDER.sub(" ", str(title or "")))
    text = _PAY.sub(" ", text)
    cleaned = (_clean_part(part) for part in _SEPARATORS.split(text) if part and part.strip())
    return [part for part in cleaned if part]


def _clean_part(part: str) -> str:
    text = _EMPLOYER.sub(" ", f" {part}")
    text = _NOISE_WORDS.sub(" ", text)
    text = _LEVEL.sub(" ", _tidy(text))
    text = _expand(_tidy(text))
    return _tidy(text)


class TitleLexicon:
    """Character n-gram (3 to 5, within words) TF-IDF similarity between titles and a fixed list of labels.

    Also corrects misspelt words of a title against the words of the labels (:meth:`correct`).

    Args:
        labels: The label texts (one row per label).
    """

    def __init__(self, labels: Sequence[str]) -> None:
        counts: Counter[str] = Counter(w for text in labels for w in _VOCAB_WORD.findall(str(text).lower()))
        self._vocabulary = counts
        self._words = list(counts)
        self._vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(3, 5), lowercase=True, sublinear_tf=True, dtype=np.float32
        )
        self._matrix = self._vectorizer.fit_transform([str(t) for t in labels]) if len(labels) else None

    def correct(self, text: str) -> str:
        """``text`` with each word the labels never use replaced by the closest label word, if one is close.

        Close: optimal-string-alignment distance (insertions, deletions, substitutions and swaps of adjacent
        letters count one edit each) 1 for words of 4 to 7 letters, 2 for longer words; among equally close
        words the more frequent wins. Words of 3 letters or fewer, known words and words with no close match stay.
        """

        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            lower = word.lower()
            if len(lower) < 4 or lower in self._vocabulary or not self._words:
                return word
            limit = 1 if len(lower) < 8 else 2
            found = process.extract(lower, self._words, scorer=OSA.distance, score_cutoff=limit, limit=20)
            if not found:
                return word
            best = min(found, key=lambda hit: (hit[1], -self._vocabulary[hit[0]], hit[0]))
            return str(best[0])

        return _VOCAB_WORD.sub(fix, text)

    def top(self, queries: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best labels per query: ``(scores, rows)``, each of shape ``(len(queries), k)``; -1 pads."""
        scores = np.zeros((len(queries), k), dtype=np.float32)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        matrix = self._matrix
        if matrix is None or not matrix.shape[0] or not len(queries):
            return scores, rows
        n = matrix.shape[0]
        # labels x queries keeps the big matrix in its own (CSR) layout: no per-call conversion of it
        sims = (matrix @ self._vectorizer.transform([str(q) for q in queries]).T).T.toarray()
        take = min(k, n)
        part = np.argpartition(-sims, take - 1, axis=1)[:, :take]
        order = np.take_along_axis(sims, part, axis=1).argsort(axis=1)[:, ::-1]
        best = np.take_along_axis(part, order, axis=1)
        rows[:, :take] = best
        scores[:, :take] = np.take_along_axis(sims, best, axis=1)
        return scores, rows

    def score(self, queries: Sequence[str], rows: np.ndarray) -> np.ndarray:
        """The similarity of each query to the labels at ``rows`` (shape ``(len(queries), m)``; -1 scores 0)."""
        out = np.zeros(rows.shape, dtype=np.float32)
        if self._matrix is None or not len(queries):
            return out
        q = self._vectorizer.transform([str(x) for x in queries])
        for i in range(rows.shape[0]):
            valid = rows[i] >= 0
            if valid.any():
                out[i, valid] = (self._matrix[rows[i, valid]] @ q[i].T).toarray().ravel()
        return out
