"""Sentence and phrase splitting."""

from __future__ import annotations

from skillmatch.linking.phrases import (
    candidate_phrases,
    segments,
    sentence_segments,
    split_sentences,
    word_ngrams,
)


def test_sentences_and_bullets() -> None:
    text = "Build dashboards. Present results to managers!\n- Python\n* SQL; Excel\n2) Tableau"
    assert split_sentences(text) == [
        "Build dashboards",
        "Present results to managers",
        "Python",
        "SQL",
        "Excel",
        "Tableau",
    ]


def test_lists_and_cue_words_are_cut_into_phrases() -> None:
    phrases = candidate_phrases("Strong experience with Kubernetes, Docker and Terraform (e.g. AWS or Azure)")
    assert phrases[:1] == ["Kubernetes"]
    for skill in ("Docker", "Terraform", "AWS", "Azure"):
        assert skill in phrases
    assert "experience" not in phrases


def test_segments_keep_sentence_and_phrases_once() -> None:
    segs = segments("Knowledge of SQL and sql. SQL")
    assert segs[0] == "Knowledge of SQL and sql"
    assert [s.lower() for s in segs].count("sql") == 1


def test_empty_and_whitespace() -> None:
    assert segments("") == []
    assert segments("  \n \n") == []


def test_sentence_segments_group_by_sentence_and_match_segments() -> None:
    text = "Knowledge of SQL and Excel. Use Excel daily\n- Python"
    groups = sentence_segments(text)
    assert [sentence for sentence, _ in groups] == ["Knowledge of SQL and Excel", "Use Excel daily", "Python"]
    assert groups[0][1] == ["Knowledge of SQL and Excel", "SQL", "Excel"]
    assert groups[1][1] == ["Use Excel daily"]  # "Excel" was already a segment of the first sentence
    assert [s for _, segs in groups for s in segs] == segments(text)


def test_word_ngrams_of_short_keyword_lists() -> None:
    assert word_ngrams("javascript reactjs java") == [
        "javascript",
        "reactjs",
        "java",
        "javascript reactjs",
        "reactjs java",
    ]
    # the text itself is not repeated; filler words neither start nor end an n-gram
    assert word_ngrams("C# or other backend languages", 2) == [
        "C#",
        "backend",
        "languages",
        "backend languages",
    ]
    assert word_ngrams("(SQL),") == []
    assert word_ngrams("") == []
