"""skillmatch: link skills to micro-credentials through a standard skills taxonomy.

The front door for notebooks and scripts is :func:`load` (see :mod:`skillmatch.facade`)::

    import skillmatch as sm
    b = sm.load("models/bundles/demo")
    b.recommend("data analyst", ["Excel", "SQL: beginner"], max_hours=120).to_frame()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from skillmatch.facade import Skillmatch

__all__ = ["Skillmatch", "__version__", "build_demo", "load"]


def load(path: Any, **options: Any) -> Skillmatch:
    """Open a bundle for use from Python (:func:`skillmatch.facade.load`).

    The facade is imported on first use, so that ``import skillmatch`` stays cheap.
    """
    from skillmatch.facade import load as _load

    return _load(path, **options)


def build_demo(out: Any, **options: Any) -> Skillmatch:
    """Build the demo bundle into ``out`` if absent, then load it (:func:`skillmatch.facade.build_demo`)."""
    from skillmatch.facade import build_demo as _build_demo

    return _build_demo(out, **options)


def __getattr__(name: str) -> Any:
    if name == "Skillmatch":
        from skillmatch.facade import Skillmatch

        return Skillmatch
    raise AttributeError(f"module 'skillmatch' has no attribute {name!r}")
