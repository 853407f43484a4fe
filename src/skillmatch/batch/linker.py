"""The one linking function of both batch engines: a pandas batch of postings in, a batch of linked rows out.

:class:`PostingBatchLinker` opens a bundle once (tables, FAISS index, the encoder that made its vectors) and maps
a batch of validated postings (:data:`~skillmatch.schema.POSTING_COLUMNS`) to :data:`OUTPUT_COLUMNS`: one row
per posting with its linked skills as parallel list columns. It links exactly like ``skillmatch build`` does
(:func:`skillmatch.build.link_postings`: title + description, plus the explicit skill list, best link per
skill), so :func:`read_linked_postings` gives ``build`` the same ``posting_skills`` table.

The class is what Ray Data's batch-inference pattern wants (a callable class, constructed once per actor), and the
local engine calls the same class in-process (:mod:`skillmatch.batch.run`).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from skillmatch.build import LinkedPostings, link_postings
from skillmatch.bundle import LINK_COLUMNS, BundleError, check_encoder, model_for, open_bundle
from skillmatch.config import Settings, get_settings
from skillmatch.encoding.factory import make_encoder, query_chain
from skillmatch.linking.linker import SkillLinker, linker_for, options_for
from skillmatch.schema import POSTING_COLUMNS

#: Posting fields carried into the output (the description is left out: it is the bulk of the input).
POSTING_FIELDS = ["title", "occupation", "location", "date", "source", "skills"]

#: Columns of the batch output, one row per posting; the ``link_*`` lists are parallel (one item per skill).
OUTPUT_COLUMNS = [
    "posting_id",
    *POSTING_FIELDS,
    "skill_ids",
    "labels",
    "scores",
    "evidence",
    "link_sources",
    "link_levels",
    "model_fingerprint",
    "taxonomy_version",
    "worker",
]

#: The Arrow schema of every output file (an empty batch has it too).
OUTPUT_SCHEMA = pa.schema(
    [
        ("posting_id", pa.string()),
        ("title", pa.string()),
        ("occupation", pa.string()),
        ("location", pa.string()),
        ("date", pa.string()),
        ("source", pa.string()),
        ("skills", pa.list_(pa.string())),
        ("skill_ids", pa.list_(pa.string())),
        ("labels", pa.list_(pa.string())),
        ("scores", pa.list_(pa.float64())),
        ("evidence", pa.list_(pa.string())),
        ("link_sources", pa.list_(pa.string())),
        ("link_levels", pa.list_(pa.string())),
        ("model_fingerprint", pa.string()),
        ("taxonomy_version", pa.string()),
        ("worker", pa.string()),
    ]
)

#: The file in an output folder that records what produced it (see :mod:`skillmatch.batch.run`).
RUN_FILE = "batch.json"
#: The folder of finished output files inside an output folder.
PARTS_DIR = "parts"


def worker_name() -> str:
    """Who runs this code: ``host:pid``, plus ``/actor:<id>`` inside a Ray actor.

    Ray is not imported here: only when the process already loaded it (a Ray worker) is the actor id asked for.
    """
    name = f"{socket.gethostname()}:{os.getpid()}"
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        actor = ray.get_runtime_context().get_actor_id()
        if actor:
            name += f"/actor:{actor}"
    return name


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _as_list(value: object) -> list[str]:
    if value is None or isinstance(value, float):
        return []
    return [str(v) for v in value]  # type: ignore[attr-defined]


class PostingBatchLinker:
    """Links batches of postings with a bundle's linker; constructed once per worker (Ray actor or process).

    Args:
        bundle: the bundle folder.
        settings: settings (the model, encoder backend, linking options set there override the bundle's).
        top_k: skills kept per posting text (default: the bundle's).
        min_score: linking threshold (default: the bundle's).
        threads: compute threads of the encoder in this worker (0: the library default).

    Raises:
        BundleError: not a bundle, or an encoder that did not make its vectors.
    """

    def __init__(
        self,
        bundle: str | Path,
        settings: Settings | None = None,
        *,
        top_k: int | None = None,
        min_score: float | None = None,
        threads: int = 0,
    ) -> None:
        settings = settings or get_settings()
        # postings rarely repeat: no on-disk embedding cache, which several workers would share
        settings = settings.model_copy(update={"use_cache": False, "encoder_threads": threads})
        opened = open_bundle(Path(bundle), ef_search=settings.hnsw_ef_search, verify_checksums=False)
        recorded = opened.manifest.get("encoder", {}).get("backend")
        if settings.encoder_backend == "auto" and recorded:
            # link with the backend the build used: its vectors, so batch links are the links a build makes (auto
            # on this machine, or at other thread counts, may pick the other of two near-equal backends)
            settings = settings.model_copy(update={"encoder_backend": recorded})
        encoder = make_encoder(settings, model_for(opened.manifest, settings))
        check_encoder(opened.manifest, encoder, opened.path)
        options = options_for(opened.manifest, settings)
        if top_k is not None:
            options["top_k"] = top_k
        if min_score is not None:
            options["min_score"] = min_score
        chain = query_chain(encoder, opened.labels["text"].tolist(), opened.label_index.reconstruct)
        self.linker: SkillLinker = linker_for(
            chain, opened.labels, opened.label_index, opened.taxonomy.concepts, options
        )
        self.labels = dict(
            zip(opened.taxonomy.concepts["id"], opened.taxonomy.concepts["label"], strict=True)
        )
        self.model_fingerprint = str(opened.manifest["model"]["fingerprint"])
        self.taxonomy_version = str(opened.manifest["taxonomy"]["version"])
        self.options = options
        self.worker = worker_name()

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        """Link a batch of validated postings (:data:`POSTING_COLUMNS`); one output row per posting, in order.

        Columns other than the posting columns are ignored, except those whose name starts with ``_`` (the engine's
        bookkeeping, e.g. ``_shard`` and ``_pos``), which are passed through.
        """
        postings = batch.reindex(columns=POSTING_COLUMNS).reset_index(drop=True)
        postings["id"] = postings["id"].astype(str)
        postings["skills"] = [_as_list(v) for v in postings["skills"]]
        links = link_postings(self.linker, postings) if len(postings) else None
        groups = {} if links is None or links.empty else dict(tuple(links.groupby("posting_id", sort=False)))
        rows: list[dict[str, Any]] = []
        for record in postings.to_dict("records"):
            found = groups.get(record["id"])
            ids = [] if found is None else found["skill_id"].astype(str).tolist()
            rows.append(
                {
                    "posting_id": record["id"],
                    **{f: _text(record[f]) for f in POSTING_FIELDS if f != "skills"},
                    "skills": record["skills"],
                    "skill_ids": ids,
                    "labels": [self.labels.get(i, i) for i in ids],
                    "scores": [] if found is None else [float(s) for s in found["score"]],
                    "evidence": [] if found is None else [str(p) for p in found["phrase"]],
                    "link_sources": [] if found is None else [str(s) for s in found["source"]],
                    "link_levels": [] if found is None else [_text(v) for v in found["level"]],
                    "model_fingerprint": self.model_fingerprint,
                    "taxonomy_version": self.taxonomy_version,
                    "worker": self.worker,
                }
            )
        out = pd.DataFrame(rows, columns=OUTPUT_COLUMNS)
        for column in batch.columns:
            if str(column).startswith("_"):
                out[column] = batch[column].to_numpy()
        return out


def read_linked_postings(folder: str | Path) -> LinkedPostings:
    """The postings and their skill links from a finished ``skillmatch link-postings`` output folder.

    Args:
        folder: the output folder (with ``batch.json`` and ``parts/``).

    Returns:
        The postings (:data:`~skillmatch.schema.POSTING_COLUMNS`; no description), the ``posting_skills`` table
        ``build`` makes (``posting_id`` + :data:`~skillmatch.bundle.LINK_COLUMNS`; ``evidence`` holds the
        posting's title, ``phrase`` the linked phrase) and what produced them.

    Raises:
        BundleError: not an output folder, an unfinished run, or files of different bundles mixed.
    """
    folder = Path(folder)
    run_file = folder / RUN_FILE
    if not run_file.is_file():
        raise BundleError(
            f"{folder}: not a link-postings output (no {RUN_FILE}); run 'skillmatch link-postings'"
        )
    run = json.loads(run_file.read_text(encoding="utf-8"))
    if run.get("status") != "complete":
        raise BundleError(
            f"{folder}: the link-postings run is not finished (status {run.get('status')!r}); "
            "run the same 'skillmatch link-postings' command again to complete it"
        )
    files = sorted((folder / PARTS_DIR).glob("*.parquet"))
    table = (
        pa.concat_tables([pq.read_table(f, schema=OUTPUT_SCHEMA) for f in files])
        if files
        else OUTPUT_SCHEMA.empty_table()
    )
    frame = table.to_pandas()
    found = {
        (str(a), str(b)) for a, b in zip(frame["model_fingerprint"], frame["taxonomy_version"], strict=True)
    }
    want = (str(run["model"]["fingerprint"]), str(run["taxonomy"]["version"]))
    if found - {want}:
        raise BundleError(
            f"{folder}: output files were linked with other models or taxonomies ({sorted(found - {want})}) than "
            f"the run records {want}; link the postings again into an empty folder"
        )
    postings = pd.DataFrame(
        {
            "id": frame["posting_id"],
            "title": frame["title"],
            "description": None,
            "skills": [list(v) for v in frame["skills"]],
            **{f: frame[f] for f in ("occupation", "location", "date", "source")},
        },
        columns=POSTING_COLUMNS,
    )
    links = pd.DataFrame(
        [
            (pid, sid, float(score), title, phrase, source, level)
            for pid, title, ids, scores, phrases, sources, levels in zip(
                frame["posting_id"],
                frame["title"],
                frame["skill_ids"],
                frame["scores"],
                frame["evidence"],
                frame["link_sources"],
                frame["link_levels"],
                strict=True,
            )
            for sid, score, phrase, source, level in zip(ids, scores, phrases, sources, levels, strict=True)
        ],
        columns=["posting_id", *LINK_COLUMNS],
    )
    return LinkedPostings(
        postings=postings,
        posting_skills=links,
        model_fingerprint=want[0],
        taxonomy_version=want[1],
        source=str(folder),
        run=run,
    )


def run_summary(run: Mapping[str, Any]) -> str:
    """One line about a run record: engine, rows linked and rejected."""
    counts = run.get("counts", {})
    return (
        f"{counts.get('linked', 0)} posting(s) linked, {counts.get('rejected', 0)} rejected "
        f"(engine {run.get('engine')}, status {run.get('status')})"
    )
