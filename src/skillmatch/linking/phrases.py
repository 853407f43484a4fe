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
#: Words that never start or end a skill n-gram on their own.
_FILLER = _NOT_A_SKILL | {
    "a",
    "an",
    "the",
    "and",
    "or",
    "of",
    "in",
    "on",
    "at",
    "to",
    "for",
    "with",
    "by",
    "from",
    "as",
    "is",
    "are",
    "be",
    "our",
    "your",
    "their",
    "his",
    "her",
    "its",
    "who",
    "which",
    "will",
    "can",
    "must",
    "should",
    "not",
    "strong",
    "good",
    "great",
    "excellent",
    "solid",
    "proven",
    "basic",
    "advanced",
    "deep",
    "working",
    "plus",
    "similar",
    "etc",
    "e.g",
    "i.e",
    "using",
    "use",
    "such",
    "other",
    "new",
    "able",
    "well",
    "also",
    "very",
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


def word_ngrams(text: str, max_n: int = 3) -> list[str]:
    """The word n-grams of a short text (1 to ``max_n`` words), in order, without the text itself.

    Words are split on white space with surrounding punctuation trimmed; n-grams made only of cue or filler
    words ("experience", "and", "with") are left out.
    """
    words = [w.strip(".,;:!?()[]{}\"'") for w in text.split()]
    words = [w for w in words if w]
    out: list[str] = []
    for n in range(1, min(max_n, len(words) - 1) + 1):
        for start in range(len(words) - n + 1):
            gram = words[start : start + n]
            if all(w.lower() in _FILLER for w in gram):
                continue
            if gram[0].lower() in _FILLER or gram[-1].lower() in _FILLER:
                continue
            out.append(" ".join(gram))
    return out


def sentence_segments(text: str) -> list[tuple[str, list[str]]]:
    """The segments of a text grouped by sentence: ``(sentence, segments)`` pairs in order of appearance.

    A sentence's segments are the sentence itself (when not too long) and its candidate phrases. Segments are
    de-duplicated case-insensitively across the whole text (a repeat stays with its first sentence), so a
    sentence may end up with no segments.
    """
    seen: set[str] = set()
    out: list[tuple[str, list[str]]] = []
    for sentence in split_sentences(text):
        segs: list[str] = []
        parts = [sentence] if len(sentence.split()) <= _MAX_SENTENCE_WORDS else []
        for segment in [*parts, *candidate_phrases(sentence)]:
            key = segment.lower()
            if key and key not in seen:
                seen.add(key)
                segs.append(segment)
        out.append((sentence, segs))
    return out


def segments(text: str) -> list[str]:
    """All segments of a text to match against skill labels.

    These are each sentence (when not too long) and its candidate phrases, de-duplicated case-insensitively,
    in order of appearance.
    """
    return [segment for _, segs in sentence_segments(text) for segment in segs]
