"""The linker's performance levers give the results of the plain code they replaced.

* ``SkillLinker._aggregate`` (vectorised with numpy) against a plain-Python reference of the documented
  semantics, over all combinations of the linking options;
* the in-memory LRU of :meth:`SkillLinker.normalise` results (served from memory, keyed by threshold and
  ``top_k``, never handing out a list that a caller can change under the cache);
* :meth:`LabelLexicon.vectors` against scikit-learn's ``transform``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

import numpy as np
import pytest
from fakes import CountingEncoder, HashingEncoder, make_concepts

from skillmatch.index import VectorIndex
from skillmatch.linking.linker import LabelLexicon, LinkedSkill, SkillLinker, label_table

CONCEPTS = make_concepts(
    [
        ("c:sql", "SQL", ["structured query language", "sql"]),
        ("c:python", "Python (computer programming)", ["python programming", "python"]),
        ("c:excel", "use spreadsheets software", ["excel", "microsoft excel"]),
        ("c:nursing", "provide nursing care", ["nursing care", "patient care"]),
        ("c:java", "Java (computer programming)", ["java", "java programming"]),
        ("c:js", "JavaScript", ["javascript", "reactjs", "react"]),
        ("c:team", "manage a team", ["team management", "lead a team"]),
        ("c:budget", "manage budgets", ["budget planning", "financial planning"]),
        ("c:cook", "cook pasta", ["prepare pasta dishes", "italian cooking"]),
        ("c:data", "analyse data", ["data analysis", "data analytics"]),
        ("c:ml", "machine learning", ["ml", "statistical learning"]),
        ("c:comm", "communicate with customers", ["customer service", "customer communication"]),
    ]
)

TEXTS = [
    "We need Python programming, Excel and SQL skills. You will manage a team and plan the budget.",
    "javascript reactjs java sql",
    "Experience with data analysis and machine learning; strong customer service.",
    "Provide nursing care to patients. Cook pasta for the team!",
    "",
    "zzzz qqqq",
    "- budget planning\n- lead a team of nurses\n- Italian cooking and data analytics using Python",
]

OPTION_GRID = [
    {
        "context_weight": context,
        "multi_hit_bonus": bonus,
        "lexical_weight": lexical,
        "ngram_max_words": ngrams,
        "candidates": candidates,
    }
    for context, bonus, lexical, ngrams, candidates in itertools.product(
        (0.0, 0.5), (0.0, 0.02), (0.0, 0.3), (0, 6), (3, 40)
    )
]

#: Scores are rounded to 4 places; two roundings of nearly equal floats may land one step apart.
SCORE_TOL = 1e-4 + 1e-6
#: Float noise between the vectorised and the plain computation of one hit's score.
NOISE = 1e-6


def make_linker(encoder: object | None = None, **kwargs: object) -> SkillLinker:
    encoder = encoder or HashingEncoder()
    labels = label_table(CONCEPTS)
    index = VectorIndex(kind="flat").build(HashingEncoder().encode(labels["text"].tolist()))
    names = dict(zip(CONCEPTS["id"], CONCEPTS["label"], strict=True))
    return SkillLinker(encoder, labels, index, names, **kwargs)  # type: ignore[arg-type]


# --- a: the vectorised aggregation against the plain loop it replaced ---------------------------------------


Candidate = tuple[float, str, str]  # (score, evidence segment, matched label)


def reference_link(
    linker: SkillLinker, texts: Sequence[str]
) -> list[dict[str, tuple[float, str, str, list[Candidate]]]]:
    """The old aggregation: per text, concept id -> (final score, evidence, matched label, all its hits)."""
    per_text = [linker.parts(t) for t in texts]
    flat = [seg for parts in per_text for seg, _ in parts]
    if not flat:
        return [{} for _ in texts]
    parents = [parent for parts in per_text for _, parent in parts] if linker.context_weight else []
    hits = linker._search_segments(list(dict.fromkeys(flat)), None, parents)
    label_vectors = linker.index.reconstruct()
    concept_of = linker.labels["concept_id"].tolist()
    label_text = linker.labels["text"].tolist()
    c = linker.context_weight
    out: list[dict[str, tuple[float, str, str, list[Candidate]]]] = []
    for parts in per_text:
        best: dict[str, Candidate] = {}
        segments_of: dict[str, set[str]] = {}
        candidates: dict[str, list[Candidate]] = {}
        for segment, parent in parts:
            p = hits.position[segment]
            rows, scores = hits.rows[p], hits.scores[p]
            if c and parent is not None and parent != segment and len(rows):
                context = label_vectors[rows] @ hits.vectors[hits.position[parent]]
                scores = (1 - c) * scores + c * context
            for score, row in zip(scores, rows, strict=True):
                cid = concept_of[int(row)]
                segments_of.setdefault(cid, set()).add(segment)
                hit = (float(score), segment, label_text[int(row)])
                candidates.setdefault(cid, []).append(hit)
                if cid not in best or hit[0] > best[cid][0]:
                    best[cid] = hit
        bonus = linker.multi_hit_bonus
        out.append(
            {
                cid: (
                    round(score + bonus * min(3, len(segments_of[cid]) - 1), 4),
                    evidence,
                    label,
                    candidates[cid],
                )
                for cid, (score, evidence, label) in best.items()
            }
        )
    return out


@pytest.mark.parametrize(
    "options",
    OPTION_GRID,
    ids=[
        f"ctx{o['context_weight']}-bonus{o['multi_hit_bonus']}-lex{o['lexical_weight']}"
        f"-ngram{o['ngram_max_words']}-k{o['candidates']}"
        for o in OPTION_GRID
    ],
)
def test_aggregate_matches_the_plain_reference(options: dict[str, float]) -> None:
    linker = make_linker(**options)
    got = linker.link(TEXTS, min_score=-1, top_k=1000)
    want = reference_link(linker, TEXTS)
    assert len(got) == len(want) == len(TEXTS)
    assert any(len(w) > 1 for w in want)  # the reference found something to compare
    for text, found, expected in zip(TEXTS, got, want, strict=True):
        assert sorted(s.id for s in found) == sorted(expected), text
        assert [(-s.score, s.id) for s in found] == sorted((-s.score, s.id) for s in found)
        for skill in found:
            score, evidence, label, hits = expected[skill.id]
            assert skill.score == pytest.approx(score, abs=SCORE_TOL), (text, skill)
            assert skill.label == linker.concept_labels[skill.id]
            if (skill.evidence, skill.matched_label) != (evidence, label):
                # only a hit whose score is the best one up to float noise may stand in for the reference's
                best = max(h[0] for h in hits)
                close = {(e, m) for s, e, m in hits if best - s <= NOISE and s != best}
                assert (skill.evidence, skill.matched_label) in close, (text, skill, evidence, label)


def test_aggregate_reference_sees_context_and_bonus() -> None:
    """The option grid is not vacuous: context and the bonus do move the scores of the test texts."""
    plain = {s.id: s.score for s in make_linker().link(TEXTS[:1], min_score=-1, top_k=1000)[0]}
    context = {
        s.id: s.score for s in make_linker(context_weight=0.5).link(TEXTS[:1], min_score=-1, top_k=1000)[0]
    }
    bonus = {
        s.id: s.score for s in make_linker(multi_hit_bonus=0.02).link(TEXTS[:1], min_score=-1, top_k=1000)[0]
    }
    assert any(abs(context[k] - plain[k]) > 1e-3 for k in plain)
    assert any(abs(bonus[k] - plain[k]) > 1e-3 for k in plain)
    assert all(bonus[k] >= plain[k] for k in plain)
    assert all(bonus[k] - plain[k] <= 3 * 0.02 + 1e-4 for k in plain)


@pytest.mark.parametrize(
    ("first", "second"),
    [("python  programming", "Python programming"), ("Python programming", "python  programming")],
)
def test_aggregate_ties_go_to_the_first_segment(first: str, second: str) -> None:
    # two segments the fake encoder maps to the same vector: equal scores, the first one is the evidence
    linker = make_linker(multi_hit_bonus=0.02, context_weight=0.5)
    text = f"{first}\n{second}"
    assert linker.parts(text) == [(first, first), (second, second)]
    [found] = linker.link([text], min_score=-1, top_k=1000)
    python = next(s for s in found if s.id == "c:python")
    assert python.evidence == first
    assert python.matched_label == "python programming"
    # both segments hit it: one further segment counts for the bonus
    assert python.score == pytest.approx(1.0 + 0.02, abs=SCORE_TOL)


# --- b: the memory cache of normalise ------------------------------------------------------------------------


@pytest.mark.parametrize("options", OPTION_GRID[:: max(1, len(OPTION_GRID) // 6)])
def test_small_top_k_is_the_head_of_the_full_ranking(options: dict[str, float]) -> None:
    linker = make_linker(**options)
    full = linker.link(TEXTS, min_score=-1.0, top_k=1000)
    for k in (1, 2, 3, 5):
        assert linker.link(TEXTS, min_score=-1.0, top_k=k) == [found[:k] for found in full]
        assert linker.link(TEXTS, min_score=0.3, top_k=k) == [
            [s for s in f if s.score >= 0.3][:k] for f in full
        ]
    assert linker.link(TEXTS, top_k=0) == [[] for _ in TEXTS]


PHRASES = ["Microsoft Excels", "structured query languages", "underwater basket weaving", ""]


def test_normalise_cache_serves_repeats_without_encoding() -> None:
    encoder = CountingEncoder()
    linker = make_linker(encoder, memory_cache=100, min_score=0.5)
    first = linker.normalise(PHRASES)
    assert encoder.batches == [
        ["Microsoft Excels", "structured query languages", "underwater basket weaving"]
    ]
    assert first[0][0].id == "c:excel" and first[1][0].id == "c:sql"
    assert first[2] == [] and first[3] == []
    second = linker.normalise(PHRASES)
    assert second == first
    assert len(encoder.batches) == 1  # served from memory
    # only the phrases not seen before are encoded; repeats and stray white space count once
    mixed = linker.normalise(["  Microsoft Excels ", "nursing cares", "nursing cares"])
    assert encoder.batches[1:] == [["nursing cares"]]
    assert mixed[0] == first[0]
    assert mixed[1] == mixed[2] and mixed[1][0].id == "c:nursing"


def test_normalise_cache_results_equal_uncached_results() -> None:
    cached = make_linker(memory_cache=100, min_score=0.2)
    plain = make_linker(min_score=0.2)
    phrases = ["excel", "python", "team management", "basket weaving", "data analytics"]
    for _ in range(2):
        for top_k in (1, 3):
            assert cached.normalise(phrases, top_k=top_k) == plain.normalise(phrases, top_k=top_k)


def test_normalise_cache_is_keyed_by_threshold_and_top_k() -> None:
    encoder = CountingEncoder()
    linker = make_linker(encoder, memory_cache=100, min_score=0.5)
    assert linker.normalise(["underwater basket weaving"]) == [[]]
    calls = len(encoder.batches)
    low = linker.normalise(["underwater basket weaving"], min_score=-1)
    assert len(encoder.batches) == calls + 1  # a new threshold is not served from the cache
    assert len(low[0]) == 1
    wide = linker.normalise(["underwater basket weaving"], min_score=-1, top_k=4)
    assert len(encoder.batches) == calls + 2  # nor is a new top_k
    assert len(wide[0]) == 4
    assert wide[0][0] == low[0][0]
    # each setting is served from memory from now on, with its own result
    assert linker.normalise(["underwater basket weaving"], min_score=-1) == low
    assert linker.normalise(["underwater basket weaving"], min_score=-1, top_k=4) == wide
    assert linker.normalise(["underwater basket weaving"]) == [[]]
    assert len(encoder.batches) == calls + 2


def test_normalise_without_cache_encodes_each_time() -> None:
    encoder = CountingEncoder()
    linker = make_linker(encoder, memory_cache=0, min_score=0.5)
    first = linker.normalise(["Microsoft Excels"])
    second = linker.normalise(["Microsoft Excels"])
    assert first == second
    assert encoder.batches == [["Microsoft Excels"], ["Microsoft Excels"]]


@pytest.mark.parametrize("memory_cache", [0, 100])
def test_normalise_returns_fresh_lists(memory_cache: int) -> None:
    linker = make_linker(memory_cache=memory_cache, min_score=-1)
    first = linker.normalise(["excel", "excel"], top_k=2)
    assert first[0] == first[1] and len(first[0]) == 2
    assert first[0] is not first[1]
    expected = list(first[0])
    first[0].clear()
    first[1].append(first[1][0])
    first.append([])
    again = linker.normalise(["excel", "excel"], top_k=2)
    assert again == [expected, expected]


def test_linked_skill_is_frozen() -> None:
    [[skill]] = make_linker(min_score=0.5).normalise(["excel"])
    assert isinstance(skill, LinkedSkill)
    with pytest.raises(dataclasses.FrozenInstanceError):
        skill.score = 0.0  # type: ignore[misc]
    assert skill.score > 0.99


# --- c: the lexicon's vectors ------------------------------------------------------------------------------

LEXICON_LABELS = [
    "C++",
    "C#",
    "Java (computer programming)",
    "manage a café",
    "café management",
    "python programming",
    "data analysis",
    "analyse data data data",
    "",
]

LEXICON_TEXTS = [
    "We need Python programming and data analysis",
    "",
    "zzzz qqqq xyzzy",
    "data data data analysis analysis",
    "Run a Café; manage the cafe",
    "C++ and C#",
    "c++ c++ java JAVA",
    "   ",
    "python",
]


def test_lexicon_vectors_equal_sklearn_transform() -> None:
    lexicon = LabelLexicon(LEXICON_LABELS)
    got = lexicon.vectors(LEXICON_TEXTS)
    want = lexicon.vectorizer.transform(LEXICON_TEXTS)
    assert got.shape == want.shape == (len(LEXICON_TEXTS), len(lexicon.vectorizer.vocabulary_))
    np.testing.assert_allclose(got.toarray(), want.toarray(), atol=1e-6)
    dense = got.toarray()
    # the mix exercises what it should: empty and unknown rows, accents, C++ and C#
    assert not dense[1].any() and not dense[2].any() and not dense[7].any()
    vocab = lexicon.vectorizer.vocabulary_
    assert dense[4, vocab["cafe"]] > 0
    assert dense[5, vocab["c++"]] > 0 and dense[5, vocab["c#"]] > 0
    np.testing.assert_allclose(np.linalg.norm(dense[[0, 3, 4, 5, 6, 8]], axis=1), 1.0, atol=1e-6)


def test_lexicon_vectors_of_no_text() -> None:
    lexicon = LabelLexicon(LEXICON_LABELS)
    empty = lexicon.vectors([])
    assert empty.shape == (0, len(lexicon.vectorizer.vocabulary_))
    assert empty.nnz == 0
    assert lexicon.similarity([]).shape == (0, len(LEXICON_LABELS))


def test_lexicon_similarity_shape_and_values() -> None:
    lexicon = LabelLexicon(LEXICON_LABELS)
    sim = lexicon.similarity(LEXICON_TEXTS)
    assert sim.shape == (len(LEXICON_TEXTS), len(LEXICON_LABELS))
    want = lexicon.vectorizer.transform(LEXICON_TEXTS) @ lexicon.matrix.T
    np.testing.assert_allclose(sim.toarray(), want.toarray(), atol=1e-6)
    # "C++ and C#" is closest to the labels C++ and C#
    assert set(np.argsort(-sim.toarray()[5])[:2]) == {0, 1}
