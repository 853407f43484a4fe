"""``python -m skillmatch``: run the ``skillmatch`` command line interface."""

from skillmatch.cli import main

if __name__ == "__main__":  # not when a child process (the encoder's, spawned) imports this module
    main()
