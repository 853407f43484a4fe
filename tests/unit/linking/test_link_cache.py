"""The on-disk cache of linked texts: hits skip linking, and any change to what links depend on misses."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fakes import HashingEncoder, make_concepts

from skillmatch.index import VectorIndex
from skillmatch.linking import link_cache
from skillmatch.linking.link_cache import LinkCache, link_cached, linker_signature
from skillmatch.linking.linker import SkillLinker, label_table

CONCEPTS = make_concepts(
    [
        ("c:sql", "SQL", ["structured query language"]),
        ("c:python", "Python (computer programming)", ["python programming", "python"]),
        ("c:excel", "use spreadsheets software", ["excel", "microsoft excel"]),
        ("c:nursing", "provide nursing care", ["nursing care"]),
    ]
)
TEXTS = [
    "We need Python programming and SQL.",
    "Nursing care for patients; Excel reports.",
    "We need Python programming and SQL.",
    "",
]


def make_linker(encoder: HashingEncoder, concepts: pd.DataFrame = CONCEPTS, **options: object) -> SkillLinker:
    labels = label_table(concepts)
    index = VectorIndex().build(encoder.encode(labels["text"].tolist()))
    names = dict(zip(concepts["id"], concepts["label"], strict=True))
    return SkillLinker(encoder, labels, index, names, min_score=0.4, **options)  # type: ignore[arg-type]


def test_second_run_takes_links_from_the_cache(tmp_path: Path) -> None:
    encoder = HashingEncoder()
    linker = make_linker(encoder)
    expected = linker.link(TEXTS)
    signature = linker_signature(linker, encoder.fingerprint)
    first = link_cached(linker, TEXTS, LinkCache(tmp_path, signature))
    assert first == expected
    encoder.calls.clear()
    cache = LinkCache(tmp_path, signature)  # a new process reading the same file
    assert len(cache) == 3  # distinct texts
    again = link_cached(linker, TEXTS, cache)
    assert again == expected
    assert encoder.calls == []  # nothing encoded or linked
    # only texts not seen before are linked
    link_cached(linker, [*TEXTS, "Microsoft Excel"], cache)
    assert sum(encoder.calls) >= 1 and len(cache) == 4


def test_links_are_stored_pass_by_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build that stops half way keeps the passes it finished: the next run links only the rest."""
    encoder = HashingEncoder()
    linker = make_linker(encoder)
    texts = [f"{t} ({n})" for n, t in enumerate(TEXTS * 2) if t]
    expected = linker.link(texts)
    monkeypatch.setattr(link_cache, "LINK_PASS_TEXTS", 2)
    cache = LinkCache(tmp_path, linker_signature(linker, encoder.fingerprint))
    calls = 0

    def stop_after_two_passes(part: list[str], **kwargs: object) -> list[list[object]]:
        nonlocal calls
        calls += 1
        if calls > 2:
            raise KeyboardInterrupt
        return SkillLinker.link(linker, part, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(linker, "link", stop_after_two_passes)
    with pytest.raises(KeyboardInterrupt):
        link_cached(linker, texts, cache)
    assert len(LinkCache(tmp_path, linker_signature(linker, encoder.fingerprint))) == 4
    monkeypatch.undo()
    assert (
        link_cached(linker, texts, LinkCache(tmp_path, linker_signature(linker, encoder.fingerprint)))
        == expected
    )


def test_without_a_cache_it_links() -> None:
    linker = make_linker(HashingEncoder())
    assert link_cached(linker, TEXTS, None) == linker.link(TEXTS)


@pytest.mark.parametrize(
    "change",
    ["options", "labels", "model", "code", "ef_search", "concept_labels"],
)
def test_signature_changes_with_everything_links_depend_on(
    change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = HashingEncoder()
    linker = make_linker(encoder)
    base = linker_signature(linker, encoder.fingerprint)
    assert linker_signature(make_linker(encoder), encoder.fingerprint) == base  # deterministic
    model = encoder.fingerprint
    if change == "options":
        linker = make_linker(encoder, context_weight=0.5)
    elif change == "labels":
        linker = make_linker(encoder, make_concepts([("c:sql", "SQL", ["sql queries"])]))
    elif change == "model":
        model = "another/model@abc"
    elif change == "code":
        monkeypatch.setattr(link_cache, "_code_digest", lambda: "edited")
    elif change == "ef_search":
        vectors = encoder.encode(linker.labels["text"].tolist())
        linker.index = VectorIndex(kind="hnsw", ef_search=32).build(vectors)
        base = linker_signature(linker, model)
        linker.index.index_.hnsw.efSearch = 200  # e.g. SKILLMATCH_HNSW_EF_SEARCH when the bundle loads
    elif change == "concept_labels":
        linker.concept_labels = {**linker.concept_labels, "c:sql": "SQL (query language)"}
    assert linker_signature(linker, model) != base


def test_a_changed_signature_uses_another_file(tmp_path: Path) -> None:
    encoder = HashingEncoder()
    plain, context = make_linker(encoder), make_linker(encoder, context_weight=0.5)
    a = LinkCache(tmp_path, linker_signature(plain, encoder.fingerprint))
    b = LinkCache(tmp_path, linker_signature(context, encoder.fingerprint))
    assert a.path != b.path
    link_cached(plain, TEXTS, a)
    assert len(b) == 0
    assert link_cached(context, TEXTS, b) == context.link(TEXTS)
