"""API keys and CORS settings.

Keys are never stored: the server is configured with their SHA-256 hex digests
(``SKILLMATCH_API_KEY_HASHES``, comma-separated) and compares the digest of the key in the ``X-API-Key``
header with each of them in constant time (:func:`hmac.compare_digest`). Make a digest with
``python -m skillmatch.api.security`` (reads the key from standard input).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import sys

_HEX64 = re.compile(r"[0-9a-f]{64}")


def hash_api_key(key: str) -> str:
    """The SHA-256 hex digest of an API key (what goes into ``SKILLMATCH_API_KEY_HASHES``)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_key_hashes(raw: str) -> tuple[str, ...]:
    """The digests in a comma-separated ``SKILLMATCH_API_KEY_HASHES`` value.

    Raises:
        ValueError: an entry is not a 64-character hexadecimal SHA-256 digest (the message names its position).
    """
    out = []
    for position, item in enumerate((p.strip().lower() for p in raw.split(",")), start=1):
        if not item:
            continue
        if not _HEX64.fullmatch(item):
            raise ValueError(
                f"SKILLMATCH_API_KEY_HASHES entry {position} is not a SHA-256 hex digest (64 hex characters); "
                "store the digest of each key, not the key: python -m skillmatch.api.security"
            )
        out.append(item)
    return tuple(out)


def parse_origins(raw: str) -> list[str]:
    """The origins in a comma-separated ``SKILLMATCH_API_CORS_ORIGINS`` value."""
    return [o.strip().rstrip("/") for o in raw.split(",") if o.strip()]


def key_matches(key: str | None, digests: tuple[str, ...]) -> bool:
    """Whether ``key`` hashes to one of ``digests``; every digest is compared (constant time each)."""
    if not key or not digests:
        return False
    candidate = hash_api_key(key).encode()
    found = False
    for digest in digests:
        found |= hmac.compare_digest(candidate, digest.encode())
    return found


def main() -> None:  # pragma: no cover - tiny helper
    """Print the digest of the API key read from standard input (one line)."""
    key = sys.stdin.readline().rstrip("\r\n")
    if not key:
        sys.exit('give the key on standard input, e.g.: printf %s "$KEY" | python -m skillmatch.api.security')
    print(hash_api_key(key))


if __name__ == "__main__":  # pragma: no cover
    main()
