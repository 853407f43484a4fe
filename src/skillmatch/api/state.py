"""The served bundle and its hot swap.

Everything a request needs from a bundle (the bundle, its :class:`~skillmatch.matching.context.MatchContext` and
:class:`~skillmatch.matching.catalogue.CredentialCatalogue`) is built once into an immutable :class:`Served`. A
:class:`BundleHolder` keeps one reference to the current :class:`Served`; each request reads it once at its
start (see :func:`skillmatch.api.deps.served`) and keeps using that object, so requests in flight finish on the
bundle they started with. A reload builds the new :class:`Served` beside the old one, validates it and swaps the
reference under a lock; a bundle that fails to load or validate is refused and the old one keeps serving.
"""

from __future__ import annotations

import gc
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from skillmatch.bundle import Bundle, BundleError, check_encoder
from skillmatch.config import Settings
from skillmatch.encoding.coalesce import CoalescingEncoder
from skillmatch.encoding.encoder import Encoder, ModelLoadError, ProgressFn, SentenceTransformerEncoder
from skillmatch.encoding.threads import encoder_threads
from skillmatch.matching.catalogue import CredentialCatalogue
from skillmatch.matching.context import MatchContext

log = logging.getLogger("skillmatch.api")


class LockedEncoder:
    """An encoder whose ``encode`` runs one call at a time, unless the encoder says it is thread-safe.

    Hugging Face tokenizers and the SQLite embedding cache are not safe under concurrent use from several
    threads; the API serves requests from a thread pool, so a served encoder that does not coalesce
    (``api_coalesce_texts`` = 0; the default coalesces, see :mod:`skillmatch.encoding.coalesce`) is wrapped in this. An
    encoder whose ``thread_safe`` is true (the ONNX Runtime backend without the on-disk cache) runs calls side by
    side: 8 threads in-process gave 98-101 instead of 61-70 recommendations/s (docs/performance.md).
    """

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        self._lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        """The wrapped encoder's fingerprint."""
        return self.inner.fingerprint

    def encode(self, texts: Sequence[str], *, progress: ProgressFn | None = None) -> np.ndarray:
        """Encode, under the lock unless the encoder is thread-safe (see :meth:`skillmatch.encoding.encoder.Encoder.encode`)."""
        if getattr(self.inner, "thread_safe", False):
            return self.inner.encode(texts, progress=progress)
        with self._lock:
            return self.inner.encode(texts, progress=progress)


class ReloadRefused(RuntimeError):
    """A new bundle could not be loaded or failed validation; the old one keeps serving."""


class NotReady(RuntimeError):
    """No bundle is loaded yet."""


@dataclass(frozen=True)
class Served:
    """One loaded bundle with the objects built from it; never changed once built."""

    bundle: Bundle
    matcher: MatchContext
    catalogue: CredentialCatalogue
    generation: int
    loaded_at: float = field(default_factory=time.time)

    def summary(self) -> dict[str, Any]:
        """What ``/ready`` and the reload endpoint report about this bundle."""
        manifest = self.bundle.manifest
        return {
            "path": str(self.bundle.path),
            "generation": self.generation,
            "loaded_at": round(self.loaded_at, 3),
            "created": manifest.get("created"),
            "taxonomy": manifest.get("taxonomy", {}),
            "model": {k: v for k, v in manifest.get("model", {}).items() if k in {"id", "dim"}},
            "encoder": encoder_info(self.bundle.encoder),
            "counts": {k: int(v) for k, v in manifest.get("counts", {}).items()},
            "skillmatch": manifest.get("versions", {}).get("skillmatch"),
        }


def encoder_info(encoder: Encoder) -> dict[str, str]:
    """The backend and fingerprint of the encoder that encodes request texts (wrappers unwrapped)."""
    while hasattr(encoder, "inner"):
        encoder = encoder.inner
    return {
        "backend": str(getattr(encoder, "backend", encoder.__class__.__name__)),
        "fingerprint": str(getattr(encoder, "fingerprint", "")),
    }


def validate(bundle: Bundle) -> tuple[MatchContext, CredentialCatalogue]:
    """Build the matcher and catalogue of a loaded bundle and check it can serve; ValueError says why not."""
    if not len(bundle.taxonomy.concepts):
        raise ValueError(f"bundle {bundle.path} has no taxonomy concepts")
    matcher = MatchContext(bundle)
    # related skills of every skill at once (one batched search; ~1.4 s for ESCO) rather than one search per
    # skill on its first use in a request
    matcher.space.warm()
    catalogue = CredentialCatalogue(matcher)
    # one end-to-end call through the encoder and the label index: fails loudly on a broken index
    bundle.linker.link([str(bundle.taxonomy.concepts["label"].iloc[0])], top_k=1)
    return matcher, catalogue


def serving_encoder(settings: Settings, model: str) -> SentenceTransformerEncoder:
    """The encoder the API encodes request texts with: ``model`` with the backend of ``api_encoder_backend``
    ("same": ``encoder_backend``), the API's cache setting and serving thread count.

    When the default block-wise int8 backend cannot be loaded (e.g. a model the export does not handle) the
    encoder of ``encoder_backend`` is used instead, with a warning; a backend set explicitly fails loudly.
    """
    backend = settings.api_encoder_backend
    serving = settings.model_copy(
        update={
            "use_cache": settings.api_use_cache,
            "encoder_threads": encoder_threads(settings, serving=True),
            "encoder_backend": settings.encoder_backend if backend == "same" else backend,
        }
    )
    try:
        return SentenceTransformerEncoder.from_settings(serving, model)
    except ModelLoadError as exc:
        if "api_encoder_backend" in settings.model_fields_set or backend == "same":
            raise
        log.warning(
            "serving encoder backend %s unavailable, using %s instead: %s",
            backend,
            settings.encoder_backend,
            exc,
        )
        fallback = serving.model_copy(update={"encoder_backend": settings.encoder_backend})
        return SentenceTransformerEncoder.from_settings(fallback, model)


def _encoder_for(path: Path, settings: Settings, current: Encoder | None) -> Encoder | None:
    """The encoder to load ``path`` with: ``current`` when it can query that bundle, else a fresh one
    (:func:`serving_encoder`): coalescing (:class:`~skillmatch.encoding.coalesce.CoalescingEncoder`, one encoder thread)
    unless ``api_coalesce_texts`` is 0, then locked (:class:`LockedEncoder`).

    Returns None when the manifest cannot be read (``Bundle.load`` then reports the problem).
    """
    try:
        manifest = json.loads((path / "manifest.json").read_text())
        model = manifest["model"]
        model_id = str(model["id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if current is not None:
        try:
            check_encoder(manifest, current, path)
            return current
        except BundleError:
            pass
    wanted = settings.model if "model" in settings.model_fields_set else model_id
    encoder = serving_encoder(settings, wanted)
    if settings.api_coalesce_texts > 0:
        return CoalescingEncoder(encoder, max_texts=settings.api_coalesce_texts)
    return LockedEncoder(encoder)


def load_bundle(path: Path, settings: Settings, current: Encoder | None = None) -> Bundle:
    """Load a bundle for serving, reusing ``current`` (the served encoder) when the bundle was built with it.

    Raises:
        BundleError: the bundle cannot be loaded (the message says why).
    """
    path = Path(path)
    encoder = _encoder_for(path, settings, current)
    return Bundle.load(path, settings=settings, encoder=encoder)


#: Loads a bundle: ``loader(path, settings, current_encoder)`` (tests inject their own).
Loader = Callable[[Path, Settings, Encoder | None], Bundle]
#: Called with the new :class:`Served` after every swap (the metrics use it).
SwapListener = Callable[[Served], None]
#: Called with the reason when a bundle is refused.
RefuseListener = Callable[[str], None]


def settle_heap() -> None:
    """Collect garbage once, then move every object alive now out of the garbage collector's sight.

    A loaded full-ESCO bundle is a quarter of a million container objects (tables, dictionaries, the taxonomy
    graph) that live as long as the bundle is served. Python's collector walks all of them on each full
    collection: about 0.1 s holding the interpreter lock, which stalls every request in flight and made the
    slowest recommendations of a load test take 250-290 ms instead of 120 (docs/performance.md).
    ``gc.freeze`` leaves them to reference counting alone. Objects of a bundle swapped out later are still freed
    by reference counting; reference cycles among them are unfrozen and collected at the next call.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class BundleHolder:
    """Holds the current :class:`Served`; reloads build a new one and swap the reference atomically."""

    def __init__(self, settings: Settings, loader: Loader = load_bundle) -> None:
        self.settings = settings
        self._loader = loader
        self._current: Served | None = None
        self._generation = 0
        self._swap_lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._listeners: list[SwapListener] = []
        self._refuse_listeners: list[RefuseListener] = []

    def on_swap(self, listener: SwapListener) -> None:
        """Call ``listener`` with each newly installed bundle (and now, if one is installed)."""
        self._listeners.append(listener)
        if self._current is not None:
            listener(self._current)

    def on_refuse(self, listener: RefuseListener) -> None:
        """Call ``listener`` with the reason whenever a bundle is refused."""
        self._refuse_listeners.append(listener)

    @property
    def ready(self) -> bool:
        """Whether a bundle is installed."""
        return self._current is not None

    @property
    def current(self) -> Served:
        """The bundle to serve this request with (read once per request).

        Raises:
            NotReady: no bundle is installed yet.
        """
        served = self._current
        if served is None:
            raise NotReady("no bundle is loaded yet")
        return served

    def install(self, bundle: Bundle, matcher: MatchContext | None = None) -> Served:
        """Validate ``bundle`` (building its matcher unless given) and make it the served one.

        Raises:
            ValueError: the bundle cannot serve.
        """
        if matcher is None:
            matcher, catalogue = validate(bundle)
        else:
            if matcher.bundle is not bundle:
                raise ValueError("the matcher was built over another bundle")
            catalogue = CredentialCatalogue(matcher)
        with self._swap_lock:
            self._generation += 1
            served = Served(bundle, matcher, catalogue, self._generation)
            self._current = served
        for listener in self._listeners:
            listener(served)
        if self.settings.api_gc_freeze:
            settle_heap()
        return served

    def load(self, path: Path | None = None) -> Served:
        """Load the bundle at ``path`` (default: the served bundle's path, else ``settings.bundle``), validate
        it and swap it in; blocking (run it in a worker thread). Reloads run one at a time.

        Raises:
            ReloadRefused: no path is known, or the bundle cannot be loaded or fails validation; the bundle
                served before (if any) is still served.
        """
        with self._reload_lock:
            target = self._target(path)
            previous = self._current
            start = time.perf_counter()
            try:
                bundle = self._loader(target, self.settings, previous.bundle.encoder if previous else None)
                served = self.install(bundle)
            except Exception as exc:  # any failure to load or validate refuses the bundle
                message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
                reason = str(message) or exc.__class__.__name__
                log.warning("bundle refused", extra={"bundle": str(target), "reason": reason})
                for listener in self._refuse_listeners:
                    listener(reason)
                raise ReloadRefused(f"bundle {target} refused: {reason}") from exc
            log.info(
                "bundle loaded",
                extra={
                    "bundle": str(target),
                    "generation": served.generation,
                    "duration_ms": round((time.perf_counter() - start) * 1000, 1),
                },
            )
            return served

    def _target(self, path: Path | None) -> Path:
        if path is not None:
            return Path(path)
        if self._current is not None:
            return Path(self._current.bundle.path)
        if self.settings.bundle is not None:
            return Path(self.settings.bundle)
        raise ReloadRefused("no bundle path: set SKILLMATCH_BUNDLE or give one")
