"""Batch linking of many postings (``skillmatch link-postings``): one linking class, a local and a Ray engine.

See :mod:`skillmatch.batch.run` for the run (plan, link, commit, resume) and docs/scaling.md for the engines.
"""

from skillmatch.batch.linker import OUTPUT_COLUMNS, PostingBatchLinker, read_linked_postings
from skillmatch.batch.run import BatchError, BatchOptions, ProgressLine, link_postings_batch

__all__ = [
    "OUTPUT_COLUMNS",
    "BatchError",
    "BatchOptions",
    "PostingBatchLinker",
    "ProgressLine",
    "link_postings_batch",
    "read_linked_postings",
]
