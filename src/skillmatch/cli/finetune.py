"""``skillmatch finetune``: fine-tune the encoder on the taxonomy and compare models.

The command is a thin layer over :mod:`skillmatch.evaluation.finetune`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer

from skillmatch.config import DEFAULT_MODEL
from skillmatch.encoding.training import DEFAULT_BATCH_SIZE, DEFAULT_MAX_PAIRS, finetune_encoder
from skillmatch.evaluation.finetune import (
    DEFAULT_HOLDOUT,
    DEFAULT_MAX_ALT,
    DEFAULT_TITLE_HOLDOUT,
    add_hard_negatives,
    concat_pairs,
    label_ranking_eval,
    normalisation_eval,
    occupation_pairs,
    read_holdout,
    training_pairs,
)

if TYPE_CHECKING:
    from skillmatch.schema import Taxonomy

app = typer.Typer(help="Fine-tune the encoder on ESCO itself and evaluate it.", no_args_is_help=True)

TaxonomyArg = Annotated[Path, typer.Argument(help="ESCO export (folder or zip) or a generic taxonomy table.")]


def _taxonomy(taxonomy: Path) -> Taxonomy:
    from skillmatch.readers import load_taxonomy

    loaded, rejects = load_taxonomy(taxonomy)
    if rejects:
        print(f"[finetune] {len(rejects)} rejected taxonomy rows, e.g. {rejects[0]}", file=sys.stderr)
    return loaded


def _concepts(taxonomy: Path) -> pd.DataFrame:
    return _taxonomy(taxonomy).concepts


@app.command()
def train(
    taxonomy: TaxonomyArg,
    out: Annotated[Path, typer.Option(help="Output folder, e.g. models/encoders/esco-minilm.")],
    base_model: Annotated[str, typer.Option(help="Base model: name, hub id or folder.")] = DEFAULT_MODEL,
    max_alt: Annotated[int, typer.Option(help="Alternative-label pairs per concept.")] = DEFAULT_MAX_ALT,
    descriptions: Annotated[bool, typer.Option(help="Add description-sentence pairs.")] = True,
    holdout: Annotated[float, typer.Option(help="Share of concepts held out.")] = DEFAULT_HOLDOUT,
    titles: Annotated[bool, typer.Option(help="Add occupation pairs (titles, descriptions, skills).")] = True,
    title_holdout: Annotated[
        float, typer.Option(help="Share of occupations held out.")
    ] = DEFAULT_TITLE_HOLDOUT,
    hard_negatives: Annotated[bool, typer.Option(help="Add a sibling concept's label as a negative.")] = True,
    max_pairs: Annotated[int, typer.Option(help="Pairs to train on (0: all).")] = DEFAULT_MAX_PAIRS,
    epochs: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    lr: float = 2e-5,
    seed: int = 0,
    threads: Annotated[int, typer.Option(help="Torch CPU threads (0: torch default).")] = 0,
    overwrite: bool = False,
) -> None:
    """Build pairs from the taxonomy and fine-tune the encoder; prints the training statistics."""
    loaded = _taxonomy(taxonomy)
    pairs = training_pairs(
        loaded.concepts,
        max_alt_per_concept=max_alt,
        use_descriptions=descriptions,
        holdout=holdout,
        seed=seed,
    )
    if titles and len(loaded.occupations):
        pairs = concat_pairs(
            pairs,
            occupation_pairs(
                loaded.occupations,
                loaded.relations,
                loaded.concepts,
                max_alt_per_occupation=max_alt,
                holdout=title_holdout,
                seed=seed,
            ),
        )
    if hard_negatives:
        pairs = add_hard_negatives(pairs, [loaded.concepts, loaded.occupations], seed=seed)
    print(f"[finetune] pairs: {json.dumps(pairs.attrs['stats'])}", file=sys.stderr)
    stats = finetune_encoder(
        base_model,
        pairs,
        out,
        epochs=epochs,
        batch_size=batch_size,
        max_pairs=max_pairs or None,
        lr=lr,
        seed=seed,
        num_threads=threads or None,
        overwrite=overwrite,
    )
    print(json.dumps(stats, indent=2))


@app.command()
def evaluate(
    taxonomy: TaxonomyArg,
    models: Annotated[list[str], typer.Argument(help="Models to compare (name, hub id or folder).")],
    holdout_from: Annotated[Path, typer.Option(help="Fine-tuned model folder whose hold-out to use.")],
    benchmarks: Annotated[
        list[Path] | None, typer.Option("--benchmark", help="TECH/HOUSE validation CSV (repeatable).")
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Write the results as JSON here.")] = None,
    threads: Annotated[int, typer.Option(help="Torch CPU threads (0: torch default).")] = 0,
) -> None:
    """Score models on held-out skill normalisation and on skill-extraction benchmarks."""
    from skillmatch.config import get_settings
    from skillmatch.encoding.factory import load_encoder

    concepts = _concepts(taxonomy)
    held = read_holdout(holdout_from)
    settings = get_settings()
    results: dict[str, dict[str, Any]] = {}
    for model in models:
        started = time.perf_counter()
        encoder = load_encoder(
            model, cache_dir=settings.cache_dir if settings.use_cache else None, threads=threads
        )
        scores: dict[str, Any] = {"fingerprint": encoder.fingerprint}
        scores["normalisation_holdout"] = normalisation_eval(encoder, concepts, held)
        for csv_path in benchmarks or []:
            scores[csv_path.stem] = label_ranking_eval(encoder, concepts, csv_path)
        scores["seconds"] = round(time.perf_counter() - started, 1)
        results[model] = scores
        print(f"[finetune] {model}: {json.dumps(scores)}", file=sys.stderr, flush=True)
    text = json.dumps(results, indent=2)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    print(text)
