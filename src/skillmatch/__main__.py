"""``python -m skillmatch``: run the ``skillmatch`` command line interface."""

from skillmatch.cli import main

main()
