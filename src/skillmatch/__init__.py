"""skillmatch: link skills to micro-credentials through a standard skills taxonomy."""

__version__ = "0.1.0"
