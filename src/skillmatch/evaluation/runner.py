"""The evaluation runner: linking quality of a bundle on public benchmarks, as plain dicts and a text table.

Four evaluations, each beside simple baselines so a number can be read in context (see docs/evaluation.md):

* :func:`evaluate_skill_extraction` -- TECH and HOUSE validation sentences (Decorte et al.) linked to ESCO skills:
  R-Precision@k and MRR of the pipeline linker, TF-IDF and BM25 over all labels, and a dense preferred-labels-only
  baseline (whole sentence against a flat index of preferred labels).
* :func:`evaluate_job_titles` -- MELO job titles linked to ESCO occupations by the bundle's role search, with
  TF-IDF over occupation labels beside it.
* :func:`evaluate_skill_normalisation` -- ESCO alternative labels held out of the label index and linked back.
* :func:`evaluate_role_profiles` -- recall of each occupation's essential skills in its role profile.

:func:`run_all` runs what the data allows and :func:`format_table` prints the results. For tuning the linker,
:func:`evaluate_linker_ablation` compares its variants and :func:`calibrate_min_score` gives the precision/recall/F1
curve of its threshold. Nothing here has a CLI; ``skillmatch evaluate`` is a thin layer over :func:`run_all`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from skillmatch.evaluation.baselines import BM25LabelRanker, TfidfLabelRanker
from skillmatch.evaluation.benchmarks import load_job_titles, load_skill_extraction
from skillmatch.evaluation.metrics import mean_metrics, r_precision_at_k, recall_at_k
from skillmatch.index import VectorIndex
from skillmatch.linking.linker import SkillLinker, link_options

if TYPE_CHECKING:
    from skillmatch.encoding.base import Encoder
    from skillmatch.evaluation.titles import TitleSet
    from skillmatch.facade import Skillmatch

#: Ranks concepts for texts: ``ranker(texts, depth)`` gives one id list per text, best first, at most ``depth``.
Ranker = Callable[[Sequence[str], int], list[list[str]]]

#: The skill-extraction validation sets, by name, relative to the shared data folder.
SKILL_EXTRACTION_FILES = {
    "tech": Path("benchmarks/skill-extraction/tech_validation.csv"),
    "house": Path("benchmarks/skill-extraction/house_validation.csv"),
}
#: The MELO job-title benchmark folder, relative to the shared data folder.
JOB_TITLES_DIR = Path("benchmarks/job-titles")
ONET_TITLES_FILE = Path("onet/29.2/Alternate Titles.txt")
CROSSWALK_FILE = Path("crosswalks/esco_onet_crosswalk.csv")

#: A score below every cosine similarity: asks the linker for its full ranking.
NO_THRESHOLD = -1.0


# --- rankers -------------------------------------------------------------------------------------------------


def linker_ranker(linker: SkillLinker) -> Ranker:
    """The pipeline linker as a ranker: its full ranking (no threshold) to the requested depth."""

    def rank(texts: Sequence[str], depth: int) -> list[list[str]]:
        return [
            [s.id for s in found] for found in linker.link(list(texts), top_k=depth, min_score=NO_THRESHOLD)
        ]

    return rank


def normaliser_ranker(linker: SkillLinker) -> Ranker:
    """The linker's :meth:`~skillmatch.linking.linker.SkillLinker.normalise` (whole phrase, no splitting) as a ranker."""

    def rank(texts: Sequence[str], depth: int) -> list[list[str]]:
        return [
            [s.id for s in found]
            for found in linker.normalise(list(texts), top_k=depth, min_score=NO_THRESHOLD)
        ]

    return rank


def lexical_ranker(ranker: TfidfLabelRanker | BM25LabelRanker) -> Ranker:
    """A fitted lexical label ranker (:mod:`skillmatch.evaluation.baselines`) as a ranker of ids."""

    def rank(texts: Sequence[str], depth: int) -> list[list[str]]:
        return [[cid for cid, _ in found] for found in ranker.rank(list(texts), k=depth)]

    return rank


def dense_ranker(encoder: Encoder, ids: Sequence[str], vectors: np.ndarray) -> Ranker:
    """Whole text against a flat index of one vector per row, best row per id (no phrase splitting).

    Args:
        encoder: Encodes the query texts (the encoder that made ``vectors``).
        ids: The id of each row of ``vectors``.
        vectors: Unit vectors, one per row.
    """
    if len(ids) != len(vectors):
        raise ValueError(f"got {len(ids)} ids but {len(vectors)} vectors")
    index = VectorIndex(kind="flat").build(vectors)
    row_ids = np.asarray(ids, dtype=object)

    def rank(texts: Sequence[str], depth: int) -> list[list[str]]:
        if not texts:
            return []
        _, rows = index.search(encoder.encode(list(texts)), min(index.rows, depth * 4))
        out = []
        for hits in rows:
            ranked = list(dict.fromkeys(str(row_ids[r]) for r in hits if r >= 0))
            out.append(ranked[:depth])
        return out

    return rank


def label_vectors(sm: Skillmatch, rows: np.ndarray | None = None) -> np.ndarray:
    """The stored vectors of label-index rows (all rows when ``rows`` is None), without re-encoding."""
    index = sm.bundle.label_index
    return index.reconstruct(rows)


def dense_preferred_ranker(sm: Skillmatch) -> Ranker:
    """The dense preferred-labels-only baseline: one vector per concept (its preferred label)."""
    labels = sm.bundle.labels
    rows = np.flatnonzero((labels["kind"] == "preferred").to_numpy())
    return dense_ranker(sm.encoder, labels["concept_id"].to_numpy()[rows].tolist(), label_vectors(sm, rows))


def _lexical_labels(labels: pd.DataFrame) -> pd.DataFrame:
    """A bundle label table (``concept_id, text, kind``) as the ``concept_id, label`` table of lexical rankers."""
    return labels.rename(columns={"text": "label"})[["concept_id", "label"]].reset_index(drop=True)


# --- scoring -------------------------------------------------------------------------------------------------


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, round(time.perf_counter() - start, 2)


def score_rankings(
    rankings: Sequence[Sequence[str]],
    relevant: Sequence[set[str]],
    ks: Sequence[int],
    *,
    extra: Sequence[str] = (),
) -> dict[str, float]:
    """``rp@k`` for each ``k``, ``mrr`` and ``n`` (plus any other :func:`mean_metrics` keys named in ``extra``)."""
    cuts = sorted({*ks, *(int(key.split("@")[1]) for key in extra if "@" in key)})
    metrics = mean_metrics(rankings, relevant, ks=cuts)
    keep = [f"rp@{k}" for k in ks] + ["mrr", *extra]
    out = {key: round(float(metrics[key]), 4) for key in keep}
    out["n"] = int(metrics["n"])
    return out


def _run_methods(
    methods: Mapping[str, Ranker],
    queries: Sequence[str],
    relevant: Sequence[set[str]],
    ks: Sequence[int],
    depth: int,
    extra: Sequence[str] = (),
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, ranker in methods.items():
        rankings, seconds = _timed(partial(ranker, queries, depth))
        out[name] = {**score_rankings(rankings, relevant, ks, extra=extra), "seconds": seconds}
    return out


def _check_ks(ks: Sequence[int]) -> list[int]:
    ks = list(ks)
    if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
        raise ValueError(f"ks must be positive integers, got {ks!r}")
    return ks


# --- skill extraction -------------------------------------------------------------------------------------


def skill_extraction_methods(sm: Skillmatch, *, linker: SkillLinker | None = None) -> dict[str, Ranker]:
    """The rankers compared on the skill-extraction sets: pipeline, TF-IDF, BM25, dense preferred-only."""
    lexical = _lexical_labels(sm.bundle.labels)
    return {
        "pipeline": linker_ranker(linker or sm.linker),
        "tfidf": lexical_ranker(TfidfLabelRanker().fit(lexical)),
        "bm25": lexical_ranker(BM25LabelRanker().fit(lexical)),
        "dense_preferred": dense_preferred_ranker(sm),
    }


def _named_paths(paths: Mapping[str, str | Path] | Sequence[str | Path]) -> dict[str, Path]:
    if isinstance(paths, Mapping):
        return {str(name): Path(p) for name, p in paths.items()}
    if isinstance(paths, str | Path):
        paths = [paths]
    named: dict[str, Path] = {}
    for p in paths:
        name = Path(p).stem.removesuffix("_validation")
        if name in named:
            raise ValueError(f"two benchmark files are both named {name!r}; pass a mapping name -> path")
        named[name] = Path(p)
    return named


def evaluate_skill_extraction(
    sm: Skillmatch,
    paths: Mapping[str, str | Path] | Sequence[str | Path],
    ks: Sequence[int] = (5, 10),
    *,
    methods: Mapping[str, Ranker] | None = None,
    depth: int | None = None,
) -> dict[str, Any]:
    """R-Precision@k and MRR of linking benchmark sentences to the bundle's concepts.

    Args:
        sm: A loaded bundle whose concepts are the taxonomy the benchmark was annotated with (ESCO).
        paths: The benchmark CSV files (``sentence,span,sub_span,label``), as a list (named by file stem without
            ``_validation``) or a mapping name -> path.
        ks: R-Precision cut-offs.
        methods: Rankers to compare (default: :func:`skill_extraction_methods`).
        depth: Ranking depth (default ``max(10, *ks)``); MRR is computed on rankings of this depth.

    Returns:
        ``{"task", "ks", "depth", "sets": {name: {"source", "queries", "sentences", "no_gold", "unmapped_only",
        "unmapped_labels", "mapping_rate", "methods": {method: {"rp@k"..., "mrr", "n", "seconds"}}}}}``.

    Raises:
        skillmatch.schema.InputError: If a benchmark file is missing or malformed (names file, row, field).
    """
    ks = _check_ks(ks)
    depth = depth or max(10, *ks)
    named = _named_paths(paths)
    sets = {name: load_skill_extraction(path, sm.bundle.taxonomy.concepts) for name, path in named.items()}
    methods = dict(methods) if methods is not None else skill_extraction_methods(sm)
    result: dict[str, Any] = {"task": "skill_extraction", "ks": ks, "depth": depth, "sets": {}}
    for name, data in sets.items():
        result["sets"][name] = {
            "source": data.source,
            "queries": len(data),
            "sentences": data.n_sentences,
            "no_gold": len(data.no_gold),
            "unmapped_only": len(data.unmapped_only),
            "unmapped_labels": data.unmapped,
            "mapping_rate": round(data.mapping_rate, 4),
            "methods": _run_methods(methods, data.queries, data.relevant, ks, depth),
        }
    return result


def rrf_ranker(rankers: Sequence[Ranker], *, k: int = 60, pool: int = 50) -> Ranker:
    """Reciprocal rank fusion of several rankers: ``sum(1 / (k + rank))`` over the rankings an id is in.

    Args:
        rankers: The rankers to fuse.
        k: The RRF constant (60 in Cormack et al. 2009).
        pool: How deep each ranker is asked to rank before fusion.
    """

    def rank(texts: Sequence[str], depth: int) -> list[list[str]]:
        runs = [ranker(texts, max(pool, depth)) for ranker in rankers]
        out = []
        for per_text in zip(*runs, strict=True):
            fused: dict[str, float] = {}
            for ranking in per_text:
                for position, cid in enumerate(ranking, start=1):
                    fused[cid] = fused.get(cid, 0.0) + 1.0 / (k + position)
            out.append([cid for cid, _ in sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))][:depth])
        return out

    return rank


def description_rows(sm: Skillmatch) -> tuple[pd.DataFrame, np.ndarray]:
    """Label rows of kind "description" (one per concept with a description) and their vectors (encoded now)."""
    concepts = sm.bundle.taxonomy.concepts
    keep = [isinstance(d, str) and bool(d.strip()) for d in concepts["description"]]
    rows = pd.DataFrame(
        {
            "concept_id": concepts.loc[keep, "id"].to_numpy(),
            "text": [str(d).strip() for d in concepts.loc[keep, "description"]],
            "kind": "description",
        }
    )
    vectors = sm.encoder.encode(rows["text"].tolist()) if len(rows) else np.zeros((0, sm.encoder.dim))
    return rows, vectors


def bundle_linker(sm: Skillmatch, **options: Any) -> SkillLinker:
    """A linker over the bundle's label table and label index (shared, nothing re-encoded).

    Args:
        sm: A loaded bundle.
        **options: :class:`~skillmatch.linking.linker.SkillLinker` options; those not given are the settings'
            (:func:`~skillmatch.linking.linker.link_options`).

    Returns:
        A new linker; making one costs the TF-IDF fit of the labels when lexical fusion is on (0.3 s for ESCO).
    """
    labels = sm.bundle.labels.reset_index(drop=True)
    merged = {**link_options(sm.settings), **options}
    return SkillLinker(sm.encoder, labels, sm.bundle.label_index, sm.linker.concept_labels, **merged)


def linker_variants(sm: Skillmatch, *, descriptions: bool = False) -> dict[str, SkillLinker]:
    """The linker variants of the ablation in docs/evaluation.md, made from the bundle's label index.

    "plain" is the dense linker with no option on (alternative labels, phrase splitting, best hit per concept);
    "tuned" has the settings' options; the others add one option to "plain" or take one away from "tuned".
    Variants over the bundle's labels share its index; the preferred-labels-only ones get a small index of their
    own. With ``descriptions`` variants with concept descriptions added to the index are made too (this encodes
    every description, which takes minutes for ESCO on a CPU the first time).
    """
    tuned = link_options(sm.settings)
    plain = {
        **tuned,
        "lexical_weight": 0.0,
        "context_weight": 0.0,
        "ngram_max_words": 0,
        "multi_hit_bonus": 0.0,
    }
    labels = sm.bundle.labels.reset_index(drop=True)
    names = sm.linker.concept_labels

    def make(base: dict[str, Any], **changes: Any) -> SkillLinker:
        return bundle_linker(sm, **{**base, **changes})

    preferred = np.flatnonzero((labels["kind"] == "preferred").to_numpy())
    plain_linker = make(plain)
    preferred_labels, preferred_vectors = labels.iloc[preferred], label_vectors(sm, preferred)
    variants = {
        "plain": plain_linker,
        "plain, preferred labels only": plain_linker.with_labels(preferred_labels, preferred_vectors),
        "plain + lexical": make(plain, lexical_weight=tuned["lexical_weight"]),
        "plain + n-grams": make(plain, ngram_max_words=tuned["ngram_max_words"]),
        "plain + context": make(plain, context_weight=tuned["context_weight"]),
        "plain + multi-hit bonus 0.02": make(plain, multi_hit_bonus=0.02),
        "tuned": make(tuned),
        "tuned - lexical": make(tuned, lexical_weight=0.0),
        "tuned - n-grams": make(tuned, ngram_max_words=0),
        "tuned - context": make(tuned, context_weight=0.0),
        "tuned + multi-hit bonus 0.02": make(tuned, multi_hit_bonus=0.02),
        "tuned, preferred labels only": plain_linker.with_labels(
            preferred_labels, preferred_vectors, **tuned
        ),
        "tuned, lexical 0.1": make(tuned, lexical_weight=0.1),
        "tuned, lexical 0.3": make(tuned, lexical_weight=0.3),
        "tuned, context 0.35": make(tuned, context_weight=0.35),
        "tuned, context 0.65": make(tuned, context_weight=0.65),
        "tuned, n-grams of phrases <= 6 words": make(tuned, ngram_max_words=6),
    }
    if descriptions:
        extra, extra_vectors = description_rows(sm)
        all_labels = pd.concat([labels, extra], ignore_index=True)
        with_descriptions = plain_linker.with_labels(
            all_labels, np.concatenate([label_vectors(sm), extra_vectors])
        )
        variants["plain + descriptions"] = with_descriptions
        variants["tuned + descriptions"] = SkillLinker(
            sm.encoder, all_labels, with_descriptions.index, names, **tuned
        )
    return variants


def evaluate_linker_ablation(
    sm: Skillmatch,
    paths: Mapping[str, str | Path] | Sequence[str | Path],
    ks: Sequence[int] = (5, 10),
    *,
    descriptions: bool = False,
) -> dict[str, Any]:
    """:func:`evaluate_skill_extraction` for every variant of :func:`linker_variants`, the baselines and RRF.

    Besides the linker variants it runs the dense preferred-only, TF-IDF and BM25 baselines and reciprocal rank
    fusion of TF-IDF with the plain linker and with the tuned linker without lexical fusion (a rank-level
    alternative to the linker's score blending).
    """
    lexical = _lexical_labels(sm.bundle.labels)
    tfidf = lexical_ranker(TfidfLabelRanker().fit(lexical))
    variants = linker_variants(sm, descriptions=descriptions)
    methods: dict[str, Ranker] = {name: linker_ranker(linker) for name, linker in variants.items()}
    methods["rrf(plain, tfidf)"] = rrf_ranker([methods["plain"], tfidf])
    methods["rrf(tuned - lexical, tfidf)"] = rrf_ranker([methods["tuned - lexical"], tfidf])
    methods["dense_preferred"] = dense_preferred_ranker(sm)
    methods["tfidf"] = tfidf
    methods["bm25"] = lexical_ranker(BM25LabelRanker().fit(lexical))
    return evaluate_skill_extraction(sm, paths, ks, methods=methods)


def calibrate_threshold(
    linker: SkillLinker,
    sets: Mapping[str, tuple[Sequence[str], Sequence[set[str]]]],
    *,
    depth: int = 10,
    thresholds: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Precision, recall and F1 of the linker's links against gold links for a grid of score thresholds.

    Each text is linked to ``depth`` concepts without a threshold; a link is correct when its concept is gold
    for that text. At threshold ``t`` the kept links are those scoring ``>= t``; recall counts every gold
    concept of every text (gold concepts the linker never ranks count as missed).

    Args:
        linker: The linker to calibrate.
        sets: Name -> ``(texts, gold id sets)``; pooled for the curve and reported one by one at the best
            threshold. A text with an empty gold set counts too: every link made for it is a false one.
        depth: Links considered per text.
        thresholds: The grid (default 0.30 to 0.90 by 0.01).

    Returns:
        ``{"best": {"threshold", "precision", "recall", "f1"}, "per_set": {name: {...}}, "curve": [{...}, ...]}``.
    """
    grid = (
        [float(t) for t in thresholds]
        if thresholds is not None
        else [round(float(x), 2) for x in np.arange(0.30, 0.9001, 0.01)]
    )
    if not grid:
        raise ValueError("thresholds must not be empty")
    links: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}
    for name, (texts, gold) in sets.items():
        if len(texts) != len(gold):
            raise ValueError(f"set {name!r}: {len(texts)} texts but {len(gold)} gold sets")
        found = linker.link(list(texts), top_k=depth, min_score=NO_THRESHOLD)
        scores = np.asarray([s.score for f in found for s in f], dtype=float)
        correct = np.asarray([s.id in g for f, g in zip(found, gold, strict=True) for s in f], dtype=bool)
        links[name] = (scores, correct, sum(len(g) for g in gold))

    def prf(scores: np.ndarray, correct: np.ndarray, n_gold: int, t: float) -> dict[str, float]:
        kept = scores >= t
        tp = int((kept & correct).sum())
        precision = tp / int(kept.sum()) if kept.any() else 0.0
        recall = tp / n_gold if n_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {
            "threshold": t,
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "links": int(kept.sum()),
        }

    pooled = (
        np.concatenate([s for s, _, _ in links.values()]) if links else np.zeros(0),
        np.concatenate([c for _, c, _ in links.values()]) if links else np.zeros(0, bool),
        sum(n for *_, n in links.values()),
    )
    curve = [prf(*pooled, t) for t in grid]
    best = max(curve, key=lambda row: (row["f1"], -abs(row["threshold"] - 0.5)))
    per_set = {name: prf(*values, best["threshold"]) for name, values in links.items()}
    return {"best": best, "per_set": per_set, "curve": curve, "depth": depth}


def calibrate_min_score(
    sm: Skillmatch,
    paths: Mapping[str, str | Path] | Sequence[str | Path],
    *,
    depth: int = 10,
    linker: SkillLinker | None = None,
    thresholds: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Calibrate the linker's threshold on skill-extraction sets (:func:`calibrate_threshold`).

    The texts are the sentences with mapped gold skills and the sentences whose spans are all "LABEL NOT
    PRESENT" / "UNDERSPECIFIED" (with no gold: any link made for them is wrong); sentences whose gold labels
    could not be mapped are left out, as their right answer is unknown. ``linker`` defaults to the bundle's and
    ``thresholds`` to the grid of :func:`calibrate_threshold`.
    """
    sets = {}
    for name, path in _named_paths(paths).items():
        data = load_skill_extraction(path, sm.bundle.taxonomy.concepts)
        sets[name] = ([*data.queries, *data.no_gold], [*data.relevant, *(set() for _ in data.no_gold)])
    return calibrate_threshold(linker or sm.linker, sets, depth=depth, thresholds=thresholds)


# --- job titles -------------------------------------------------------------------------------------------


def role_ranker(sm: Skillmatch, *, exclude_labels: Sequence[tuple[str, str]] = ()) -> Ranker:
    """The bundle's role search (:class:`~skillmatch.matching.roles.RoleCatalog`) restricted to taxonomy occupations.

    Args:
        sm: A loaded bundle.
        exclude_labels: (role id, label text) pairs left out of the search (held-out titles).
    """
    from skillmatch.matching.roles import RoleCatalog

    catalog = (
        RoleCatalog(sm.bundle, sm.context.roles.encoder, exclude_labels=exclude_labels)
        if exclude_labels
        else sm.context.roles
    )
    occupations = set(sm.bundle.taxonomy.occupations["id"])

    def rank(texts: Sequence[str], depth: int) -> list[list[str]]:
        hits = catalog.search(list(texts), top_k=depth * 3)
        return [[h.id for h in found if h.id in occupations][:depth] for found in hits]

    return rank


def dense_title_ranker(sm: Skillmatch, *, exclude_labels: Sequence[tuple[str, str]] = ()) -> Ranker:
    """Plain dense search: the raw title against every occupation label (preferred and alternative), best label.

    The baseline of the job-title evaluations: no cleaning, no character n-grams.
    """
    labels = sm.bundle.occupation_labels
    vectors = sm.bundle.occupation_index.reconstruct()
    if exclude_labels:
        dropped = {(str(rid), " ".join(str(t).split()).casefold()) for rid, t in exclude_labels}
        keep = np.array(
            [
                (str(c), " ".join(str(t).split()).casefold()) not in dropped
                for c, t in zip(labels["concept_id"], labels["text"], strict=True)
            ],
            dtype=bool,
        )
        labels, vectors = labels[keep], vectors[keep]
    return dense_ranker(sm.encoder, list(labels["concept_id"]), vectors)


def evaluate_job_titles(sm: Skillmatch, folder: str | Path, *, depth: int = 10) -> dict[str, Any]:
    """MRR, acc@1 and acc@5 of linking MELO job titles to the bundle's taxonomy occupations.

    Args:
        sm: A loaded bundle with role tables and ESCO occupations.
        folder: The MELO folder (``usa_q_en_c_en_*.tsv``).
        depth: Ranking depth; MRR is computed on rankings of this depth.

    Returns:
        ``{"task", "source", "queries", "queries_total", "unmapped_queries", "concept_mapping_rate",
        "methods": {"roles": {...}, "dense_labels": {...}, "tfidf": {...}}}`` with ``mrr``, ``acc@1``, ``acc@5``,
        ``n`` per method (``dense_labels``: :func:`dense_title_ranker`).
    """
    occupations = sm.bundle.taxonomy.occupations
    if occupations.empty:
        return {"task": "job_titles", "skipped": f"bundle {sm.path} has no occupations"}
    data = load_job_titles(folder, occupations)
    lexical = _lexical_labels(sm.bundle.occupation_labels)
    methods = {
        "roles": role_ranker(sm),
        "dense_labels": dense_title_ranker(sm),
        "tfidf": lexical_ranker(TfidfLabelRanker().fit(lexical)),
    }
    scores = _run_methods(methods, data.queries, data.relevant, ks=(), depth=depth, extra=("acc@1", "acc@5"))
    return {
        "task": "job_titles",
        "source": data.source,
        "queries": len(data),
        "queries_total": data.n_queries_total,
        "unmapped_queries": len(data.unmapped_queries),
        "concept_mapping_rate": round(data.concept_mapping_rate, 4),
        "depth": depth,
        "methods": scores,
    }


def title_sets(
    sm: Skillmatch, data_dir: str | Path, *, seed: int = 0, development: bool = False
) -> dict[str, TitleSet]:
    """The job-title sets beyond MELO that the data allows: noisy ESCO titles and O*NET alternate titles.

    The noisy titles come from the occupations held out of encoder training (the seeded
    :data:`~skillmatch.evaluation.finetune.DEFAULT_TITLE_HOLDOUT` share, seed 0, as ``skillmatch finetune train``
    holds out), their source alternative labels dropped from the index. O*NET titles that are MELO queries are
    left out. ``development=True`` gives instead the split that role search was tuned on: noisy titles (seed 1)
    of a seeded 10% of the other occupations, and no O*NET set.
    """
    from skillmatch.evaluation.finetune import DEFAULT_TITLE_HOLDOUT, holdout_concepts
    from skillmatch.evaluation.titles import noisy_titles, onet_titles

    occupations = sm.bundle.taxonomy.occupations
    ids = list(occupations["id"])
    # a tiny taxonomy's hold-out rounds to nothing: then every occupation gives titles
    held = holdout_concepts(ids, DEFAULT_TITLE_HOLDOUT, seed=0) or ids
    if development:
        rest = sorted(set(ids) - set(held))
        return {
            "noisy_esco_dev": noisy_titles(
                occupations, holdout_concepts(rest, 0.1, seed=1), seed=1, hold_out_label=True
            )
        }
    sets = {"noisy_esco": noisy_titles(occupations, held, seed=seed, hold_out_label=True)}
    root = Path(data_dir)
    onet, crosswalk = root / ONET_TITLES_FILE, root / CROSSWALK_FILE
    if onet.is_file() and crosswalk.is_file():
        melo = root / JOB_TITLES_DIR
        exclude = load_job_titles(melo, occupations).queries if melo.is_dir() else []
        sets["onet_alternate"] = onet_titles(
            onet, crosswalk, set(occupations["id"]), exclude=exclude, seed=seed
        )
    return sets


def evaluate_title_sets(
    sm: Skillmatch, data_dir: str | Path, *, depth: int = 10, development: bool = False
) -> dict[str, Any]:
    """acc@1, acc@5 and MRR of role search and plain dense search on :func:`title_sets`.

    Args:
        sm: A loaded bundle with ESCO occupations.
        data_dir: The shared data folder (for the O*NET set; the noisy set needs only the bundle).
        depth: Ranking depth.
        development: Score the development split instead (see :func:`title_sets`).

    Returns:
        ``{"task": "noisy_titles", "sets": {name: {"queries", "notes", "methods": {method: metrics},
        "by_noise": {kind: {method: acc@1}}}}}``.
    """
    if sm.bundle.taxonomy.occupations.empty:
        return {"task": "noisy_titles", "skipped": f"bundle {sm.path} has no occupations"}
    out: dict[str, Any] = {"task": "noisy_titles", "depth": depth, "sets": {}}
    for name, data in title_sets(sm, data_dir, development=development).items():
        if not len(data):
            out["sets"][name] = {"queries": 0, "notes": data.notes, "methods": {}, "by_noise": {}}
            continue
        methods = {
            "roles": role_ranker(sm, exclude_labels=data.held_out_labels),
            "dense_labels": dense_title_ranker(sm, exclude_labels=data.held_out_labels),
        }
        rankings = {m: rank(data.queries, depth) for m, rank in methods.items()}
        scores = {
            m: {
                k: round(float(v), 4)
                for k, v in mean_metrics(r, data.relevant, ks=(1, 5)).items()
                if k in ("acc@1", "acc@5", "mrr", "n")
            }
            for m, r in rankings.items()
        }
        by_noise: dict[str, dict[str, float]] = {}
        for kind in sorted({k for kinds in data.noise for k in kinds}):
            rows = [i for i, kinds in enumerate(data.noise) if kind in kinds]
            by_noise[kind] = {
                m: round(float(np.mean([bool(r[i]) and r[i][0] in data.relevant[i] for i in rows])), 4)
                for m, r in rankings.items()
            }
            by_noise[kind]["n"] = len(rows)
        out["sets"][name] = {
            "queries": len(data),
            "notes": data.notes,
            "methods": scores,
            "by_noise": by_noise,
        }
    return out


# --- skill normalisation ----------------------------------------------------------------------------------


def training_holdout(sm: Skillmatch) -> list[str]:
    """The skills that ``skillmatch finetune train`` holds out with its defaults (seeded, the same for any model).

    Evaluating skill normalisation on them compares a fine-tuned encoder and the stock one on labels neither
    was trained on.
    """
    from skillmatch.evaluation.finetune import DEFAULT_HOLDOUT, holdout_concepts

    return holdout_concepts(list(sm.bundle.taxonomy.concepts["id"]), DEFAULT_HOLDOUT, seed=0)


def held_out_labels(
    labels: pd.DataFrame, sample: int, seed: int, *, concepts: Collection[str] | None = None
) -> pd.Series:
    """Pick one alternative label of up to ``sample`` concepts to hold out of the label index.

    Only alternative labels whose text (case-folded) belongs to no other concept are eligible, so each held-out
    label has exactly one right answer; with ``concepts``, only labels of those concepts.

    Returns:
        The held-out rows: a Series of label texts indexed by label-table row, sorted by row.
    """
    if sample < 1:
        raise ValueError(f"sample must be a positive integer, got {sample!r}")
    keys = labels["text"].str.casefold()
    owners = labels.assign(key=keys).groupby("key")["concept_id"].nunique()
    mask = (labels["kind"] == "alt").to_numpy() & (keys.map(owners) == 1).to_numpy()
    if concepts is not None:
        mask &= labels["concept_id"].isin(list(concepts)).to_numpy()
    eligible = labels[mask]
    if eligible.empty:
        return pd.Series(dtype=object)
    rng = np.random.default_rng(seed)
    pool = eligible["concept_id"].drop_duplicates().to_numpy()
    picked = rng.choice(pool, size=min(sample, len(pool)), replace=False)
    rows = [int(rng.choice(eligible.index[eligible["concept_id"] == cid])) for cid in picked]
    return labels.loc[sorted(rows), "text"]


def evaluate_skill_normalisation(
    sm: Skillmatch,
    sample: int = 2000,
    seed: int = 0,
    *,
    depth: int = 10,
    concepts: Collection[str] | None = None,
) -> dict[str, Any]:
    """Hold alternative labels out of the label index and link them back with ``normalise``.

    For ``sample`` concepts one unambiguous alternative label each (see :func:`held_out_labels`) is removed
    from the label table; the linker is rebuilt on the remaining rows (their stored vectors, no re-encoding)
    and must find the concept from the held-out text alone. TF-IDF and BM25 over the same remaining labels
    run beside it. ``concepts`` restricts the sample, e.g. to the concepts held out of encoder training
    (:func:`training_holdout`), so that a fine-tuned encoder has not seen the held-out labels.

    Returns:
        ``{"task", "sample", "seed", "queries", "methods": {name: {"acc@1", "acc@5", "mrr", "n", "seconds"}}}``.
    """
    labels = sm.bundle.labels.reset_index(drop=True)
    held = held_out_labels(labels, sample, seed, concepts=concepts)
    if held.empty:
        return {"task": "skill_normalisation", "skipped": "no concept has an unambiguous alternative label"}
    keep = np.setdiff1d(np.arange(len(labels)), held.index.to_numpy())
    kept = labels.iloc[keep].reset_index(drop=True)
    linker = sm.linker.with_labels(kept, label_vectors(sm, keep))
    relevant = [{cid} for cid in labels.loc[held.index, "concept_id"]]
    lexical = _lexical_labels(kept)
    methods = {
        "pipeline": normaliser_ranker(linker),
        "tfidf": lexical_ranker(TfidfLabelRanker().fit(lexical)),
        "bm25": lexical_ranker(BM25LabelRanker().fit(lexical)),
    }
    scores = _run_methods(methods, held.tolist(), relevant, ks=(), depth=depth, extra=("acc@1", "acc@5"))
    return {
        "task": "skill_normalisation",
        "sample": sample,
        "seed": seed,
        "concepts": "all" if concepts is None else len(set(concepts)),
        "queries": len(held),
        "depth": depth,
        "methods": scores,
    }


# --- role profiles ----------------------------------------------------------------------------------------


def evaluate_role_profiles(sm: Skillmatch, k: Sequence[int] = (10, 20)) -> dict[str, Any]:
    """Recall@k (and R-Precision@k) of each occupation's essential skills among its profile's heaviest skills.

    Only taxonomy occupations with at least one posting assigned (and at least one essential skill) count.
    Because a profile blends the taxonomy's relations in as a prior, the same recall is also reported for a
    ranking from postings alone (skills by the number of the occupation's postings linked to them) -- the part
    of the profile the postings contribute.

    Returns:
        ``{"task", "occupations", "postings", "essential_per_occupation", "methods": {"profile": {"recall@k"...,
        "rp@k"...}, "postings_only": {...}}}``,
        or ``{"task", "skipped": reason}`` when the bundle has no postings or no role tables.
    """
    ks = _check_ks(k)
    task = "role_profiles"
    if sm.bundle.postings.empty:
        return {"task": task, "skipped": f"bundle {sm.path} has no postings; build it with --postings"}
    if sm.bundle.role_profiles.empty or sm.bundle.posting_roles.empty:
        return {"task": task, "skipped": f"bundle {sm.path} has no role tables; rebuild it"}
    relations = sm.bundle.taxonomy.relations
    essential = (
        relations[relations["relation"] == "essential"]
        .groupby("occupation_id")["skill_id"]
        .agg(set)
        .to_dict()
    )
    assignments = sm.bundle.posting_roles
    occupations = set(sm.bundle.taxonomy.occupations["id"])
    with_postings = assignments[assignments["role_id"].isin(occupations)]
    roles = sorted(r for r in with_postings["role_id"].unique() if essential.get(r))
    if not roles:
        return {"task": task, "skipped": "no taxonomy occupation with essential skills has postings assigned"}
    profiles = sm.bundle.role_profiles.sort_values(
        ["role_id", "weight", "skill_id"], ascending=[True, False, True]
    )
    profile_rank = profiles.groupby("role_id")["skill_id"].agg(list).to_dict()
    linked = with_postings.merge(sm.bundle.posting_skills[["posting_id", "skill_id"]], on="posting_id")
    counts = linked.groupby(["role_id", "skill_id"])["posting_id"].nunique().reset_index(name="count")
    counts = counts.sort_values(["role_id", "count", "skill_id"], ascending=[True, False, True])
    posting_rank = counts.groupby("role_id")["skill_id"].agg(list).to_dict()
    methods: dict[str, dict[str, float]] = {}
    for name, ranking in (("profile", profile_rank), ("postings_only", posting_rank)):
        methods[name] = {}
        for metric, fn in (("recall", recall_at_k), ("rp", r_precision_at_k)):
            for cut in ks:
                values = [fn(ranking.get(r, []), essential[r], cut) for r in roles]
                methods[name][f"{metric}@{cut}"] = round(float(np.mean(values)), 4)
        methods[name]["n"] = len(roles)
    return {
        "task": task,
        "occupations": len(roles),
        "postings": int(with_postings["posting_id"].nunique()),
        "essential_per_occupation": round(float(np.mean([len(essential[r]) for r in roles])), 1),
        "methods": methods,
    }


# --- all together -----------------------------------------------------------------------------------------


def run_all(
    sm: Skillmatch,
    data_dir: str | Path,
    *,
    normalisation_sample: int = 2000,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Run every evaluation the data allows; a part whose data is missing is skipped with a note.

    Args:
        sm: A loaded (ESCO) bundle.
        data_dir: The shared data folder (holding ``benchmarks/``).
        normalisation_sample: Concepts sampled by :func:`evaluate_skill_normalisation`.
        progress: Called as ``progress("evaluation", parts_done, 5)`` after each of the five parts.

    Returns:
        ``{"bundle", "taxonomy", "skill_extraction", "job_titles", "noisy_titles", "skill_normalisation",
        "role_profiles"}``.
    """
    root = Path(data_dir)
    results: dict[str, Any] = {
        "bundle": str(sm.path),
        "taxonomy": f"{sm.bundle.taxonomy.name} {sm.bundle.taxonomy.version}",
    }
    step = progress or (lambda _stage, _done, _total: None)
    step("evaluation", 0, 5)
    files = {name: root / rel for name, rel in SKILL_EXTRACTION_FILES.items()}
    present = {name: p for name, p in files.items() if p.is_file()}
    if present:
        results["skill_extraction"] = evaluate_skill_extraction(sm, present)
        missing = sorted(set(files) - set(present))
        if missing:
            results["skill_extraction"]["missing"] = [str(files[m]) for m in missing]
    else:
        results["skill_extraction"] = {
            "task": "skill_extraction",
            "skipped": f"no benchmark files under {root / 'benchmarks/skill-extraction'}",
        }
    step("evaluation", 1, 5)
    melo = root / JOB_TITLES_DIR
    results["job_titles"] = (
        evaluate_job_titles(sm, melo)
        if melo.is_dir()
        else {"task": "job_titles", "skipped": f"MELO folder {melo} not found"}
    )
    step("evaluation", 2, 5)
    results["noisy_titles"] = evaluate_title_sets(sm, root)
    step("evaluation", 3, 5)
    # the skills no encoder trained by `skillmatch finetune train` has seen (all skills for a tiny taxonomy)
    results["skill_normalisation"] = evaluate_skill_normalisation(
        sm, sample=normalisation_sample, concepts=training_holdout(sm) or None
    )
    step("evaluation", 4, 5)
    results["role_profiles"] = evaluate_role_profiles(sm)
    step("evaluation", 5, 5)
    return results


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def format_table(results: Mapping[str, Any]) -> str:
    """A plain text table of :func:`run_all` results (or of one evaluation's dict).

    One line per (task, set, method) with the metrics as columns; skipped parts follow as a line with their
    reason.
    """
    parts = [results] if "task" in results else [v for v in results.values() if isinstance(v, Mapping)]
    cells: dict[tuple[str, str, str], dict[str, str]] = {}
    notes: list[str] = []
    for part in parts:
        task = str(part.get("task", "?"))
        if "skipped" in part:
            notes.append(f"{task}: skipped ({part['skipped']})")
            continue
        for set_name, data in part.get("sets", {"-": part}).items():
            for method, metrics in data.get("methods", {}).items():
                row = cells.setdefault((task, set_name, method), {})
                for metric, value in metrics.items():
                    if metric != "seconds":
                        row[metric] = _cell(value)
    if not cells:
        return "\n".join(notes) or "no results"
    metrics = list(dict.fromkeys(m for row in cells.values() for m in row if m != "n"))
    table = [["task", "set", "method", *metrics, "n"]]
    table += [[*key, *(row.get(m, "") for m in metrics), row.get("n", "")] for key, row in cells.items()]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join([*lines, *notes])


def results_frame(results: Mapping[str, Any]) -> pd.DataFrame:
    """:func:`run_all` results as a long table: task, set, method, metric, value (for plots and notebooks)."""
    parts = [results] if "task" in results else [v for v in results.values() if isinstance(v, Mapping)]
    rows = []
    for part in parts:
        if "skipped" in part:
            continue
        task = str(part.get("task", "?"))
        for set_name, data in part.get("sets", {"-": part}).items():
            for method, metrics in data.get("methods", {}).items():
                for metric, value in metrics.items():
                    if metric not in {"seconds", "n"} and isinstance(value, (int, float)):
                        rows.append((task, set_name, method, metric, float(value)))
    return pd.DataFrame(rows, columns=["task", "set", "method", "metric", "value"])
