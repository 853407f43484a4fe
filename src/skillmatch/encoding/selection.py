"""The ``auto`` encoder backend: time every candidate backend on this CPU and keep the fastest faithful one.

Which backend is fastest depends on the CPU and on the workload, not on the code: block-wise int8 took 30 % less
time than float32 for a server's short runs on an AVX-512/VNNI Xeon but 1.6x *more* on an AVX2-only EPYC, and on
the Xeon float32 was the faster of the two for a build's long runs on both cores (docs/performance.md). So
``auto`` does not name a backend; it measures:

1. each candidate (:data:`AUTO_CANDIDATES` by default) is loaded with the thread count it will run with and
   encodes :data:`PROBE_PHRASES` once;
2. a candidate whose vectors do not agree with float32 (the smallest cosine against the float32 vectors is below
   :data:`MIN_COSINE`, the bound the tests hold block-wise int8 to) is dropped;
3. the rest encode the phrases in runs of the workload's size (a server: a few phrases at a time; a build: full
   batches), in interleaved rounds for about ``budget_s`` seconds; the fastest median wins.

The result (:class:`BackendChoice`: the winner, every candidate's timing and agreement, the CPU and its load
average at the time) is cached in a JSON file under a key of model fingerprint, CPU signature
(:func:`skillmatch.cpu.cpu_signature`), workload, threads and library versions, so it runs once per machine kind;
the server shows it in ``/ready`` and ``/metrics`` and builds record it in the bundle manifest. A measurement
taken on a busy machine can be redone (``skillmatch cache encoder --refresh``, :func:`forget_cached`). An
explicit backend setting skips all of this.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from skillmatch.config import DEFAULT_AUTO_CANDIDATES
from skillmatch.cpu import cpu_info, cpu_signature
from skillmatch.encoding.base import Encoder, ModelLoadError

log = logging.getLogger("skillmatch.encoding")

#: Bumped when the measurement changes, so older cached choices are measured again.
SELECTION_FORMAT = 1

#: Backends ``auto`` times unless told otherwise (``encoder_auto_candidates``). Dynamic int8 (``onnx-int8``) is
#: left out: its vectors are further from float32 than :data:`MIN_COSINE` allows for all-MiniLM-L6-v2.
AUTO_CANDIDATES: tuple[str, ...] = DEFAULT_AUTO_CANDIDATES

#: Backends whose vectors are float32's own (the reference of the agreement check), in order of preference.
FLOAT32_BACKENDS = ("onnx", "torch")

#: Smallest cosine between a candidate's vectors and float32's on :data:`PROBE_PHRASES` for the candidate to
#: stand in for float32 (block-wise int8 stays above it; tests/integration/test_perf_encoder.py).
MIN_COSINE = 0.998

#: What the candidates encode: skill phrases as requests send them and taxonomy labels as builds encode them,
#: from one word to a sentence (lengths matter: the backends' costs differ per token and per run).
PROBE_PHRASES: tuple[str, ...] = (
    "Python",
    "SQL",
    "hands-on experience with Kubernetes",
    "data analysis",
    "manage a team of software developers",
    "strong communication skills",
    "use spreadsheets software",
    "machine learning",
    "advanced Excel",
    "project management",
    "basic knowledge of accounting principles",
    "customer service",
    "apply health and safety standards",
    "Java",
    "good knowledge of statistics",
    "develop marketing strategies for online retail",
    "cloud computing",
    "work in teams",
    "operate forklift trucks safely in a warehouse",
    "practical welding",
    "digital literacy",
    "write technical documentation for end users",
    "negotiation",
    "create financial reports",
    "experience with React and TypeScript front-end development",
    "nursing care",
    "teach mathematics to secondary school students",
    "quality assurance",
    "perform data cleansing and visualise the results in dashboards",
    "German",
    "use CAD software",
    "maintain electrical equipment",
)


@dataclass(frozen=True)
class Workload:
    """How an encoder will be used.

    ``name``, the texts per ``encode`` call, and how many copies of :data:`PROBE_PHRASES` one timed pass encodes.
    """

    name: str
    run_size: int
    copies: int = 1


#: A server: a few phrases per run (requests are coalesced into runs of up to ``api_coalesce_texts`` texts).
SERVING = Workload("serving", 8)
#: A build or batch job: long calls that the backend splits into full batches. Timed on 32 phrases in one call,
#: block-wise int8 beat float32 on the development machine, but on 3,000 ESCO labels in one call float32 was
#: 4-6 % faster: the probe encodes 4 copies in one call so that its batches are as full as a build's.
BUILD = Workload("build", 4 * len(PROBE_PHRASES), copies=4)


@dataclass
class CandidateResult:
    """One candidate's measurement: speed (``None`` when it was not timed), agreement with float32, verdict."""

    backend: str
    phrases_per_s: float | None = None
    ms_per_run: float | None = None
    rounds: int = 0
    min_cosine: float | None = None
    accepted: bool = False
    note: str = ""


@dataclass
class BackendChoice:
    """Which backend an encoder runs on and why (shown by ``/ready``, ``/metrics`` and the bundle manifest)."""

    backend: str
    chosen_by: str
    workload: str = ""
    threads: int = 0
    cpu: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    measured_at: str = ""
    seconds: float = 0.0
    load_average: list[float] = field(default_factory=list)
    candidates: list[CandidateResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BackendChoice:
        """The inverse of :meth:`to_dict`."""
        data = dict(data)
        data["candidates"] = [CandidateResult(**c) for c in data.get("candidates", [])]
        return cls(**data)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def choice_key(
    base_fingerprint: str, workload: Workload, threads: int, candidates: Sequence[str], parallel_runs: int = 1
) -> str:
    """The cache key of a choice: model, CPU signature, workload, threads, candidates and library versions."""
    parts = {
        "parallel_runs": parallel_runs,
        "format": SELECTION_FORMAT,
        "model": base_fingerprint,
        "cpu": cpu_signature(),
        "workload": asdict(workload),
        "threads": threads,
        "candidates": list(candidates),
        "versions": {p: _version(p) for p in ("onnxruntime", "torch", "sentence-transformers")},
    }
    return hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def read_cached(cache_file: Path | None, key: str) -> BackendChoice | None:
    """The choice cached under ``key`` in ``cache_file``, or None (missing, unreadable or another key)."""
    if cache_file is None or not cache_file.is_file():
        return None
    try:
        entry = json.loads(cache_file.read_text()).get(key)
        return BackendChoice.from_dict(entry) if isinstance(entry, dict) else None
    except (OSError, ValueError, TypeError):
        log.warning("ignoring unreadable encoder choice cache %s", cache_file)
        return None


def write_cached(cache_file: Path | None, choice: BackendChoice) -> None:
    """Add ``choice`` to ``cache_file`` (written atomically; a failure to write is logged, not raised)."""
    if cache_file is None:
        return
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            entries = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
        except ValueError:
            entries = {}
        if not isinstance(entries, dict):
            entries = {}
        entries[choice.key] = choice.to_dict()
        fd, tmp = tempfile.mkstemp(prefix=f".{cache_file.name}.", dir=cache_file.parent)
        with os.fdopen(fd, "w") as fh:
            json.dump(entries, fh, indent=2)
        os.replace(tmp, cache_file)
    except OSError as exc:
        log.warning("could not cache the encoder choice in %s: %s", cache_file, exc)


def _runs(texts: Sequence[str], size: int) -> list[list[str]]:
    return [list(texts[i : i + size]) for i in range(0, len(texts), size)]


def measure(
    encoders: dict[str, Encoder],
    workload: Workload,
    *,
    budget_s: float = 1.0,
    phrases: Sequence[str] = PROBE_PHRASES,
    min_rounds: int = 3,
    max_rounds: int = 200,
) -> list[CandidateResult]:
    """Check each encoder's agreement with float32 and time the faithful ones on ``phrases``.

    Rounds are interleaved (one pass of every candidate per round) so that a change in the machine's load
    affects all of them alike; timing stops after ``budget_s`` seconds once every candidate has ``min_rounds``.
    """
    results = {name: CandidateResult(name) for name in encoders}
    texts = list(phrases) * workload.copies
    vectors = {
        name: np.asarray(enc.encode(list(phrases)), dtype=np.float32) for name, enc in encoders.items()
    }
    reference = next((vectors[n] for n in FLOAT32_BACKENDS if n in vectors), None)
    for name, result in results.items():
        if reference is None:
            result.note = "no float32 backend to compare with"
            continue
        result.min_cosine = round(float(np.min(np.sum(vectors[name] * reference, axis=1))), 5)
        result.accepted = result.min_cosine >= MIN_COSINE
        if not result.accepted:
            result.note = f"vectors differ from float32 (cosine {result.min_cosine} < {MIN_COSINE})"
    timed = [n for n, r in results.items() if r.accepted] if reference is not None else list(encoders)
    runs = _runs(texts, workload.run_size)
    passes: dict[str, list[float]] = {n: [] for n in timed}
    start = time.perf_counter()
    for round_no in range(max_rounds):
        for name in timed:
            t0 = time.perf_counter()
            for run in runs:
                encoders[name].encode(run)
            passes[name].append(time.perf_counter() - t0)
        if round_no + 1 >= min_rounds and time.perf_counter() - start >= budget_s:
            break
    for name in timed:
        seconds = statistics.median(passes[name])
        result = results[name]
        result.rounds = len(passes[name])
        result.phrases_per_s = round(len(texts) / seconds, 1)
        result.ms_per_run = round(1000 * seconds / len(runs), 3)
    return list(results.values())


def forget_cached(cache_file: Path, key: str | None = None) -> int:
    """Drop cached choices (``key``'s, or all) so the next ``auto`` measures again; returns how many were dropped."""
    if not cache_file.is_file():
        return 0
    try:
        entries = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        entries = {}
    if not isinstance(entries, dict):
        entries = {}
    dropped = len(entries) if key is None else int(key in entries)
    kept = {} if key is None else {k: v for k, v in entries.items() if k != key}
    fd, tmp = tempfile.mkstemp(prefix=f".{cache_file.name}.", dir=cache_file.parent)
    with os.fdopen(fd, "w") as fh:
        json.dump(kept, fh, indent=2)
    os.replace(tmp, cache_file)
    return dropped


def choose_backend(
    load: Callable[[str], Encoder],
    *,
    base_fingerprint: str,
    workload: Workload,
    threads: int,
    candidates: Sequence[str] = AUTO_CANDIDATES,
    cache_file: Path | None = None,
    budget_s: float = 1.0,
    parallel_runs: int = 1,
) -> tuple[Encoder, BackendChoice]:
    """Load the fastest of ``candidates`` whose vectors agree with float32 (see the module's docstring).

    Args:
        load: loads one backend by name (raises :class:`ModelLoadError` when it cannot).
        base_fingerprint: the model's float32 fingerprint (part of the cache key).
        workload: how the encoder will be used (:data:`SERVING` or :data:`BUILD`).
        threads: the thread count the backends are loaded with (part of the cache key).
        candidates: backend names to try.
        cache_file: JSON file of earlier choices (None: measure every time, cache nothing).
        budget_s: about how long the timing may take (loading the candidates comes on top).
        parallel_runs: ONNX runs executed at once by the loaded backends (part of the cache key).

    Raises:
        ModelLoadError: no candidate could be loaded.
    """
    if not candidates:
        raise ValueError("no encoder backend to choose from")
    key = choice_key(base_fingerprint, workload, threads, candidates, parallel_runs)
    cached = read_cached(cache_file, key)
    if cached is not None:
        try:
            encoder = load(cached.backend)
            cached.chosen_by = "auto (cached measurement)"
            return encoder, cached
        except ModelLoadError as exc:
            log.warning("cached encoder choice %s no longer loads (%s); measuring again", cached.backend, exc)
    started = time.perf_counter()
    loaded: dict[str, Encoder] = {}
    failed: list[CandidateResult] = []
    for name in candidates:
        try:
            loaded[name] = load(name)
        except ModelLoadError as exc:
            failed.append(CandidateResult(name, note=f"cannot load: {exc}"[:300]))
    if not loaded:
        notes = "; ".join(f"{r.backend}: {r.note}" for r in failed)
        raise ModelLoadError(f"no encoder backend could be loaded ({notes})")
    results = measure(loaded, workload, budget_s=budget_s)
    timed = [r for r in results if r.phrases_per_s is not None]
    if timed:
        best = max(timed, key=lambda r: r.phrases_per_s or 0.0)
        how = "auto (measured)"
    else:  # nothing agrees with float32 (no float32 backend loaded): keep the first that loaded
        best = results[0]
        how = "auto (no float32 reference; first that loads)"
    choice = BackendChoice(
        backend=best.backend,
        chosen_by=how,
        workload=workload.name,
        threads=threads,
        cpu=cpu_info(),
        key=key,
        measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
        seconds=round(time.perf_counter() - started, 2),
        load_average=[round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else [],
        candidates=results + failed,
    )
    write_cached(cache_file, choice)
    log.info(
        "encoder backend %s chosen for %s on %s: %s",
        choice.backend,
        workload.name,
        choice.cpu.get("model"),
        ", ".join(f"{r.backend} {r.phrases_per_s or '-'} phrases/s" for r in choice.candidates),
    )
    return loaded[best.backend], choice


def selection_of(encoder: Encoder) -> dict[str, Any]:
    """How ``encoder``'s backend was chosen (:class:`BackendChoice` as a dict), ``{}`` when nobody recorded it.

    Looks through the wrappers (caches, coalescing, exact-label shortcut) to the backend.
    """
    from skillmatch.encoding.base import unwrap

    choice = getattr(unwrap(encoder), "selection", None)
    return choice.to_dict() if isinstance(choice, BackendChoice) else {}
