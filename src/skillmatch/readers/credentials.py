"""Read a micro-credential catalogue (see docs/data-formats.md) into :data:`~skillmatch.schema.CREDENTIAL_COLUMNS`.

Also holds the value normalisers for levels, delivery modes, languages and currencies, which accept the
usual aliases ("Beginner", "introductory", "in person", "blended", "English", "en-GB", "€"...).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator

from skillmatch.currencies import iso_currency
from skillmatch.readers.tables import (
    RowModel,
    StrList,
    log_ignored_columns,
    normalise_key,
    read_table,
    require_columns,
    validate_rows,
)
from skillmatch.schema import (
    CREDENTIAL_COLUMNS,
    Level,
    Mode,
    ReadResult,
    Reject,
    looks_like_id,
    split_skill_level,
)

#: A trailing ": word" on a skill, which must then be a level.
_LEVEL_LIKE = re.compile(r":\s*([A-Za-z]+)\s*$")

# --- aliases ------------------------------------------------------------------------------------------------

LEVEL_ALIASES: dict[str, Level] = {
    **{
        a: Level.BEGINNER
        for a in (
            "beginner",
            "beginners",
            "basic",
            "basics",
            "introductory",
            "intro",
            "introduction",
            "foundation",
            "foundational",
            "fundamentals",
            "entry",
            "entry level",
            "elementary",
            "novice",
            "starter",
            "level 1",
        )
    },
    **{
        a: Level.INTERMEDIATE
        for a in ("intermediate", "medium", "mid", "mid level", "practitioner", "level 2", "improver")
    },
    **{
        a: Level.ADVANCED
        for a in (
            "advanced",
            "expert",
            "proficient",
            "specialist",
            "professional",
            "master",
            "mastery",
            "level 3",
        )
    },
}

MODE_ALIASES: dict[str, Mode] = {
    **{
        a: Mode.ONLINE
        for a in (
            "online",
            "on line",
            "e learning",
            "elearning",
            "remote",
            "virtual",
            "distance",
            "distance learning",
            "self paced",
            "mooc",
            "web based",
            "live online",
        )
    },
    **{
        a: Mode.PHYSICAL
        for a in (
            "physical",
            "in person",
            "inperson",
            "classroom",
            "class room",
            "on site",
            "onsite",
            "on campus",
            "campus",
            "face to face",
            "f2f",
            "offline",
            "in class",
        )
    },
    **{a: Mode.HYBRID for a in ("hybrid", "blended", "blended learning", "mixed", "online and in person")},
}

#: All ISO 639-1 codes.
_ISO_639_1_CODES = """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz
    ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io
    is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr
    ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si
    sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh
    yi yo za zh zu"""
ISO_639_1 = frozenset(_ISO_639_1_CODES.split())

# English name, native name(s) and ISO 639-2/3 codes of common languages -> ISO 639-1.
_LANGUAGE_NAMES: dict[str, tuple[str, ...]] = {
    "ar": ("arabic", "ara", "العربية"),
    "bg": ("bulgarian", "bul", "български"),
    "bn": ("bengali", "bangla", "ben", "বাংলা"),
    "ca": ("catalan", "cat", "català"),
    "cs": ("czech", "ces", "cze", "čeština", "cestina"),
    "cy": ("welsh", "cym", "wel", "cymraeg"),
    "da": ("danish", "dan", "dansk"),
    "de": ("german", "deu", "ger", "deutsch"),
    "el": ("greek", "ell", "gre", "ελληνικά"),
    "en": ("english", "eng"),
    "es": ("spanish", "spa", "español", "espanol", "castellano", "castilian"),
    "et": ("estonian", "est", "eesti"),
    "eu": ("basque", "eus", "baq", "euskara"),
    "fa": ("persian", "farsi", "fas", "per", "فارسی"),
    "fi": ("finnish", "fin", "suomi"),
    "fr": ("french", "fra", "fre", "français", "francais"),
    "ga": ("irish", "gle", "gaeilge"),
    "gl": ("galician", "glg", "galego"),
    "gu": ("gujarati", "guj", "ગુજરાતી"),
    "he": ("hebrew", "heb", "עברית"),
    "hi": ("hindi", "hin", "हिन्दी", "हिंदी"),
    "hr": ("croatian", "hrv", "hrvatski"),
    "hu": ("hungarian", "hun", "magyar"),
    "id": ("indonesian", "ind", "bahasa indonesia"),
    "is": ("icelandic", "isl", "ice", "íslenska"),
    "it": ("italian", "ita", "italiano"),
    "ja": ("japanese", "jpn", "日本語"),
    "kn": ("kannada", "kan", "ಕನ್ನಡ"),
    "ko": ("korean", "kor", "한국어"),
    "lb": ("luxembourgish", "ltz", "lëtzebuergesch"),
    "lt": ("lithuanian", "lit", "lietuvių"),
    "lv": ("latvian", "lav", "latviešu"),
    "mk": ("macedonian", "mkd", "mac", "македонски"),
    "ml": ("malayalam", "mal", "മലയാളം"),
    "mr": ("marathi", "mar", "मराठी"),
    "ms": ("malay", "msa", "may", "bahasa melayu"),
    "mt": ("maltese", "mlt", "malti"),
    "nl": ("dutch", "nld", "dut", "nederlands", "flemish"),
    "no": ("norwegian", "nor", "norsk"),
    "pa": ("punjabi", "panjabi", "pan", "ਪੰਜਾਬੀ"),
    "pl": ("polish", "pol", "polski"),
    "pt": ("portuguese", "por", "português", "portugues"),
    "ro": ("romanian", "ron", "rum", "română", "romana"),
    "ru": ("russian", "rus", "русский"),
    "sk": ("slovak", "slk", "slo", "slovenčina", "slovencina"),
    "sl": ("slovenian", "slovene", "slv", "slovenščina", "slovenscina"),
    "sq": ("albanian", "sqi", "alb", "shqip"),
    "sr": ("serbian", "srp", "српски", "srpski"),
    "sv": ("swedish", "swe", "svenska"),
    "sw": ("swahili", "swa", "kiswahili"),
    "ta": ("tamil", "tam", "தமிழ்"),
    "te": ("telugu", "tel", "తెలుగు"),
    "th": ("thai", "tha", "ไทย"),
    "tl": ("tagalog", "filipino", "tgl", "fil"),
    "tr": ("turkish", "tur", "türkçe", "turkce"),
    "uk": ("ukrainian", "ukr", "українська"),
    "ur": ("urdu", "urd", "اردو"),
    "vi": ("vietnamese", "vie", "tiếng việt"),
    "zh": ("chinese", "mandarin", "zho", "chi", "中文", "汉语"),
}
LANGUAGE_ALIASES: dict[str, str] = {name: code for code, names in _LANGUAGE_NAMES.items() for name in names}

CURRENCY_SYMBOLS: dict[str, str] = {
    "€": "EUR",
    "$": "USD",
    "us$": "USD",
    "£": "GBP",
    "₹": "INR",
    "rs": "INR",
    "¥": "JPY",
}

#: Words accepted for a cost of 0.
FREE_WORDS = frozenset({"free", "free of charge", "no cost", "gratis"})


def _choices(aliases: Mapping[str, object]) -> str:
    return ", ".join(dict.fromkeys(str(v) for v in aliases.values()))


def normalise_level(value: str) -> Level:
    """Map a level name or alias ("Beginner", "introductory", "foundation", "expert"...) to :class:`Level`.

    Raises:
        ValueError: unknown value (the message lists the accepted ones).
    """
    level = LEVEL_ALIASES.get(normalise_key(value))
    if level is None:
        raise ValueError(f"unknown level {value!r}; expected one of {_choices(LEVEL_ALIASES)}")
    return level


def normalise_mode(value: str) -> Mode:
    """Map a delivery mode or alias ("in person", "classroom", "on-site", "blended", "e-learning"...) to :class:`Mode`.

    Raises:
        ValueError: unknown value (the message lists the accepted ones).
    """
    mode = MODE_ALIASES.get(normalise_key(value))
    if mode is None:
        raise ValueError(
            f"unknown mode {value!r}; expected online, physical or hybrid "
            "(aliases: in person, classroom, on-site, blended, e-learning, ...)"
        )
    return mode


def normalise_language(value: str) -> str:
    """Map a language name, native name, ISO 639-1/639-2 code or locale tag ("en-GB") to a lower-case ISO 639-1 code.

    Raises:
        ValueError: unknown language.
    """
    key = normalise_key(value)
    if key in ISO_639_1:
        return key
    base = re.split(r"[\s_\-]", key)[0] if re.fullmatch(r"[a-z]{2,3}[\s_\-][a-z0-9]{2,8}", key) else None
    if base in ISO_639_1:
        return base
    code = LANGUAGE_ALIASES.get(key) or (LANGUAGE_ALIASES.get(base) if base else None)
    if code is None:
        raise ValueError(f"unknown language {value!r}; use an ISO 639-1 code such as en, de, fr, es or hi")
    return code


def normalise_currency(value: str) -> str:
    """Upper-case ISO 4217 currency code; accepts €, $, £ and ₹.

    Raises:
        ValueError: not a three-letter code, or not an ISO 4217 currency.
    """
    text = value.strip()
    code = CURRENCY_SYMBOLS.get(text.lower(), text.upper())
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValueError(f"currency must be a three-letter code such as EUR, USD, GBP or INR (got {value!r})")
    return iso_currency(code)  # ISO 4217 only: "XYZ" is rejected, not priced at 0


def normalise_country(value: str) -> str:
    """Upper-case two-letter ISO 3166-1 alpha-2 country code.

    Raises:
        ValueError: not a two-letter code.
    """
    code = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise ValueError(f"country must be a two-letter ISO 3166-1 code such as DE, IN or GB (got {value!r})")
    return code


# --- the row model -----------------------------------------------------------------------------------------


class CredentialRow(RowModel):
    """One credential; field order matters for the cross-field check on ``description``."""

    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    provider: str | None = None
    url: str | None = None
    learning_outcomes: StrList = Field(default_factory=list)
    description: str | None = Field(default=None, validate_default=True)
    skills: StrList = Field(default_factory=list)
    level: Level | None = None
    eqf_level: int | None = Field(default=None, ge=1, le=8)
    nsqf_level: int | None = Field(default=None, ge=1, le=10)
    mode: Mode | None = None
    language: str | None = None
    duration_hours: float | None = Field(default=None, ge=0)
    credits: float | None = Field(default=None, ge=0)
    credit_system: str | None = None
    cost: float | None = Field(default=None, ge=0)
    currency: str | None = None
    assessment: str | None = None
    quality_assurance: str | None = None
    prerequisites: StrList = Field(default_factory=list)
    prerequisite_skills: StrList = Field(default_factory=list)
    stackable_into: StrList = Field(default_factory=list)
    issuer: str | None = None
    issuer_country: str | None = None
    entry_requirements: str | None = None
    tags: StrList = Field(default_factory=list)

    @field_validator("skills", "prerequisite_skills")
    @classmethod
    def _skill_levels(cls, value: list[str]) -> list[str]:
        """Skills may end in a level ("SQL: intermediate"); a suffix that is nearly a level name is a typo."""
        out = []
        for item in value:
            text, level = split_skill_level(item)
            suffix = _LEVEL_LIKE.search(item)
            if level is None and suffix and not looks_like_id(item):
                near = difflib.get_close_matches(
                    suffix.group(1).lower(), [str(v) for v in Level], n=1, cutoff=0.75
                )
                if near:
                    raise ValueError(
                        f"{item!r}: unknown level {suffix.group(1)!r} (did you mean {near[0]!r}?)"
                    )
            out.append(f"{text}: {level}" if level else text)
        return out

    @field_validator("level", mode="before")
    @classmethod
    def _level(cls, value: object) -> object:
        return normalise_level(value) if isinstance(value, str) else value

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: object) -> object:
        return normalise_mode(value) if isinstance(value, str) else value

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, value: object) -> object:
        return normalise_language(value) if isinstance(value, str) else value

    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, value: object) -> object:
        return normalise_currency(value) if isinstance(value, str) else value

    @field_validator("issuer_country", mode="before")
    @classmethod
    def _country(cls, value: object) -> object:
        return normalise_country(value) if isinstance(value, str) else value

    @field_validator("cost", mode="before")
    @classmethod
    def _cost(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in FREE_WORDS:
            return 0.0
        return value

    @field_validator("description")
    @classmethod
    def _needs_text(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "learning_outcomes" in info.data and not value and not info.data["learning_outcomes"]:
            raise ValueError("no learning_outcomes and no description: give at least one of them")
        return value


def read_credentials(path: str | Path) -> ReadResult:
    """Read a credential catalogue (.csv, .tsv, .jsonl, .ndjson, .json or .parquet).

    Required columns: ``id``, ``title`` and at least one of ``learning_outcomes`` / ``description``; every
    other column of :data:`~skillmatch.schema.CREDENTIAL_COLUMNS` is optional. Each row is validated and
    normalised (see docs/data-formats.md); invalid rows and duplicate ids become rejects.

    Args:
        path: the catalogue file.

    Returns:
        The credentials with exactly :data:`~skillmatch.schema.CREDENTIAL_COLUMNS` (list columns hold lists;
        a missing ``cost`` is NaN, meaning unknown, never 0) and the rejects.

    Raises:
        InputError: the file cannot be used as a whole (see :func:`~skillmatch.readers.tables.read_table`)
            or lacks required columns.
    """
    file = str(path)
    rejects: list[Reject] = []
    frame = read_table(path, rejects)
    require_columns(frame, file, ["id", "title"], any_of=[["learning_outcomes", "description"]])
    log_ignored_columns(frame, CREDENTIAL_COLUMNS, file)
    return validate_rows(frame, CredentialRow, file, CREDENTIAL_COLUMNS, rejects=rejects)
