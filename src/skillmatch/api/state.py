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
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skillmatch.bundle import Bundle, BundleError, check_encoder, model_for, open_bundle, read_manifest
from skillmatch.config import Settings
from skillmatch.encoding.base import Encoder, unwrap
from skillmatch.encoding.factory import in_child, serving_encoder
from skillmatch.encoding.selection import selection_of
from skillmatch.facade import Skillmatch
from skillmatch.matching.catalogue import CredentialCatalogue
from skillmatch.matching.context import MatchContext

log = logging.getLogger("skillmatch.api")


class ReloadRefused(RuntimeError):
    """A new bundle could not be loaded or failed validation; the old one keeps serving."""


class NotReady(RuntimeError):
    """No bundle is loaded yet."""


@dataclass(frozen=True)
class Served:
    """One loaded bundle with the objects built from it; never changed once built."""

    service: Skillmatch
    catalogue: CredentialCatalogue
    generation: int
    loaded_at: float = field(default_factory=time.time)

    @property
    def bundle(self) -> Bundle:
        """The served bundle."""
        return self.service.bundle

    @property
    def matcher(self) -> MatchContext:
        """The bundle's matching context."""
        return self.service.context

    def summary(self, *, full_path: bool = False) -> dict[str, Any]:
        """What ``/ready`` and the reload endpoint report about this bundle.

        The bundle's folder name always; its absolute path only with ``full_path`` (callers with an API key):
        the layout of the server's disk is not for anyone who can reach ``/ready``.
        """
        manifest = self.bundle.manifest
        return {
            "name": self.bundle.path.name,
            "path": str(self.bundle.path) if full_path else None,
            "generation": self.generation,
            "loaded_at": round(self.loaded_at, 3),
            "created": manifest.get("created"),
            "taxonomy": manifest.get("taxonomy", {}),
            "model": {k: v for k, v in manifest.get("model", {}).items() if k in {"id", "dim"}},
            "encoder": encoder_info(self.service.model_encoder),
            "counts": {k: int(v) for k, v in manifest.get("counts", {}).items()},
            "skillmatch": manifest.get("versions", {}).get("skillmatch"),
        }


def encoder_info(encoder: Encoder) -> dict[str, Any]:
    """The backend and fingerprint of the encoder that encodes request texts, and how the backend was chosen.

    ``chosen_by`` says "setting" or which ``auto``; with ``auto`` also every candidate's phrases/s and agreement
    with float32, and the CPU.
    """
    backend = unwrap(encoder)
    selection = selection_of(encoder)
    return {
        "backend": str(getattr(backend, "backend", type(backend).__name__)),
        "fingerprint": encoder.fingerprint,
        "chosen_by": selection.get("chosen_by", "unknown"),
        "selection": {
            k: selection[k] for k in ("workload", "threads", "measured_at", "candidates") if k in selection
        },
        "cpu": {k: v for k, v in selection.get("cpu", {}).items() if k in {"model", "arch", "flags"}},
        "process": child.info() if (child := in_child(encoder)) is not None else None,
    }


def validate(service: Skillmatch) -> CredentialCatalogue:
    """Check a loaded bundle can serve and build its catalogue search; ValueError says why not."""
    bundle = service.bundle
    if not len(bundle.taxonomy.concepts):
        raise ValueError(f"bundle {bundle.path} has no taxonomy concepts")
    # related skills of every skill at once (one batched search; ~1.4 s for ESCO) rather than one search per
    # skill on its first use in a request
    service.context.space.warm()
    catalogue = CredentialCatalogue(service.context)
    # one end-to-end call through the encoder and the label index: fails loudly on a broken index
    service.linker.link([str(bundle.taxonomy.concepts["label"].iloc[0])], top_k=1)
    return catalogue


def _encoder_for(path: Path, settings: Settings, current: Encoder | None) -> Encoder:
    """The encoder to serve ``path`` with: ``current`` when it made that bundle's vectors, else a new one.

    A new encoder comes from :func:`~skillmatch.encoding.factory.serving_encoder`.

    Raises:
        BundleError: the manifest cannot be read.
    """
    manifest = read_manifest(path)
    if current is not None:
        try:
            check_encoder(manifest, current, path)
            return current
        except BundleError:
            pass
    return serving_encoder(settings, model_for(manifest, settings))


def load_service(path: Path, settings: Settings, current: Encoder | None = None) -> Skillmatch:
    """Open a bundle for serving, reusing ``current`` (the served model encoder) when it made the bundle.

    Request texts from several threads are coalesced into shared encoder runs (``api_coalesce_texts``; 0: a lock
    unless the encoder is thread-safe).

    Raises:
        BundleError: the bundle cannot be loaded (the message says why).
    """
    path = Path(path)
    encoder = _encoder_for(path, settings, current)
    bundle = open_bundle(path, ef_search=settings.hnsw_ef_search)
    return Skillmatch(bundle, encoder, settings=settings, coalesce_texts=settings.api_coalesce_texts)


#: Loads a bundle for serving: ``loader(path, settings, current_model_encoder)`` (tests inject their own).
Loader = Callable[[Path, Settings, Encoder | None], Skillmatch]
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

    def __init__(self, settings: Settings, loader: Loader = load_service) -> None:
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

    def install(self, service: Skillmatch) -> Served:
        """Validate a loaded bundle and make it the served one.

        Raises:
            ValueError: the bundle cannot serve.
        """
        catalogue = validate(service)
        with self._swap_lock:
            self._generation += 1
            served = Served(service, catalogue, self._generation)
            self._current = served
        for listener in self._listeners:
            listener(served)
        if self.settings.api_gc_freeze:
            settle_heap()
        return served

    def load(self, path: Path | None = None) -> Served:
        """Load the bundle at ``path``, validate it and swap it in; blocking (run it in a worker thread).

        ``path`` defaults to the served bundle's path, else ``settings.bundle``. Reloads run one at a time; one
        that waits longer than ``api_reload_timeout`` for another to finish is refused.

        Raises:
            ReloadRefused: no path is known, or the bundle cannot be loaded or fails validation; the bundle
                served before (if any) is still served.
        """
        if not self._reload_lock.acquire(timeout=self.settings.api_reload_timeout):
            raise ReloadRefused(
                f"another reload has been running for over {self.settings.api_reload_timeout:g} s; try again later"
            )
        try:
            return self._load_locked(path)
        finally:
            self._reload_lock.release()

    def _load_locked(self, path: Path | None) -> Served:
        """Load and swap in the bundle at ``path``; the caller holds the reload lock."""
        target = self._target(path)
        previous = self._current
        start = time.perf_counter()
        try:
            service = self._loader(
                target, self.settings, previous.service.model_encoder if previous else None
            )
            served = self.install(service)
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
