"""Browse the credential catalogue of a bundle: semantic search over learning outcomes, title match, filters.

A query is encoded once and searched against the bundle's outcome index; each credential scores the cosine
similarity of its best-matching outcome. Independently, the query's content words are looked up in credential
titles: the share of them found in a title is that credential's title score (1.0 when the whole query is a
substring of the title). A credential's score is the higher of the two, so an exact title hit ranks first and
semantic hits below ``min_score`` are dropped. Without a query every credential passing the filters is listed
by title.

A :class:`CredentialCatalogue` is built once per loaded bundle (the API builds it next to the
:class:`~skillmatch.matching.context.MatchContext`) and is read-only afterwards, so one instance serves concurrent requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from skillmatch.currencies import iso_currency
from skillmatch.matching.context import MatchContext
from skillmatch.matching.gaps import UnknownCredentialError
from skillmatch.schema import Mode, parse_level

#: Most outcome hits fetched from the index per query (bounds the cost of one search on a large catalogue).
MAX_OUTCOME_HITS = 1000

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _words(text: str) -> set[str]:
    """Lower-cased content words of a text (stop words and one-letter tokens removed)."""
    return {w for w in _WORD.findall(text.lower()) if len(w) > 1 and w not in ENGLISH_STOP_WORDS}


@dataclass
class CredentialFilter:
    """Filters on the catalogue; empty lists and ``None`` mean "any".

    ``max_cost`` is in ``currency`` (converted with the matcher's rates); with ``max_cost`` or ``max_hours``
    set, credentials whose cost or duration is unknown (or unconvertible) are left out.
    """

    levels: list[str] = field(default_factory=list)
    modes: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    max_hours: float | None = None
    max_cost: float | None = None
    currency: str = "EUR"

    def __post_init__(self) -> None:
        for name in ("max_hours", "max_cost"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        self.levels = [str(parse_level(v)) for v in self.levels if str(v).strip()]
        known_modes = {m.value for m in Mode}
        self.modes = [m.strip().lower() for m in self.modes if m.strip()]
        for mode in self.modes:
            if mode not in known_modes:
                raise ValueError(f"unknown mode {mode!r}; use one of {sorted(known_modes)}")
        self.languages = [lang.strip().lower() for lang in self.languages if lang.strip()]
        self.currency = iso_currency(self.currency)


@dataclass
class CredentialHit:
    """One credential found: its summary, score and why it matched (score is None when listing)."""

    credential: dict[str, Any]
    score: float | None
    match: str | None
    evidence: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the summary fields plus ``score``, ``match`` and ``evidence``."""
        return {**self.credential, "score": self.score, "match": self.match, "evidence": self.evidence}


@dataclass
class SearchResult:
    """A page of hits and the number of credentials that matched in all."""

    total: int
    items: list[CredentialHit]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"total": self.total, "items": [h.to_dict() for h in self.items]}


class CredentialCatalogue:
    """Search, filter and look up the credentials of a matcher's bundle."""

    def __init__(self, matcher: MatchContext) -> None:
        self.matcher = matcher
        bundle = matcher.bundle
        if len(bundle.outcomes) != bundle.outcome_index.rows:
            raise ValueError(
                f"bundle {bundle.path}: the outcome table has {len(bundle.outcomes)} rows but the outcome "
                f"index has {bundle.outcome_index.rows}; rebuild the bundle"
            )
        self._outcome_owner = bundle.outcomes["credential_id"].to_numpy(dtype=object)
        self._outcome_text = bundle.outcomes["text"].to_numpy(dtype=object)
        self._titles = {cid: str(c.get("title") or "") for cid, c in matcher.credentials_by_id.items()}
        self._title_words = {cid: _words(title) for cid, title in self._titles.items()}
        self._by_title = sorted(matcher.credentials_by_id, key=lambda c: (self._titles[c].lower(), c))

    def __len__(self) -> int:
        return len(self._by_title)

    def passes(self, cid: str, flt: CredentialFilter) -> bool:
        """Whether credential ``cid`` passes the filters."""
        c = self.matcher.credentials_by_id[cid]
        if flt.levels and c.get("level") not in flt.levels:
            return False
        if flt.modes and c.get("mode") not in flt.modes:
            return False
        if flt.languages and str(c.get("language") or "").lower() not in flt.languages:
            return False
        if flt.max_hours is not None:
            hours = c.get("duration_hours")
            if hours is None or float(hours) > flt.max_hours:
                return False
        if flt.max_cost is not None:
            cost = self.matcher.cost_in(c.get("cost"), c.get("currency"), flt.currency)
            if cost is None or cost > flt.max_cost:
                return False
        return True

    def _semantic(self, query: str) -> dict[str, tuple[float, str]]:
        """Best outcome score and text per credential for ``query``."""
        index = self.matcher.bundle.outcome_index
        if not index.rows:
            return {}
        vector = self.matcher.encoder.encode([query])
        scores, rows = index.search(vector, min(index.rows, MAX_OUTCOME_HITS))
        best: dict[str, tuple[float, str]] = {}
        for score, row in zip(scores[0], rows[0], strict=True):
            if row < 0:
                continue
            cid = str(self._outcome_owner[row])
            if cid not in best:  # hits come best first
                best[cid] = (round(float(score), 4), str(self._outcome_text[row]))
        return best

    def _title_scores(self, query: str) -> dict[str, float]:
        """Share of the query's content words found in each title (1.0 for a substring match)."""
        text = " ".join(query.lower().split())
        words = _words(query)
        out: dict[str, float] = {}
        for cid, title in self._titles.items():
            if text and text in " ".join(title.lower().split()):
                out[cid] = 1.0
            elif words:
                share = len(words & self._title_words[cid]) / len(words)
                if share > 0:
                    out[cid] = round(share, 4)
        return out

    def search(
        self,
        query: str | None = None,
        filters: CredentialFilter | None = None,
        *,
        limit: int = 20,
        offset: int = 0,
        min_score: float = 0.35,
    ) -> SearchResult:
        """Credentials matching ``query`` (best first) or all of them (by title), filtered and paginated.

        Args:
            query: free text; ``None`` or blank lists the catalogue.
            filters: level, mode, language, duration and cost filters.
            limit: page size (>= 1).
            offset: hits skipped before the page (>= 0).
            min_score: semantic hits below this score are dropped (title hits are always kept).

        Raises:
            ValueError: ``limit`` or ``offset`` out of range.
        """
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        if offset < 0:
            raise ValueError(f"offset must be >= 0, got {offset}")
        flt = filters or CredentialFilter()
        if flt.max_cost is not None:
            self.matcher.check_currency(
                flt.currency
            )  # unconvertible: an error, not an empty or free catalogue
        query = (query or "").strip()
        hits: list[CredentialHit] = []
        if not query:
            for cid in self._by_title:
                if self.passes(cid, flt):
                    hits.append(CredentialHit(self.summary(cid), None, None, None))
        else:
            semantic = self._semantic(query)
            titles = self._title_scores(query)
            scored: list[tuple[float, str, str, str | None]] = []
            for cid in set(semantic) | set(titles):
                sem_score, evidence = semantic.get(cid, (None, None))
                by_outcome = sem_score is not None and sem_score >= min_score
                by_title = cid in titles
                if not (by_outcome or by_title) or not self.passes(cid, flt):
                    continue
                match = "+".join(k for k, ok in (("title", by_title), ("outcome", by_outcome)) if ok)
                score = max(titles.get(cid, 0.0), sem_score if by_outcome and sem_score is not None else 0.0)
                scored.append((score, cid, match, evidence if by_outcome else None))
            scored.sort(key=lambda s: (-s[0], self._titles[s[1]].lower(), s[1]))
            hits = [CredentialHit(self.summary(cid), score, match, ev) for score, cid, match, ev in scored]
        return SearchResult(total=len(hits), items=hits[offset : offset + limit])

    def summary(self, cid: str) -> dict[str, Any]:
        """The summary fields of one credential."""
        return self.matcher.credential_summary(cid)

    def get(self, cid: str) -> dict[str, Any]:
        """Every field of one credential plus the taxonomy skills it is linked to (best first).

        Raises:
            UnknownCredentialError: the bundle has no credential ``cid``.
        """
        record = self.matcher.credentials_by_id.get(cid)
        if record is None:
            raise UnknownCredentialError(f"unknown credential id {cid!r}")
        labels = self.matcher.concept_labels
        links = sorted(self.matcher.credential_links.get(cid, []), key=lambda link: (-link[1], link[0]))
        return {
            **record,
            "linked_skills": [
                {"skill_id": sid, "label": labels.get(sid, sid), "score": round(score, 4), "evidence": ev}
                for sid, score, ev in links
            ],
        }
