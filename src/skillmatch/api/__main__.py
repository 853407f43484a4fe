"""``python -m skillmatch.api``: serve the API from the environment's settings (the container's command).

Serves ``SKILLMATCH_BUNDLE`` on ``SKILLMATCH_API_HOST``:``SKILLMATCH_API_PORT`` with
``SKILLMATCH_API_WORKERS`` workers.
"""

from __future__ import annotations

import sys

from skillmatch.api.server import serve
from skillmatch.bundle import BundleError
from skillmatch.config import get_settings


def main() -> None:
    """Serve the API as configured by the environment; exit 2 with a clear message when it cannot start."""
    settings = get_settings()
    if settings.bundle is None:
        sys.exit("error: set SKILLMATCH_BUNDLE to a bundle folder (built with 'skillmatch build')")
    try:
        serve(settings.bundle, settings.api_host, settings.api_port, settings.api_workers)
    except (BundleError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
