"""Link millions of postings: plan shards, link them with the local or the Ray engine, commit each shard atomically.

A run writes into one output folder::

    OUT/batch.json               what produced it (inputs, bundle model and taxonomy, options) and its status
    OUT/parts/part-00000.parquet one file per input shard (:data:`~skillmatch.batch.linker.OUTPUT_COLUMNS`)
    OUT/rejects.csv              rejected input rows (file, row, field, reason), as ``skillmatch build`` lists them
    OUT/_work/                   shards and staging of an unfinished run (removed when the run completes)

1. **Plan** (driver): each input file is read and validated like ``build`` reads postings
   (:func:`skillmatch.readers.read_postings`'s rules), one file at a time; valid rows are cut into shards of at
   most ``shard_rows`` rows (``_work/shards``), rejects go to ``rejects.csv``. The plan is written last.
2. **Link**: the shards without a finished part are linked by :class:`~skillmatch.batch.linker.PostingBatchLinker`
   (one instance per worker): the *local* engine streams each shard through it in batches with
   ``pyarrow.dataset``; the *Ray* engine runs Ray Data's batch-inference pattern, ``read_parquet -> repartition ->
   map_batches(PostingBatchLinker, compute=ActorPoolStrategy(size=N)) -> write_parquet`` (partitioned by shard
   into ``_work/staging``).
3. **Commit**: a shard whose output rows are all there is written to ``parts/`` through a temporary file and a
   rename, so ``parts/`` never holds a half file. Restarted with the same arguments, a run keeps the plan and the
   committed parts, commits the staged shards that are complete, drops the incomplete ones and links the rest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import json
import math
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from skillmatch import __version__
from skillmatch.batch.linker import (
    OUTPUT_COLUMNS,
    OUTPUT_SCHEMA,
    PARTS_DIR,
    RUN_FILE,
    PostingBatchLinker,
)
from skillmatch.bundle import BundleError, read_manifest
from skillmatch.config import Settings, get_settings
from skillmatch.readers.postings import PostingRow
from skillmatch.readers.tables import FORMATS, read_table, require_columns, validate_rows
from skillmatch.schema import POSTING_COLUMNS, InputError, Reject, rejects_to_frame

#: ``progress(done, total)``: rows linked so far out of the rows to link.
BatchProgress = Callable[[int, int], None]

WORK_DIR = "_work"
REJECTS_FILE = "rejects.csv"
#: The version of the output folder's layout (recorded in ``batch.json``).
OUTPUT_FORMAT = 1


class BatchError(BundleError):
    """A batch run cannot start or go on; the message says why."""


@dataclass(frozen=True)
class BatchOptions:
    """How to run :func:`link_postings_batch`.

    Args:
        engine: ``local`` (this process) or ``ray`` (Ray Data actors; needs ``skillmatch[ray]``).
        ray_address: the Ray cluster to join (default: ``RAY_ADDRESS``, else a local Ray started for the run).
        workers: linking workers (Ray actors); the local engine has one.
        batch_size: postings per batch handed to a worker.
        top_k: skills kept per posting text (default: the bundle's).
        min_score: linking threshold (default: the bundle's).
        shard_rows: rows per shard, the unit of resumption (and of one output file).
        cpus_per_worker: CPUs reserved per Ray actor (default: at most 1, leaving half a CPU for reading and
            writing so a 2-CPU machine cannot deadlock).
    """

    engine: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    workers: int = 1
    batch_size: int = 256
    top_k: int | None = None
    min_score: float | None = None
    shard_rows: int = 50_000
    cpus_per_worker: float | None = None

    def __post_init__(self) -> None:
        if self.engine not in ("local", "ray"):
            raise ValueError(f"engine must be 'local' or 'ray', got {self.engine!r}")
        for name in ("workers", "batch_size", "shard_rows"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {self.top_k}")


# --- inputs and plan ---------------------------------------------------------------------------------------------


def input_files(path: str | Path) -> list[Path]:
    """The input files: ``path`` itself, or the ``.parquet`` files of a folder (sorted, recursively).

    Raises:
        InputError: a missing path, an unknown extension, or a folder without Parquet files.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet") if p.is_file() and not p.name.startswith("."))
        if not files:
            raise InputError(f"{path}: the folder holds no .parquet files")
        return files
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.suffix.lower() not in FORMATS:
        raise InputError(f"{path}: unknown file type {path.suffix!r} (use {', '.join(sorted(FORMATS))})")
    return [path]


def _is_empty(path: Path) -> bool:
    """Whether a file holds no data rows (a 0-row Parquet file, a blank file, a CSV with only a header)."""
    if path.suffix.lower() == ".parquet":
        return pq.read_metadata(path).num_rows == 0
    with path.open("rb") as fh:
        lines = [line for line in (fh.readline() for _ in range(3)) if line.strip()]
    if path.suffix.lower() in (".csv", ".tsv"):
        return len(lines) <= 1
    return not lines


def run_key(files: list[Path], manifest: dict[str, Any], options: BatchOptions) -> str:
    """What makes two runs the same: the inputs (path, size, mtime), the bundle's model and taxonomy, the options."""
    described = {
        "inputs": [[str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in files],
        "model": manifest["model"]["fingerprint"],
        "taxonomy": manifest["taxonomy"],
        "bundle_created": manifest.get("created"),
        "top_k": options.top_k,
        "min_score": options.min_score,
        "shard_rows": options.shard_rows,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


def _write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` through a temporary file beside it and a rename (no half file under the final name)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    _write_atomic(
        path, lambda p: p.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    )


def _plan(files: list[Path], out: Path, shard_rows: int) -> dict[str, Any]:
    """Read and validate each input file, cut the valid rows into shards, write the rejects; returns the plan."""
    work = out / WORK_DIR
    shards_dir = work / "shards"
    shutil.rmtree(shards_dir, ignore_errors=True)
    shards_dir.mkdir(parents=True)
    shards: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    empty: list[str] = []
    for file in files:
        if _is_empty(file):
            empty.append(str(file))
            continue
        found: list[Reject] = []
        frame = read_table(file, found)
        require_columns(frame, str(file), ["id"], any_of=[["title", "description"]])
        result = validate_rows(frame, PostingRow, str(file), POSTING_COLUMNS, rejects=found)
        rejects.extend(result.rejects)
        table = result.table
        for start in range(0, len(table), shard_rows):
            n = len(shards)
            part = table.iloc[start : start + shard_rows].reset_index(drop=True)
            part = part.assign(_shard=n, _pos=range(len(part)))
            part["skills"] = [list(v) for v in part["skills"]]
            path = shards_dir / f"shard-{n:05d}.parquet"
            _write_atomic(path, lambda p, part=part: part.to_parquet(p, index=False))  # type: ignore[misc]
            shards.append({"id": n, "file": str(file), "first": start, "rows": len(part), "path": str(path)})
    _write_atomic(out / REJECTS_FILE, lambda p: rejects_to_frame(rejects).to_csv(p, index=False))
    plan = {
        "shards": shards,
        "rows": sum(s["rows"] for s in shards),
        "rejected": len(rejects),
        "empty_files": empty,
    }
    _write_json(work / "plan.json", plan)
    return plan


# --- output parts ------------------------------------------------------------------------------------------------


def part_path(out: Path, shard: int) -> Path:
    """The finished output file of a shard."""
    return out / PARTS_DIR / f"part-{shard:05d}.parquet"


def _commit(out: Path, shard: int, frame: pd.DataFrame) -> None:
    """Write one shard's output rows (in input order) to its part file atomically."""
    if "_pos" in frame.columns:
        frame = frame.sort_values("_pos", kind="stable")
    table = pa.Table.from_pandas(
        frame.reindex(columns=OUTPUT_COLUMNS), schema=OUTPUT_SCHEMA, preserve_index=False
    )
    _write_atomic(part_path(out, shard), lambda p: pq.write_table(table, p))


def _link_local(
    out: Path,
    pending: list[dict[str, Any]],
    make_linker: Callable[[], PostingBatchLinker],
    batch_size: int,
    step: Callable[[int], None],
) -> None:
    """The local engine: each pending shard streamed through one linker in batches, then committed."""
    linker = make_linker()
    for shard in pending:
        frames = []
        for batch in pads.dataset(shard["path"], format="parquet").to_batches(batch_size=batch_size):
            frames.append(linker(batch.to_pandas()))
            step(batch.num_rows)
        _commit(out, shard["id"], pd.concat(frames, ignore_index=True) if frames else pd.DataFrame())


def _staged_rows(folder: Path, seen: dict[Path, int]) -> int:
    """Rows in the readable Parquet files of a staging folder (a file still being written is skipped)."""
    total = 0
    for file in folder.rglob("*.parquet"):
        if file not in seen:
            try:
                seen[file] = pq.read_metadata(file).num_rows
            except (OSError, pa.ArrowInvalid):
                continue
        total += seen[file]
    return total


def _commit_staged(out: Path, shards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Commit each staged shard whose rows are all there; drop incomplete ones. Returns the shards left to link."""
    staging = out / WORK_DIR / "staging"
    left = []
    for shard in shards:
        folder = staging / f"_shard={shard['id']}"
        if folder.is_dir():
            try:
                schema = OUTPUT_SCHEMA.append(pa.field("_pos", pa.int64()))
                # a file whose column was all null has a null-typed column: read every file with the schema
                frame = pads.dataset(folder, format="parquet", schema=schema).to_table().to_pandas()
            except (OSError, pa.ArrowInvalid):
                frame = None  # a half-written file of an interrupted run
            if frame is not None and len(frame) == shard["rows"] and frame["_pos"].is_unique:
                _commit(out, shard["id"], frame)
                shutil.rmtree(folder)
                continue
            shutil.rmtree(folder)
        left.append(shard)
    return left


#: CPUs reserved by each Ray read and write task, and kept free of the actors (reading and writing are light).
IO_CPUS = 0.5


def actor_cpus(cluster_cpus: float, workers: int) -> float:
    """CPUs to reserve per linking actor: at most 1, and one CPU left for reading and writing.

    On a 2-CPU machine with 2 workers each actor reserves 0.5 CPU, so Ray Data can still schedule its file
    listing, read and write tasks (with 1 CPU per actor they wait for ever). A reservation is for scheduling:
    an actor still uses a whole core when it can.
    """
    return round(min(1.0, max(0.1, (cluster_cpus - 1.0) / workers)), 2)


def _link_ray(
    out: Path,
    pending: list[dict[str, Any]],
    bundle: Path,
    settings: Settings,
    options: BatchOptions,
    step: Callable[[int], None],
) -> dict[str, Any]:
    """The Ray engine: Ray Data's batch-inference pattern over the pending shards; returns what ran where."""
    try:
        # Ray is an optional extra (skillmatch[ray], also in dev): loaded by name only when this engine runs, so
        # that nothing in the core install imports it (tests/unit/test_dependencies.py lists it under INDIRECT)
        ray = importlib.import_module("ray")
    except ImportError as exc:  # the core install has no Ray
        raise BatchError("the ray engine needs Ray: pip install 'skillmatch[ray]'") from exc

    started = False
    if not ray.is_initialized():
        address = options.ray_address or os.environ.get("RAY_ADDRESS")
        init: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False}
        ray.init(address=address, **init) if address else ray.init(**init)
        started = True
    try:
        cluster_cpus = float(ray.cluster_resources().get("CPU", 1.0))
        cpus = options.cpus_per_worker or actor_cpus(cluster_cpus, options.workers)
        threads = max(1, math.ceil(cpus))
        rows = sum(s["rows"] for s in pending)
        # small inputs: enough blocks that every worker gets some
        blocks = max(options.workers, math.ceil(rows / options.batch_size))
        staging = out / WORK_DIR / "staging"
        seen: dict[Path, int] = {}
        stop = threading.Event()
        reported = [0]

        def report() -> None:
            now = _staged_rows(staging, seen)
            if now > reported[0]:
                step(now - reported[0])
                reported[0] = now

        def watch() -> None:
            while not stop.wait(1.0):
                report()

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            dataset = ray.data.read_parquet([s["path"] for s in pending], num_cpus=IO_CPUS)
            dataset = dataset.repartition(blocks).map_batches(
                PostingBatchLinker,
                fn_constructor_kwargs={
                    "bundle": str(bundle.resolve()),
                    "settings": settings,
                    "top_k": options.top_k,
                    "min_score": options.min_score,
                    "threads": threads,
                },
                batch_size=options.batch_size,
                batch_format="pandas",
                compute=ray.data.ActorPoolStrategy(size=options.workers),
                num_cpus=cpus,
            )
            dataset.write_parquet(
                str(staging), partition_cols=["_shard"], ray_remote_args={"num_cpus": IO_CPUS}
            )
        finally:
            stop.set()
            watcher.join()
        report()
        return {"cluster_cpus": cluster_cpus, "cpus_per_worker": cpus, "blocks": blocks}
    finally:
        if started:
            ray.shutdown()


# --- the run -----------------------------------------------------------------------------------------------------


def link_postings_batch(
    bundle: str | Path,
    inputs: str | Path,
    out: str | Path,
    *,
    options: BatchOptions | None = None,
    settings: Settings | None = None,
    progress: BatchProgress | None = None,
) -> dict[str, Any]:
    """Link every posting of ``inputs`` with ``bundle`` into the output folder ``out`` (see the module's text).

    Args:
        bundle: the bundle folder.
        inputs: a postings file (.parquet, .csv, .tsv, .jsonl, .ndjson, .json) or a folder of Parquet files.
        out: the output folder (created; an unfinished run of the same arguments there is resumed).
        options: engine and linking options.
        settings: settings (model, encoder backend, linking options).
        progress: called with ``(rows done, rows to link)`` as rows are linked.

    Returns:
        The run record (also written to ``out/batch.json``): inputs, model, taxonomy, options, counts, status.

    Raises:
        InputError: an input file cannot be used as a whole (missing columns, unreadable...).
        BatchError: ``out`` holds something else (another run's output, other files).
        BundleError: ``bundle`` is not a bundle or its model cannot be loaded.
    """
    options = options or BatchOptions()
    settings = settings or get_settings()
    bundle, out = Path(bundle), Path(out)
    manifest = read_manifest(bundle)
    files = input_files(inputs)
    key = run_key(files, manifest, options)
    run_file = out / RUN_FILE
    if run_file.is_file():
        previous = json.loads(run_file.read_text(encoding="utf-8"))
        if previous.get("key") != key:
            raise BatchError(
                f"{out} holds the output of another run (inputs, bundle or options differ: {previous.get('key')} "
                f"!= {key}); use another --output folder or delete it"
            )
        if previous.get("status") == "complete":
            return {**previous, "resumed": True, "skipped_shards": len(previous.get("shards", []))}
    elif out.exists() and any(out.iterdir()):
        raise BatchError(f"{out} exists and is not a link-postings output; refusing to write into it")
    (out / PARTS_DIR).mkdir(parents=True, exist_ok=True)
    run: dict[str, Any] = {
        "format": OUTPUT_FORMAT,
        "key": key,
        "status": "running",
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "skillmatch": __version__,
        "bundle": str(bundle.resolve()),
        "model": {"id": manifest["model"]["id"], "fingerprint": manifest["model"]["fingerprint"]},
        "taxonomy": manifest["taxonomy"],
        "inputs": [str(f) for f in files],
        "options": asdict(options),
        "engine": options.engine,
    }
    _write_json(run_file, run)

    plan_file = out / WORK_DIR / "plan.json"
    plan = (
        json.loads(plan_file.read_text(encoding="utf-8"))
        if plan_file.is_file()
        else _plan(files, out, options.shard_rows)
    )
    shards = plan["shards"]
    done = [s for s in shards if part_path(out, s["id"]).is_file()]
    pending = _commit_staged(out, [s for s in shards if not part_path(out, s["id"]).is_file()])
    total = sum(s["rows"] for s in shards)
    counter = {"done": total - sum(s["rows"] for s in pending)}

    def step(rows: int) -> None:
        counter["done"] += rows
        if progress is not None:
            progress(min(counter["done"], total), total)

    started = time.perf_counter()
    engine_info: dict[str, Any] = {}
    if pending:
        step(0)

        def make_linker() -> PostingBatchLinker:
            return PostingBatchLinker(bundle, settings, top_k=options.top_k, min_score=options.min_score)

        if options.engine == "local":
            _link_local(out, pending, make_linker, options.batch_size, step)
        else:
            engine_info = _link_ray(out, pending, bundle, settings, options, step)
            left = _commit_staged(out, pending)
            if left:
                raise BatchError(
                    f"the ray engine left {len(left)} shard(s) incomplete ({left[0]['path']}, ...); run the same "
                    "command again to resume"
                )
        step(0)
    if not shards:  # nothing to link: one empty part, so readers see the schema
        _write_atomic(part_path(out, 0), lambda p: pq.write_table(OUTPUT_SCHEMA.empty_table(), p))
    seconds = time.perf_counter() - started
    linked = total
    run.update(
        status="complete",
        finished=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        counts={"linked": linked, "rejected": plan["rejected"], "shards": len(shards)},
        empty_files=plan["empty_files"],
        skipped_shards=len(done),
        seconds=round(seconds, 3),
        rows_per_s=round((linked - sum(s["rows"] for s in done)) / seconds, 2) if seconds > 0 else None,
        engine_info=engine_info,
        shards=[{"id": s["id"], "file": s["file"], "first": s["first"], "rows": s["rows"]} for s in shards],
    )
    _write_json(run_file, run)
    shutil.rmtree(out / WORK_DIR, ignore_errors=True)
    return run


class ProgressLine:
    """A progress reporter for :func:`link_postings_batch`: rows done, rows/s and ETA on a text stream.

    Args:
        stream: where to write (standard error by default).
        every_s: the least time between two lines (the last line is always written).
    """

    def __init__(self, stream: TextIO | None = None, every_s: float = 2.0) -> None:
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self.start: float | None = None
        self.first_done = 0
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        """Report ``done`` of ``total`` rows."""
        now = time.perf_counter()
        if self.start is None:
            self.start, self.first_done = now, done
        if now - self.last < self.every_s and done < total:
            return
        self.last = now
        rate = (done - self.first_done) / (now - self.start) if now > self.start else 0.0
        eta = f"{(total - done) / rate:,.0f} s" if rate > 0 else "?"
        self.stream.write(f"linked {done:,}/{total:,} postings, {rate:,.1f} rows/s, ETA {eta}\n")
        self.stream.flush()


def iter_parts(out: str | Path) -> Iterator[Path]:
    """The finished output files of an output folder, in shard order."""
    yield from sorted((Path(out) / PARTS_DIR).glob("*.parquet"))
