"""Contrastive fine-tuning of the encoder on pairs built from the taxonomy itself, and its evaluation.

Training pairs come from the concept table: each alternative label is paired with its concept's preferred
label, and so is the first sentence of the description. :func:`skillmatch.encoding.training.finetune_encoder` trains a
sentence-transformers model on them with ``MultipleNegativesRankingLoss`` (every other positive in a batch is a negative) and the
library's ``NoDuplicatesBatchSampler``, so one concept never shows up twice in a batch as its own negative.

A seeded sample of concepts can be held out of training (:func:`holdout_concepts`); their alternative labels
then make an honest skill-normalisation test (:func:`normalisation_eval`). :func:`label_ranking_eval` scores a
model on the TECH/HOUSE skill-extraction benchmarks with a plain dense ranking over all labels.

The command line is ``skillmatch finetune train|evaluate`` (see docs/finetuning.md).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from skillmatch.encoding.base import Encoder
from skillmatch.encoding.training import HOLDOUT_FILE
from skillmatch.evaluation.baselines import label_table
from skillmatch.evaluation.metrics import mean_metrics
from skillmatch.index import VectorIndex

#: Columns of the table :func:`training_pairs` returns.
PAIR_COLUMNS = ["anchor", "positive", "kind", "concept_id"]

#: The kinds of skill pairs: alternative label -> preferred label, first description sentence -> preferred label.
PAIR_KINDS = ("alt_label", "description")

#: The kinds of occupation pairs: alternative title -> preferred title, first description sentence -> title,
#: a list of essential skills -> title.
OCCUPATION_PAIR_KINDS = ("title_alt", "title_description", "title_skills")

#: Defaults of the standard run's pairs (training defaults: :mod:`skillmatch.encoding.training`).
DEFAULT_MAX_ALT = 4
DEFAULT_HOLDOUT = 0.05
#: Share of occupations held out of training (their titles make the noisy-title test, docs/evaluation.md).
DEFAULT_TITLE_HOLDOUT = 0.1
#: Essential skills named in one ``title_skills`` anchor.
DEFAULT_SKILLS_PER_TITLE = 5

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATION = re.compile(r"\b(?:e\.g|i\.e|etc|vs|approx|incl|no|st|dr|mr|mrs|ms)\.$", re.IGNORECASE)


# --- training pairs ------------------------------------------------------------------------------------------


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` (whitespace collapsed; "e.g." and similar do not end a sentence)."""
    parts = _SENTENCE_END.split(" ".join(text.split()))
    sentence = parts[0]
    for part in parts[1:]:
        if not _ABBREVIATION.search(sentence):
            break
        sentence = f"{sentence} {part}"
    return sentence.strip()


def holdout_concepts(ids: Sequence[str], fraction: float, *, seed: int = 0) -> list[str]:
    """A seeded sample of concept ids to keep out of training, independent of the order of ``ids``.

    Args:
        ids: The concept ids (duplicates count once).
        fraction: Share of the concepts to hold out, in ``[0, 1)``.
        seed: Random seed.

    Returns:
        ``round(fraction * n)`` ids, sorted.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"holdout fraction must be in [0, 1), got {fraction!r}")
    pool = sorted(set(ids))
    count = round(fraction * len(pool))
    if not count:
        return []
    pick = np.random.default_rng(seed).choice(len(pool), size=count, replace=False)
    return sorted(pool[i] for i in pick)


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _check_concepts(concepts: pd.DataFrame) -> None:
    missing = [c for c in ("id", "label", "alt_labels", "description") if c not in concepts.columns]
    if missing:
        raise ValueError(f"concepts table is missing columns {missing} (see schema.CONCEPT_COLUMNS)")
    seen: set[str] = set()
    for row, (concept_id, label, alts) in enumerate(
        zip(concepts["id"], concepts["label"], concepts["alt_labels"], strict=True)
    ):
        if not isinstance(concept_id, str) or not concept_id.strip():
            raise ValueError(f"concepts table, row {row} [id]: empty or non-string id {concept_id!r}")
        if concept_id in seen:
            raise ValueError(f"concepts table, row {row} [id]: duplicate id {concept_id!r}")
        seen.add(concept_id)
        if not isinstance(label, str) or not label.strip():
            raise ValueError(f"concepts table, row {row} [label]: empty or non-string label {label!r}")
        if isinstance(alts, str) or not isinstance(alts, list | tuple | np.ndarray):
            raise ValueError(f"concepts table, row {row} [alt_labels]: expected a list of strings")
        for alt in alts:
            if not isinstance(alt, str) or not alt.strip():
                raise ValueError(f"concepts table, row {row} [alt_labels]: empty or non-string label {alt!r}")


def training_pairs(
    concepts: pd.DataFrame,
    *,
    max_alt_per_concept: int | None = DEFAULT_MAX_ALT,
    use_descriptions: bool = True,
    holdout: float | Collection[str] = DEFAULT_HOLDOUT,
    seed: int = 0,
) -> pd.DataFrame:
    """Build (anchor, positive) training pairs from a concept table.

    Per concept: each distinct alternative label (case-insensitively different from the preferred label) gives
    an ``alt_label`` pair, at most ``max_alt_per_concept`` of them (a seeded sample), and the first sentence of
    the description gives a ``description`` pair; the positive is always the preferred label. Held-out
    concepts give no pairs. The result is deterministic for a given table and seed.

    Args:
        concepts: A table with :data:`skillmatch.schema.CONCEPT_COLUMNS` (``id``, ``label``, ``alt_labels``
            and ``description`` are used; ``description`` may be empty/None).
        max_alt_per_concept: Cap on alternative-label pairs per concept (None: no cap).
        use_descriptions: Add the description pairs.
        holdout: A fraction of concepts to hold out (see :func:`holdout_concepts`) or the ids to hold out.
        seed: Random seed of the hold-out sample and of the alternative-label sample.

    Returns:
        A table with :data:`PAIR_COLUMNS` in concept order. ``attrs`` records ``holdout_ids`` (sorted),
        ``holdout`` (the fraction, or None for explicit ids), ``seed`` and ``stats`` (concept and pair counts,
        alternative labels left out by the cap, duplicate pairs dropped).

    Raises:
        ValueError: If a column is missing, a row is invalid (message names row and field), an explicit
            held-out id is unknown, or a parameter is out of range.
    """
    _check_concepts(concepts)
    if max_alt_per_concept is not None and max_alt_per_concept < 0:
        raise ValueError(f"max_alt_per_concept must be >= 0 or None, got {max_alt_per_concept!r}")
    ids = list(concepts["id"])
    held, fraction = _holdout_ids(ids, holdout, seed)
    rows, capped = _label_pairs(
        concepts,
        set(held),
        max_alt=max_alt_per_concept,
        use_descriptions=use_descriptions,
        kinds=PAIR_KINDS,
        rng=np.random.default_rng(seed),
    )
    return _pair_table(
        rows, held=held, fraction=fraction, seed=seed, concepts=len(ids), capped=capped, kinds=PAIR_KINDS
    )


def _pair_table(
    rows: list[tuple[str, str, str, str]],
    *,
    held: list[str],
    fraction: float | None,
    seed: int,
    concepts: int,
    capped: int,
    kinds: Sequence[str],
) -> pd.DataFrame:
    """The pair table of ``rows`` without duplicate pairs, with the hold-out and counts in ``attrs``."""
    pairs = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    before = len(pairs)
    pairs = pairs.drop_duplicates(["anchor", "positive"]).reset_index(drop=True)
    pairs.attrs.update(
        holdout_ids=held,
        holdout=fraction,
        seed=seed,
        stats={
            "concepts": concepts,
            "held_out": len(held),
            "pairs": len(pairs),
            **{f"pairs_{kind}": int((pairs["kind"] == kind).sum()) for kind in kinds},
            "alt_labels_capped": capped,
            "duplicate_pairs_dropped": before - len(pairs),
        },
    )
    return pairs


def _label_pairs(
    table: pd.DataFrame,
    held: set[str],
    *,
    max_alt: int | None,
    use_descriptions: bool,
    kinds: Sequence[str],
    rng: np.random.Generator,
) -> tuple[list[tuple[str, str, str, str]], int]:
    """Alternative-label and description pairs of every row not held out, and the labels left out by the cap."""
    rows: list[tuple[str, str, str, str]] = []
    capped = 0
    alt_kind, description_kind = kinds[0], kinds[1]
    for concept_id, label, alts, description in zip(
        table["id"], table["label"], table["alt_labels"], table["description"], strict=True
    ):
        if concept_id in held:
            continue
        label = " ".join(label.split())
        distinct: dict[str, str] = {}
        for alt in alts:
            alt = " ".join(alt.split())
            if _norm(alt) != _norm(label):
                distinct.setdefault(_norm(alt), alt)
        chosen = list(distinct.values())
        if max_alt is not None and len(chosen) > max_alt:
            keep = sorted(rng.choice(len(chosen), size=max_alt, replace=False))
            capped += len(chosen) - max_alt
            chosen = [chosen[i] for i in keep]
        rows.extend((alt, label, alt_kind, concept_id) for alt in chosen)
        if use_descriptions and isinstance(description, str) and description.strip():
            sentence = first_sentence(description)
            if sentence and _norm(sentence) != _norm(label):
                rows.append((sentence, label, description_kind, concept_id))
    return rows, capped


def _holdout_ids(
    ids: list[str], holdout: float | Collection[str], seed: int
) -> tuple[list[str], float | None]:
    """The held-out ids and the fraction (None for explicit ids); see :func:`training_pairs`."""
    if isinstance(holdout, float | int) and not isinstance(holdout, bool):
        return holdout_concepts(ids, float(holdout), seed=seed), float(holdout)
    if isinstance(holdout, str) or not isinstance(holdout, Collection):
        raise ValueError(f"holdout must be a fraction or a collection of concept ids, got {holdout!r}")
    unknown = sorted(set(holdout) - set(ids))
    if unknown:
        raise ValueError(f"holdout names {len(unknown)} unknown concept ids, e.g. {unknown[:3]}")
    return sorted(set(holdout)), None


def occupation_pairs(
    occupations: pd.DataFrame,
    relations: pd.DataFrame,
    concepts: pd.DataFrame,
    *,
    max_alt_per_occupation: int | None = DEFAULT_MAX_ALT,
    skills_per_pair: int = DEFAULT_SKILLS_PER_TITLE,
    holdout: float | Collection[str] = DEFAULT_TITLE_HOLDOUT,
    seed: int = 0,
) -> pd.DataFrame:
    """Build (anchor, positive) pairs that teach job titles: the positive is an occupation's preferred label.

    Per occupation not held out: its alternative titles (``title_alt``, at most ``max_alt_per_occupation``, a
    seeded sample), the first sentence of its description (``title_description``) and a comma-separated list of
    up to ``skills_per_pair`` of its essential skills' preferred labels (``title_skills``, a seeded sample; only
    for occupations with at least two essential skills). The held-out occupations give no pairs, so their
    titles can test job-title normalisation honestly (:mod:`skillmatch.evaluation.titles`).

    Args:
        occupations: The occupation table (:data:`skillmatch.schema.OCCUPATION_COLUMNS`).
        relations: Occupation–skill relations (``occupation_id``, ``skill_id``, ``relation``).
        concepts: The skill table (``id``, ``label``), for the skill labels.
        max_alt_per_occupation: Cap on alternative-title pairs per occupation (None: no cap).
        skills_per_pair: Essential skills named in a ``title_skills`` anchor (0: no such pairs).
        holdout: A fraction of occupations to hold out or the ids to hold out.
        seed: Random seed of the hold-out and the samples.

    Returns:
        A table with :data:`PAIR_COLUMNS` (``concept_id`` is the occupation id); ``attrs`` as in
        :func:`training_pairs`.

    Raises:
        ValueError: A column is missing, a row is invalid (the message names row and field), an explicit held-out
            id is unknown, or a parameter is out of range.
    """
    _check_concepts(occupations)
    if max_alt_per_occupation is not None and max_alt_per_occupation < 0:
        raise ValueError(f"max_alt_per_occupation must be >= 0 or None, got {max_alt_per_occupation!r}")
    if skills_per_pair < 0:
        raise ValueError(f"skills_per_pair must be >= 0, got {skills_per_pair!r}")
    missing = [c for c in ("occupation_id", "skill_id", "relation") if c not in relations.columns]
    if missing:
        raise ValueError(f"relations table is missing columns {missing} (see schema.RELATION_COLUMNS)")
    ids = list(occupations["id"])
    held, fraction = _holdout_ids(ids, holdout, seed)
    held_set = set(held)
    rng = np.random.default_rng(seed)
    rows, capped = _label_pairs(
        occupations,
        held_set,
        max_alt=max_alt_per_occupation,
        use_descriptions=True,
        kinds=OCCUPATION_PAIR_KINDS,
        rng=rng,
    )
    if skills_per_pair:
        skill_label = dict(zip(concepts["id"], concepts["label"], strict=True))
        essential = relations[relations["relation"] == "essential"]
        by_occupation: dict[str, list[str]] = {}
        for occupation_id, skill_id in zip(essential["occupation_id"], essential["skill_id"], strict=True):
            if skill_id in skill_label:
                by_occupation.setdefault(occupation_id, []).append(" ".join(skill_label[skill_id].split()))
        for occupation_id, label in zip(occupations["id"], occupations["label"], strict=True):
            skills = sorted(set(by_occupation.get(occupation_id, [])))
            if occupation_id in held_set or len(skills) < 2:
                continue
            pick = rng.choice(len(skills), size=min(skills_per_pair, len(skills)), replace=False)
            anchor = ", ".join(skills[i] for i in sorted(pick))
            rows.append((anchor, " ".join(label.split()), "title_skills", occupation_id))
    return _pair_table(
        rows,
        held=held,
        fraction=fraction,
        seed=seed,
        concepts=len(ids),
        capped=capped,
        kinds=OCCUPATION_PAIR_KINDS,
    )


def sibling_groups(table: pd.DataFrame) -> dict[str, list[str]]:
    """Each concept's siblings: concepts that share a broader concept (skills) or an ISCO group (occupations).

    Uses the ``broader`` column (a list of ids) when the table has one, else ``isco_group``. A concept with no
    group has no siblings.
    """
    groups: dict[str, list[str]] = {}
    member_of: dict[str, list[str]] = {}
    if "broader" in table.columns:
        keys = [list(b) if isinstance(b, list | tuple | np.ndarray) else [] for b in table["broader"]]
    else:
        keys = [[g] if isinstance(g, str) and g else [] for g in table["isco_group"]]
    for concept_id, concept_keys in zip(table["id"], keys, strict=True):
        member_of[concept_id] = [str(k) for k in concept_keys]
        for key in concept_keys:
            groups.setdefault(str(key), []).append(concept_id)
    return {
        concept_id: sorted({s for k in concept_keys for s in groups[k]} - {concept_id})
        for concept_id, concept_keys in member_of.items()
    }


def add_hard_negatives(pairs: pd.DataFrame, tables: Sequence[pd.DataFrame], *, seed: int = 0) -> pd.DataFrame:
    """Add a ``negative`` column: the preferred label of a seeded random sibling of the pair's concept.

    Siblings come from :func:`sibling_groups` of each table (skills and occupations). A sibling whose label
    equals the pair's anchor or positive, or is one of the concept's own labels, is not used; a pair whose
    concept has no usable sibling gets no negative (None) and is trained with in-batch negatives only.

    Args:
        pairs: A pair table (:data:`PAIR_COLUMNS`).
        tables: The concept/occupation tables the pairs' ``concept_id`` values come from.
        seed: Random seed.

    Returns:
        A copy of ``pairs`` with a ``negative`` column; ``attrs`` kept, with ``stats["hard_negatives"]``.
    """
    label_of: dict[str, str] = {}
    own: dict[str, set[str]] = {}
    siblings: dict[str, list[str]] = {}
    for table in tables:
        label_of.update(zip(table["id"], (" ".join(x.split()) for x in table["label"]), strict=True))
        for concept_id, label, alts in zip(table["id"], table["label"], table["alt_labels"], strict=True):
            own[concept_id] = {_norm(label), *(_norm(a) for a in alts)}
        siblings.update(sibling_groups(table))
    rng = np.random.default_rng(seed)
    negatives: list[str | None] = []
    for anchor, positive, concept_id in zip(
        pairs["anchor"], pairs["positive"], pairs["concept_id"], strict=True
    ):
        banned = own.get(concept_id, set()) | {_norm(anchor), _norm(positive)}
        usable = [label_of[s] for s in siblings.get(concept_id, []) if _norm(label_of[s]) not in banned]
        negatives.append(usable[int(rng.integers(len(usable)))] if usable else None)
    out = pairs.copy()
    out["negative"] = pd.Series(negatives, index=out.index, dtype=object)
    out.attrs = {
        **pairs.attrs,
        "stats": {**pairs.attrs.get("stats", {}), "hard_negatives": sum(n is not None for n in negatives)},
    }
    return out


def concat_pairs(*tables: pd.DataFrame) -> pd.DataFrame:
    """Pair tables one after another; the held-out ids are united and the counts kept per table in ``attrs``."""
    if not tables:
        raise ValueError("concat_pairs needs at least one pair table")
    out = pd.concat(tables, ignore_index=True)
    out.attrs = {
        "holdout_ids": sorted({i for t in tables for i in t.attrs.get("holdout_ids", [])}),
        "holdout": [t.attrs.get("holdout") for t in tables],
        "seed": tables[0].attrs.get("seed"),
        "stats": {"pairs": len(out), "tables": [t.attrs.get("stats", {}) for t in tables]},
    }
    return out


def read_holdout(model_dir: str | Path) -> list[str]:
    """The held-out concept ids that :func:`finetune_encoder` recorded next to a model."""
    path = Path(model_dir) / HOLDOUT_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: the model was not trained by skillmatch.evaluation.finetune"
        )
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# --- evaluation ----------------------------------------------------------------------------------------------------


def _dense_rankings(
    encoder: Encoder, labels: pd.DataFrame, queries: Sequence[str], k: int, *, candidates: int = 100
) -> list[list[str]]:
    """Rank concepts for each query by their best-scoring label (exact inner-product search)."""
    index = VectorIndex("flat").build(encoder.encode(list(labels["label"])))
    _, hits = index.search(encoder.encode(list(queries)), min(candidates, len(labels)))
    owner = labels["concept_id"].to_numpy()
    rankings = []
    for row in hits:
        ranked = list(dict.fromkeys(owner[i] for i in row if i >= 0))
        rankings.append(ranked[:k])
    return rankings


def normalisation_eval(
    encoder: Encoder, concepts: pd.DataFrame, holdout_ids: Collection[str], *, k: int = 10
) -> dict[str, float]:
    """Skill normalisation of held-out alternative labels: does a label find its own concept?

    The index holds the preferred labels of all concepts and the alternative labels of the concepts that are
    not held out; the queries are the distinct alternative labels of the held-out concepts (case-insensitively
    different from their preferred label). Concepts are ranked by their best label.

    Args:
        encoder: The encoder to evaluate.
        concepts: The concept table (``id``, ``label``, ``alt_labels``).
        holdout_ids: The held-out concept ids (e.g. :func:`read_holdout`).
        k: Ranking depth.

    Returns:
        :func:`skillmatch.evaluation.metrics.mean_metrics` at k = 1, 5, 10 (``acc@1``, ``mrr``...) plus ``n``.
    """
    held = set(holdout_ids)
    unknown = held - set(concepts["id"])
    if unknown:
        raise ValueError(
            f"holdout names {len(unknown)} ids not in the concepts table, e.g. {sorted(unknown)[:3]}"
        )
    queries, relevant = [], []
    for concept_id, label, alts in zip(
        concepts["id"], concepts["label"], concepts["alt_labels"], strict=True
    ):
        if concept_id in held:
            for alt in dict.fromkeys(" ".join(a.split()) for a in alts if _norm(a) != _norm(label)):
                queries.append(alt)
                relevant.append({concept_id})
    if not queries:
        raise ValueError("the held-out concepts have no alternative labels to query")
    index_table = concepts[["id", "label", "alt_labels"]].copy()
    index_table["alt_labels"] = [
        [] if concept_id in held else list(alts)
        for concept_id, alts in zip(index_table["id"], index_table["alt_labels"], strict=True)
    ]
    rankings = _dense_rankings(encoder, label_table(index_table), queries, k)
    return mean_metrics(rankings, relevant, ks=(1, 5, 10))


def label_ranking_eval(
    encoder: Encoder, concepts: pd.DataFrame, benchmark_csv: str | Path
) -> dict[str, float]:
    """RP@k / MRR of a dense ranking over all labels on a TECH/HOUSE skill-extraction file.

    Args:
        encoder: The encoder to evaluate.
        concepts: The concept table the gold labels are mapped onto.
        benchmark_csv: A ``sentence,span,sub_span,label`` file (see :mod:`skillmatch.evaluation.benchmarks`).

    Returns:
        :func:`skillmatch.evaluation.metrics.mean_metrics` at k = 1, 5, 10 plus ``n``.
    """
    from skillmatch.evaluation.benchmarks import load_skill_extraction

    bench = load_skill_extraction(benchmark_csv, concepts)
    rankings = _dense_rankings(encoder, label_table(concepts), bench.queries, 10)
    return mean_metrics(rankings, bench.relevant, ks=(1, 5, 10))
