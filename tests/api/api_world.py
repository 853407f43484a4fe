"""The tiny world of the API tests: taxonomy, credentials and postings for two bundles (v2 adds a credential),
and the settings of the test apps. Ids are URIs, as in ESCO, so path parameters are exercised URL-encoded."""

from __future__ import annotations

import pandas as pd
from fakes import concept_row, posting_row

from skillmatch.api.security import hash_api_key
from skillmatch.build import BuildInputs
from skillmatch.config import Settings
from skillmatch.schema import CREDENTIAL_COLUMNS, OCCUPATION_COLUMNS, POSTING_COLUMNS, Taxonomy

SKILL = "http://data.europa.eu/esco/skill/"
OCC = "http://data.europa.eu/esco/occupation/"
SQL, PY, STATS, EXCEL, COMM, PROG, NURSE = (
    f"{SKILL}{name}"
    for name in ("sql", "python", "statistics", "excel", "communication", "programming", "nursing")
)
ANALYST, NURSE_ROLE = f"{OCC}data-analyst", f"{OCC}nurse"
SLASHED = "uni.example/courses/42"  # a credential id with slashes

API_KEY = "test-key-0123456789"
OTHER_KEY = "not-the-key"


def _credential(cid: str, outcomes: list[str], **fields: object) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(CREDENTIAL_COLUMNS)
    row.update(
        id=cid,
        title=f"Course {cid}",
        provider="Uni",
        description="",
        learning_outcomes=outcomes,
        skills=[],
        level="beginner",
        mode="online",
        language="en",
        duration_hours=10.0,
        cost=100.0,
        currency="EUR",
        prerequisites=[],
        stackable_into=[],
    )
    row.update(fields)
    return row


def world(extra_credentials: bool) -> BuildInputs:
    """The inputs of a bundle; ``extra_credentials`` adds C-EXCEL (the v2 bundle)."""
    concepts = pd.DataFrame(
        [
            concept_row(SQL, "SQL", ["structured query language"]),
            concept_row(PROG, "computer programming", ["programming"]),
            concept_row(PY, "Python", ["python programming"], [PROG]),
            concept_row(STATS, "statistics", ["statistical analysis"]),
            concept_row(EXCEL, "spreadsheets", ["excel"]),
            concept_row(COMM, "communication", ["communicate"]),
            concept_row(NURSE, "nursing care", ["nursing"]),
        ]
    )
    occupations = pd.DataFrame(
        [
            {
                "id": ANALYST,
                "label": "data analyst",
                "alt_labels": ["analytics specialist"],
                "description": "Analyses data.",
                "isco_group": "2511",
            },
            {
                "id": NURSE_ROLE,
                "label": "nurse",
                "alt_labels": ["staff nurse"],
                "description": "",
                "isco_group": "2221",
            },
        ],
        columns=OCCUPATION_COLUMNS,
    )
    relations = pd.DataFrame(
        [
            (ANALYST, SQL, "essential"),
            (ANALYST, PY, "essential"),
            (ANALYST, STATS, "essential"),
            (ANALYST, EXCEL, "optional"),
            (ANALYST, COMM, "optional"),
            (NURSE_ROLE, NURSE, "essential"),
        ],
        columns=["occupation_id", "skill_id", "relation"],
    )
    creds = [
        _credential("C-SQL", ["Query data with SQL"], title="SQL for data analysis", duration_hours=20.0),
        _credential(
            "C-PY1", ["Write code with Python"], title="Python basics", cost=0.0, duration_hours=30.0
        ),
        _credential(
            "C-PY2",
            ["Python programming", "statistical analysis"],
            title="Python for statistics",
            level="intermediate",
            duration_hours=40.0,
            cost=200.0,
            prerequisites=["C-PY1"],
        ),
        _credential(
            "C-STAT",
            ["statistics"],
            title="Advanced statistics",
            level="advanced",
            duration_hours=60.0,
            cost=500.0,
            currency="USD",
        ),
        _credential("C-DE", ["statistics", "SQL"], title="Statistik und SQL", language="de", cost=10.0),
        _credential(SLASHED, ["nursing care"], title="Nursing care in practice", mode="physical", cost=None),
    ]
    if extra_credentials:
        creds.append(
            _credential("C-EXCEL", ["Use spreadsheets (excel)"], title="Excel for analysts", cost=50.0)
        )
    posts = pd.DataFrame(
        [
            posting_row("P1", "Data Analyst (m/f/d)", "SQL and Python"),
            posting_row("P2", "data analyst", "SQL, statistics"),
            posting_row("P3", "Analyst", "SQL", occupation=ANALYST),
            posting_row("P4", "Barista", "communicate with guests"),
            posting_row("P5", "Barista - weekends", "communicate"),
        ],
        columns=POSTING_COLUMNS,
    )
    tax = Taxonomy("test", "1", concepts, occupations, relations)
    return BuildInputs(tax, pd.DataFrame(creds, columns=CREDENTIAL_COLUMNS), posts)


def api_settings(**overrides: object) -> Settings:
    """Settings of the test apps: small limits so the 413 paths are cheap to reach."""
    values: dict[str, object] = {
        "use_cache": False,
        "link_min_score": 0.5,
        "api_key_hashes": f"{hash_api_key(API_KEY)}, {hash_api_key('second-key')}",
        "api_max_texts": 5,
        "api_max_text_chars": 2000,
        "api_max_skills": 10,
        "api_max_roles": 3,
        "api_max_cohort": 4,
        "api_max_body_bytes": 32 * 1024,
        "api_sighup_reload": False,
        # a full garbage collection per installed bundle costs ~0.1 s in a test process: 20 s over the suite
        # (test_api_state.py covers it)
        "api_gc_freeze": False,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]
