"""Sentence and phrase splitting."""

from __future__ import annotations

from skillmatch.phrases import candidate_phrases, segments, split_sentences


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
