"""The n-gram pre-filter: n-grams that can name no label are neither encoded nor searched; label n-grams stay."""

from __future__ import annotations

import re
from typing import get_args

import pytest
from fakes import CountingEncoder, HashingEncoder, make_concepts

from skillmatch.config import Settings
from skillmatch.index import VectorIndex
from skillmatch.linking.link_cache import linker_signature
from skillmatch.linking.linker import SkillLinker, label_table, link_options
from skillmatch.linking.vocabulary import NGRAM_FILTERS, LabelVocabulary, word_key, word_keys

CONCEPTS = make_concepts(
    [
        ("c:sql", "SQL", ["structured query language"]),
        ("c:python", "Python (computer programming)", ["python"]),
        ("c:cpp", "C++", ["c++ programming"]),
        ("c:pm", "project management", ["manage projects"]),
        ("c:budget", "manage budgets", ["budget planning"]),
        ("c:nursing", "provide nursing care", ["nursing care"]),
        ("c:cafe", "run a café", ["café management"]),
    ]
)
LABELS = label_table(CONCEPTS)["text"].tolist()

#: Words of no label.
JUNK = "zorbly <ORGANIZATION> qwix"


def make_linker(encoder: object | None = None, **options: object) -> SkillLinker:
    labels = label_table(CONCEPTS)
    index = VectorIndex(kind="flat").build(HashingEncoder().encode(labels["text"].tolist()))
    names = dict(zip(CONCEPTS["id"], CONCEPTS["label"], strict=True))
    return SkillLinker(encoder or HashingEncoder(), labels, index, names, **options)  # type: ignore[arg-type]


def ngrams_of(linker: SkillLinker, text: str) -> set[str]:
    """The n-gram segments the linker makes of ``text`` (its parts that are not a sentence or a phrase)."""
    plain = make_linker(ngram_max_words=0)
    whole = {seg for seg, _ in plain.parts(text)}
    return {seg for seg, _ in linker.parts(text)} - whole


# --- word keys -------------------------------------------------------------------------------------------------


def test_word_keys_fold_case_accents_and_endings() -> None:
    assert word_keys("Managing BUDGETS") == word_keys("manage budget")
    assert word_keys("databases") == word_keys("Database")
    assert word_keys("technologies") == ["technology"]
    assert word_keys("Café") == word_keys("cafe")
    assert word_keys("C++ and C#") == ["c++", "and", "c#"]
    # short words and double-s words keep their ending
    assert word_key("used") == "used" and word_key("business") == "business"


# --- the modes -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gram", "expected"),
    [
        # (off, words, cooccur, contiguous, label)
        ("project management", (True, True, True, True, True)),
        ("Project Managements", (True, True, True, True, True)),
        ("management project", (True, True, True, False, False)),
        ("project", (True, True, True, True, False)),
        ("python management", (True, True, False, False, False)),
        ("computer programming", (True, True, True, True, False)),
        ("C++", (True, True, True, True, True)),
        ("managing budget", (True, True, True, True, True)),
        ("zorbly", (True, False, False, False, False)),
        ("python zorbly", (True, False, False, False, False)),
        ("<ORGANIZATION>", (True, False, False, False, False)),
        ("...", (True, False, False, False, False)),
    ],
)
def test_each_mode_keeps_what_it_promises(gram: str, expected: tuple[bool, ...]) -> None:
    kept = tuple(LabelVocabulary(LABELS, mode).keeps(gram) for mode in NGRAM_FILTERS)
    assert kept == expected


@pytest.mark.parametrize("mode", NGRAM_FILTERS)
def test_every_label_passes_every_mode(mode: str) -> None:
    vocabulary = LabelVocabulary(LABELS, mode)
    for text in LABELS:
        assert vocabulary.keeps(text), text
        assert vocabulary.keeps(text.upper()), text


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="ngram filter"):
        LabelVocabulary(LABELS, "fuzzy")
    with pytest.raises(ValueError, match="ngram filter"):
        make_linker(ngram_max_words=12, ngram_filter="fuzzy")


def test_off_builds_nothing() -> None:
    assert len(LabelVocabulary(LABELS, "off")) == 0
    assert len(LabelVocabulary(LABELS, "words")) > 0


# --- in the linker ---------------------------------------------------------------------------------------------


TEXT = f"{JUNK} sql python project management qwix c++"


@pytest.mark.parametrize("mode", [m for m in NGRAM_FILTERS if m != "off"])
def test_the_linker_drops_ngrams_that_match_no_label(mode: str) -> None:
    everything = ngrams_of(make_linker(ngram_max_words=12), TEXT)
    kept = ngrams_of(make_linker(ngram_max_words=12, ngram_filter=mode), TEXT)
    junk = set(JUNK.split())
    assert {"zorbly", "qwix", "<ORGANIZATION>", "sql python", "qwix c++"} <= everything
    assert not {g for g in kept if junk & set(g.split())}
    # n-grams that are labels stay, whatever the mode
    assert {"sql", "python", "c++", "project management"} <= kept
    assert kept < everything


@pytest.mark.parametrize("mode", NGRAM_FILTERS)
def test_ngrams_that_are_labels_are_never_dropped(mode: str) -> None:
    linker = make_linker(ngram_max_words=12, ngram_filter=mode)
    plain = [label for label in LABELS if re.fullmatch(r"[\w+]+( [\w+]+){0,2}", label)]
    assert len(plain) >= 8
    for label in plain:
        text = f"{JUNK} {label} {JUNK}"
        assert label in ngrams_of(linker, text), (mode, label)


def test_dropped_ngrams_are_not_encoded_but_sentences_and_phrases_are() -> None:
    encoder = CountingEncoder()
    linker = make_linker(encoder, ngram_max_words=12, ngram_filter="cooccur")
    text = f"{TEXT}. Zorbly qwix"
    linker.link([text])
    encoded = {t for batch in encoder.batches for t in batch}
    assert not {"zorbly", "qwix", "zorbly <ORGANIZATION> qwix", "sql python"} & encoded
    assert {"sql", "python", "c++", "project management"} <= encoded
    # the junk sentence is still a segment (it is the context of its phrases)
    assert {TEXT, "Zorbly qwix"} <= encoded


def test_a_label_mention_links_the_same_with_the_filter() -> None:
    for mode in NGRAM_FILTERS:
        linker = make_linker(ngram_max_words=12, ngram_filter=mode, min_score=0.5)
        [found] = linker.link([TEXT])
        assert {"c:sql", "c:python", "c:cpp", "c:pm"} <= {s.id for s in found}, mode


def test_the_filter_is_a_linking_option_in_settings_and_signature() -> None:
    assert Settings().link_ngram_filter in NGRAM_FILTERS
    assert get_args(Settings.model_fields["link_ngram_filter"].annotation) == NGRAM_FILTERS
    options = link_options(Settings(link_ngram_filter="label"))
    assert options["ngram_filter"] == "label"
    encoder = HashingEncoder()
    off = make_linker(encoder, ngram_max_words=12)
    words = make_linker(encoder, ngram_max_words=12, ngram_filter="words")
    assert words.options()["ngram_filter"] == "words"
    assert linker_signature(off, encoder.fingerprint) != linker_signature(words, encoder.fingerprint)
