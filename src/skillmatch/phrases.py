"""Split free text into sentences and skill-bearing phrases (rule-based, language: English).

Job ads, learning outcomes and CVs name skills in lists ("Python, SQL and Power BI"), after cue words
("experience with Kubernetes") or inside longer sentences. The linker encodes the whole sentence *and*
the shorter phrases cut out of it, then keeps the best hit per concept.
"""

from __future__ import annotations

import re

_BULLET = re.compile(r"^\s*(?:[-*•·▪◦‣–—]|\d{1,2}[.)])\s+")
_SENT_SPLIT = re.compile(r"(?<=[.!?;])\s+(?=[A-Z0-9(\"'])|\n+|\s+[•·▪◦‣]\s+")
_PHRASE_SPLIT = re.compile(
    r"\s*(?:[,;:()\[\]{}]|\s-\s|\s–\s|\s/\s|&|\band/or\b|\band\b|\bor\b|\bas well as\b|\bsuch as\b|"
    r"\bincluding\b|\bincl\.|\be\.g\.|\bi\.e\.|\blike\b|\bplus\b|\bwith\b|\busing\b|\bvia\b|\bin order to\b)\s*",
    re.IGNORECASE,
)
_CUE = re.compile(
    r"^(?:(?:you\s+(?:will|have|are|should|must|can)|we\s+(?:expect|require|need)|must\s+have|"
    r"(?:very\s+)?(?:strong|excellent|good|great|solid|proven|sound|basic|advanced|deep|broad|working|hands-on|"
    r"practical|demonstrable|demonstrated|relevant|professional|extensive|some|first)|"
    r"(?:\d+\+?\s+)?years?(?:\s+of)?|experience|experienced|knowledge|understanding|familiarity|proficiency|"
    r"proficient|expertise|skills?|ability|able|capable|competence|competent|background|"
    r"(?:in|of|with|to|at|on|the|a|an|be|is|are|have|has|your|our|their))\s+)+",
    re.IGNORECASE,
)
_NOT_A_SKILL = {
    "experience",
    "knowledge",
    "skills",
    "skill",
    "ability",
    "understanding",
    "expertise",
    "proficiency",
    "background",
    "familiarity",
    "competence",
    "requirements",
    "responsibilities",
    "tasks",
    "qualifications",
    "you",
    "we",
    "they",
    "it",
    "this",
    "that",
    "etc",
    "other",
    "others",
    "more",
    "years",
    "year",
}
_TRAIL = re.compile(r"[\s.!?,;:]+$")
_TRAIL_CUE = re.compile(r"\s+(?:skills?|experience|knowledge|expertise|proficiency|abilities|ability)$", re.I)
_MAX_PHRASE_WORDS = 12
_MAX_SENTENCE_WORDS = 48


def split_sentences(text: str) -> list[str]:
    """Split text into sentences and list items, trimmed, in order, without empties."""
    out: list[str] = []
    for line in re.split(r"\r?\n", text or ""):
        line = _BULLET.sub("", line).strip()
        if not line:
            continue
        for part in _SENT_SPLIT.split(line):
            part = _TRAIL.sub("", part.strip())
            if part:
                out.append(part)
    return out


def _clean_phrase(phrase: str) -> str:
    phrase = _TRAIL.sub("", phrase.strip(" \t\"'`*"))
    phrase = _CUE.sub("", phrase).strip()
    return _TRAIL_CUE.sub("", phrase).strip()


def candidate_phrases(sentence: str) -> list[str]:
    """Phrases of one sentence that may name a skill: list items and cue-stripped chunks (1–12 words)."""
    out: list[str] = []
    for raw in _PHRASE_SPLIT.split(sentence):
        phrase = _clean_phrase(raw)
        words = phrase.split()
        if not words or len(words) > _MAX_PHRASE_WORDS or phrase.lower() in _NOT_A_SKILL:
            continue
        if len(words) == 1 and len(phrase) < 2:
            continue
        out.append(phrase)
    return out


def segments(text: str) -> list[str]:
    """All segments of a text to match against skill labels: each sentence (when not too long) and its
    candidate phrases; de-duplicated case-insensitively, in order of appearance."""
    seen: set[str] = set()
    out: list[str] = []

    def add(segment: str) -> None:
        key = segment.lower()
        if key and key not in seen:
            seen.add(key)
            out.append(segment)

    for sentence in split_sentences(text):
        if len(sentence.split()) <= _MAX_SENTENCE_WORDS:
            add(sentence)
        for phrase in candidate_phrases(sentence):
            add(phrase)
    return out
