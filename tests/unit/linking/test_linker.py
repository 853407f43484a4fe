"""Linking logic with a deterministic fake encoder: label table, aggregation, thresholds, evidence."""

from __future__ import annotations

import pandas as pd
import pytest
from fakes import HashingEncoder, make_concepts
from sklearn.feature_extraction.text import TfidfVectorizer

from skillmatch.config import Settings
from skillmatch.index import VectorIndex
from skillmatch.linking import linker as linking
from skillmatch.linking.linker import SkillLinker, label_table, link_options

CONCEPTS = make_concepts(
    [
        ("c:sql", "SQL", ["structured query language", "sql"]),
        ("c:python", "Python (computer programming)", ["python programming", "python"]),
        ("c:excel", "use spreadsheets software", ["excel", "microsoft excel"]),
        ("c:nursing", "provide nursing care", ["nursing care"]),
    ]
)


def make_linker(encoder: HashingEncoder, **kwargs: object) -> SkillLinker:
    labels = label_table(CONCEPTS)
    index = VectorIndex().build(encoder.encode(labels["text"].tolist()))
    names = dict(zip(CONCEPTS["id"], CONCEPTS["label"], strict=True))
    return SkillLinker(encoder, labels, index, names, **kwargs)  # type: ignore[arg-type]


def test_label_table_rows_and_dedup() -> None:
    labels = label_table(CONCEPTS)
    assert list(labels.columns) == ["concept_id", "text", "kind"]
    sql = labels[labels.concept_id == "c:sql"]
    # "sql" duplicates the preferred label case-insensitively and is kept once
    assert sql["text"].tolist() == ["SQL", "structured query language"]
    assert sql["kind"].tolist() == ["preferred", "alt"]
    assert len(label_table(CONCEPTS, include_alt=False)) == 4


def test_link_aggregates_per_concept_with_evidence() -> None:
    linker = make_linker(HashingEncoder(), min_score=0.5)
    [found] = linker.link(["We need Python programming, Excel and SQL skills."])
    ids = [s.id for s in found]
    assert set(ids) >= {"c:python", "c:excel", "c:sql"}
    assert "c:nursing" not in ids
    assert len(ids) == len(set(ids))
    scores = [s.score for s in found]
    assert scores == sorted(scores, reverse=True)
    excel = next(s for s in found if s.id == "c:excel")
    assert excel.evidence == "Excel"
    assert excel.matched_label == "excel"
    assert excel.label == "use spreadsheets software"
    assert excel.score > 0.99


def test_threshold_and_top_k_and_order_of_texts() -> None:
    linker = make_linker(HashingEncoder(), min_score=0.5)
    texts = ["nursing care for patients", "", "excel"]
    results = linker.link(texts, top_k=1)
    assert [len(r) for r in results] == [1, 0, 1]
    assert results[0][0].id == "c:nursing"
    assert results[2][0].id == "c:excel"
    assert linker.link(["zzzz qqqq"], min_score=0.9) == [[]]
    # a low threshold gives a full ranking to depth k
    assert len(linker.link(["zzzz qqqq"], min_score=-1, top_k=4)[0]) == 4


def test_identical_segments_are_encoded_once() -> None:
    encoder = HashingEncoder()
    linker = make_linker(encoder)
    encoder.calls.clear()
    linker.link(["SQL", "SQL", "sql"], min_score=-1)
    assert encoder.calls == [2]  # "SQL" and "sql" (case kept for the model)


def test_normalise_explicit_skill_lists() -> None:
    linker = make_linker(HashingEncoder(), min_score=0.5)
    result = linker.normalise(
        ["Microsoft Excel", "", "structured query language", "underwater basket weaving"]
    )
    assert result[0][0].id == "c:excel"
    assert result[1] == []
    assert result[2][0].id == "c:sql"
    assert result[3] == []


def test_label_table_handles_missing_alt_labels() -> None:
    frame = pd.DataFrame({"id": ["a"], "label": ["x"], "alt_labels": [None]})
    assert label_table(frame)["text"].tolist() == ["x"]


# --- the tuned options: lexical fusion, sentence context, n-grams, multi-hit bonus -----------------------------


def test_link_options_follow_the_settings() -> None:
    settings = Settings(
        link_candidates=7,
        link_min_score=0.3,
        link_top_k=4,
        link_lexical_weight=0.25,
        link_context_weight=0.4,
        link_ngram_max_words=5,
        link_ngram_filter="contiguous",
        link_multi_hit_bonus=0.01,
    )
    linker = make_linker(HashingEncoder(), **link_options(settings))
    assert linker.options() == {
        "candidates": 7,
        "min_score": 0.3,
        "top_k": 4,
        "lexical_weight": 0.25,
        "context_weight": 0.4,
        "ngram_max_words": 5,
        "ngram_filter": "contiguous",
        "multi_hit_bonus": 0.01,
    }
    assert linker.lexicon is not None
    assert make_linker(HashingEncoder()).lexicon is None  # the class defaults are the plain dense linker


@pytest.mark.parametrize(
    "kwargs", [{"lexical_weight": 1.5}, {"context_weight": -0.1}, {"ngram_max_words": -1}, {"candidates": 0}]
)
def test_bad_options_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        make_linker(HashingEncoder(), **kwargs)


def cosine(encoder: HashingEncoder, a: str, b: str) -> float:
    va, vb = encoder.encode([a, b])
    return float(va @ vb)


def test_lexical_fusion_blends_word_overlap_into_the_score() -> None:
    encoder = HashingEncoder()
    w = 0.3
    linker = make_linker(encoder, lexical_weight=w)
    labels = label_table(CONCEPTS)["text"].tolist()
    vectorizer = TfidfVectorizer(token_pattern=r"(?u)\w[\w+#]*", sublinear_tf=True, strip_accents="unicode")
    matrix = vectorizer.fit_transform(labels)
    query = "python scripts"
    lexical = (vectorizer.transform([query]) @ matrix.T).toarray()[0]
    [found] = linker.normalise([query], min_score=-1, top_k=4)
    python = next(s for s in found if s.id == "c:python")
    expected = max(
        (1 - w) * cosine(encoder, query, text) + w * lexical[i]
        for i, text in enumerate(labels)
        if label_table(CONCEPTS)["concept_id"][i] == "c:python"
    )
    assert python.score == pytest.approx(expected, abs=1e-3)
    # an exact label keeps a perfect score
    assert linker.normalise(["microsoft excel"])[0][0].score == pytest.approx(1.0, abs=1e-3)


def test_lexical_candidates_are_found_even_when_dense_search_misses_them() -> None:
    encoder = HashingEncoder()
    # with one dense candidate per segment, nursing care is only reachable through the shared word "care"
    plain = make_linker(encoder, candidates=1)
    fused = make_linker(encoder, candidates=1, lexical_weight=0.5)
    query = "spreadsheets care"
    assert [s.id for s in plain.normalise([query], min_score=-1, top_k=5)[0]] == ["c:excel"]
    assert {s.id for s in fused.normalise([query], min_score=-1, top_k=5)[0]} == {"c:excel", "c:nursing"}


def test_context_blends_the_sentence_into_phrase_hits() -> None:
    encoder = HashingEncoder()
    c = 0.5
    text = "Patients need nursing care and a kind word"
    plain = make_linker(encoder)
    linker = make_linker(encoder, context_weight=c)
    [[hit]] = [r[:1] for r in linker.link([text], min_score=-1, top_k=1)]
    assert hit.id == "c:nursing" and hit.evidence == "Patients need nursing care"
    [[plain_hit]] = [r[:1] for r in plain.link([text], min_score=-1, top_k=1)]
    assert plain_hit.evidence == hit.evidence
    sentence = cosine(encoder, text, hit.matched_label)
    assert hit.score == pytest.approx((1 - c) * plain_hit.score + c * sentence, abs=1e-3)
    # a whole sentence that is itself the segment is not blended with itself
    assert linker.link(["nursing care"], min_score=-1)[0][0].score == pytest.approx(1.0, abs=1e-3)


def test_ngrams_link_each_keyword_of_a_short_list() -> None:
    encoder = HashingEncoder()
    text = "excel sql python"
    plain = make_linker(encoder).link([text], min_score=-1, top_k=3)[0]
    assert {s.evidence for s in plain} == {text}
    found = make_linker(encoder, ngram_max_words=6).link([text], min_score=-1, top_k=3)[0]
    assert {s.id: s.evidence for s in found} == {"c:excel": "excel", "c:sql": "sql", "c:python": "python"}
    assert all(s.score == pytest.approx(1.0, abs=1e-3) for s in found)
    # texts longer than the limit are not cut into n-grams
    long_found = make_linker(encoder, ngram_max_words=2).link([text], min_score=-1, top_k=3)[0]
    assert {s.evidence for s in long_found} == {text}


def test_multi_hit_bonus_counts_further_segments() -> None:
    encoder = HashingEncoder()
    text = "SQL; structured query language"
    base = {s.id: s.score for s in make_linker(encoder).link([text], min_score=-1, top_k=4)[0]}
    bonus = {
        s.id: s.score
        for s in make_linker(encoder, multi_hit_bonus=0.05).link([text], min_score=-1, top_k=4)[0]
    }
    # three segments (the sentence, "SQL", "structured query language") all rank every concept here
    for cid, score in base.items():
        assert bonus[cid] == pytest.approx(score + 0.05 * 2, abs=1e-3)


def test_with_labels_keeps_options_and_uses_the_new_rows() -> None:
    encoder = HashingEncoder()
    linker = make_linker(encoder, lexical_weight=0.2, min_score=0.1)
    labels = label_table(CONCEPTS)
    keep = labels["concept_id"] != "c:sql"
    smaller = linker.with_labels(labels[keep], encoder.encode(labels.loc[keep, "text"].tolist()))
    assert smaller.options() == linker.options() and smaller.index.rows == int(keep.sum())
    assert all(s.id != "c:sql" for s in smaller.normalise(["SQL"], min_score=-1, top_k=5)[0])
    assert linker.with_labels(labels, encoder.encode(labels["text"].tolist()), top_k=2).top_k == 2


def test_lexical_similarities_in_chunks_give_the_same_links(monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = HashingEncoder()
    texts = [
        "Python programming, Excel and SQL skills",
        "nursing care; patient care",
        "structured query language",
    ]
    whole = make_linker(encoder, lexical_weight=0.3, ngram_max_words=6).link(texts, min_score=-1, top_k=4)
    monkeypatch.setattr(linking, "_LEXICAL_CHUNK", 2)
    chunked = make_linker(encoder, lexical_weight=0.3, ngram_max_words=6).link(texts, min_score=-1, top_k=4)
    assert chunked == whole


def test_long_lists_are_linked_in_passes_with_the_same_links(monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory is bounded by the pass, not by the list: each pass encodes only its own texts' segments."""
    encoder = HashingEncoder()
    texts = [
        "Python programming, Excel and SQL skills",
        "nursing care; patient care",
        "structured query language",
        "",
        "microsoft excel for reports",
    ]
    linker = make_linker(encoder, lexical_weight=0.3, ngram_max_words=6)
    whole = linker.link(texts, min_score=-1, top_k=4)
    monkeypatch.setattr(linking, "LINK_PASS_TEXTS", 2)
    encoder.calls.clear()
    seen: list[tuple[int, int]] = []
    passes = linker.link(
        texts, min_score=-1, top_k=4, progress=lambda done, total: seen.append((done, total))
    )
    assert passes == whole
    assert len(encoder.calls) == 3  # one encoder call per pass of at most 2 texts
    assert seen[-1] == (5, 5) and all(total == 5 for _, total in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
