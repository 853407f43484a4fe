"""Consistency checks for the hand-written demo data in data/demo/.

Uses pandas and the standard library only (not the skillmatch readers), so the demo files are checked
independently of the code that reads them. The ESCO checks need ../shared/data and skip without it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from skillmatch.readers.generic import GENERIC_COLUMNS
from skillmatch.schema import CREDENTIAL_COLUMNS, POSTING_COLUMNS

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo"
ESCO_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "esco" / "v1.1.1"

TAXONOMY_COLUMNS = GENERIC_COLUMNS
LIST_FIELDS = ["learning_outcomes", "skills", "prerequisites", "stackable_into"]
ESCO_PREFIX = "http://data.europa.eu/esco/"
DEMO_SKILL_PREFIX = "urn:skillmatch:demo:skill:"
DEMO_GROUP_PREFIX = "urn:skillmatch:demo:group:"
TRANSVERSAL_GROUP = DEMO_GROUP_PREFIX + "transversal"
CONCEPT_TYPES = {"skill", "knowledge"}


def split_list(value: str) -> list[str]:
    """Split a ``|``-separated cell into its non-empty, stripped items."""
    return [item.strip() for item in value.split("|") if item.strip()]


def normalise(text: str) -> str:
    """Lower-case and collapse whitespace, for comparing descriptions."""
    return " ".join(str(text).split()).lower()


# --- loading ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def taxonomy() -> pd.DataFrame:
    path = DEMO / "taxonomy.csv"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


@pytest.fixture(scope="module")
def credentials() -> pd.DataFrame:
    path = DEMO / "credentials.jsonl"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    records = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        assert line.strip(), f"credentials.jsonl, line {line_no}: blank line"
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:  # pragma: no cover - only on broken data
            pytest.fail(f"credentials.jsonl, line {line_no}: invalid JSON ({exc})")
        keys = list(records[-1])
        assert keys == CREDENTIAL_COLUMNS, (
            f"credentials.jsonl, line {line_no}: keys {keys} != CREDENTIAL_COLUMNS"
        )
    # object dtype keeps JSON null as None (pandas would otherwise turn it into NaN in string columns)
    return pd.DataFrame(records, columns=CREDENTIAL_COLUMNS, dtype=object)


@pytest.fixture(scope="module")
def postings() -> pd.DataFrame:
    path = DEMO / "postings.csv"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


@pytest.fixture(scope="module")
def concepts(taxonomy: pd.DataFrame) -> pd.DataFrame:
    return taxonomy[taxonomy["type"].isin(CONCEPT_TYPES)]


@pytest.fixture(scope="module")
def occupations(taxonomy: pd.DataFrame) -> pd.DataFrame:
    return taxonomy[taxonomy["type"] == "occupation"]


@pytest.fixture(scope="module")
def esco() -> tuple[pd.DataFrame, pd.DataFrame]:
    if not (ESCO_DIR / "skills_en.csv").exists():
        pytest.skip(f"ESCO v1.1.1 export not found at {ESCO_DIR} (../shared/data is absent)")
    skills = pd.read_csv(ESCO_DIR / "skills_en.csv", dtype=str, keep_default_na=False)
    occupations = pd.read_csv(ESCO_DIR / "occupations_en.csv", dtype=str, keep_default_na=False)
    return skills, occupations


# --- text matching: which concepts does a credential's text mention? -----------------------------------------


def concept_patterns(concepts: pd.DataFrame) -> dict[str, re.Pattern[str]]:
    """One case-insensitive whole-phrase pattern per concept id, built from its label and alt labels."""
    patterns = {}
    for row in concepts.itertuples():
        terms = [t for t in [row.label, *split_list(row.alt_labels)] if len(t) >= 2]
        alternation = "|".join(re.escape(t.lower()) for t in sorted(terms, key=len, reverse=True))
        patterns[row.id] = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)")
    return patterns


def credential_text(row: pd.Series) -> str:
    return " ".join([row["title"], row["description"], *row["learning_outcomes"], *row["skills"]]).lower()


@pytest.fixture(scope="module")
def mentioned(credentials: pd.DataFrame, concepts: pd.DataFrame) -> dict[str, set[str]]:
    """credential id -> ids of the concepts its text mentions."""
    patterns = concept_patterns(concepts)
    out = {}
    for _, row in credentials.iterrows():
        text = credential_text(row)
        out[row["id"]] = {cid for cid, pattern in patterns.items() if pattern.search(text)}
    return out


# --- structure ------------------------------------------------------------------------------------------------


def test_required_columns_present(
    taxonomy: pd.DataFrame, credentials: pd.DataFrame, postings: pd.DataFrame
) -> None:
    assert list(taxonomy.columns) == TAXONOMY_COLUMNS, "taxonomy.csv: header differs from the generic format"
    assert list(credentials.columns) == CREDENTIAL_COLUMNS
    assert list(postings.columns) == POSTING_COLUMNS, "postings.csv: header differs from POSTING_COLUMNS"


def test_schema_module_agrees_with_the_files() -> None:
    schema = pytest.importorskip("skillmatch.schema")
    assert schema.CREDENTIAL_COLUMNS == CREDENTIAL_COLUMNS
    assert schema.POSTING_COLUMNS == POSTING_COLUMNS


@pytest.mark.parametrize("name", ["taxonomy", "credentials", "postings"])
def test_ids_unique_and_non_empty(name: str, request: pytest.FixtureRequest) -> None:
    frame: pd.DataFrame = request.getfixturevalue(name)
    assert (frame["id"].str.strip() != "").all(), (
        f"{name}: empty id in rows {list(frame.index[frame['id'] == ''])}"
    )
    dupes = frame["id"][frame["id"].duplicated()].tolist()
    assert not dupes, f"{name}: duplicate ids {dupes}"


def test_taxonomy_types_and_id_schemes(taxonomy: pd.DataFrame) -> None:
    bad_type = taxonomy[~taxonomy["type"].isin(CONCEPT_TYPES | {"group", "occupation"})]
    assert bad_type.empty, f"taxonomy.csv rows {list(bad_type.index + 2)} [type]: {bad_type['type'].tolist()}"
    groups = taxonomy[taxonomy["type"] == "group"]
    assert groups["id"].str.startswith(DEMO_GROUP_PREFIX).all()
    concepts = taxonomy[taxonomy["type"].isin(CONCEPT_TYPES)]
    odd = concepts[~concepts["id"].str.startswith((ESCO_PREFIX + "skill/", DEMO_SKILL_PREFIX))]
    assert odd.empty, f"taxonomy.csv [id]: concept ids neither ESCO nor demo: {odd['id'].tolist()}"
    occupations = taxonomy[taxonomy["type"] == "occupation"]
    assert occupations["id"].str.startswith(ESCO_PREFIX + "occupation/").all()


def test_every_parent_exists(taxonomy: pd.DataFrame) -> None:
    ids = set(taxonomy["id"])
    kinds = dict(zip(taxonomy["id"], taxonomy["type"], strict=True))
    with_parent = taxonomy[taxonomy["parent"] != ""]
    missing = with_parent[~with_parent["parent"].isin(ids)]
    assert missing.empty, (
        f"taxonomy.csv [parent]: unknown parents {dict(zip(missing['id'], missing['parent'], strict=True))}"
    )
    group_parents = {kinds[p] for p in with_parent.loc[with_parent["type"] == "group", "parent"]}
    assert group_parents <= {"group"}, "a group's parent must be a group"
    concepts = taxonomy[taxonomy["type"].isin(CONCEPT_TYPES)]
    orphans = concepts[concepts["parent"] == ""]
    assert orphans.empty, f"taxonomy.csv [parent]: concepts without a parent group {orphans['id'].tolist()}"


def test_group_hierarchy_has_no_cycles(taxonomy: pd.DataFrame) -> None:
    parent = {r.id: r.parent for r in taxonomy.itertuples() if r.parent}
    for start in parent:
        seen, node = set(), start
        while node in parent:
            assert node not in seen, f"taxonomy.csv [parent]: cycle through {node}"
            seen.add(node)
            node = parent[node]


def test_concepts_are_well_formed(concepts: pd.DataFrame) -> None:
    assert 180 <= len(concepts) <= 260, f"{len(concepts)} skill/knowledge concepts"
    for row in concepts.itertuples():
        where = f"taxonomy.csv, concept {row.id}"
        alts = split_list(row.alt_labels)
        assert 2 <= len(alts) <= 6, f"{where} [alt_labels]: {len(alts)} alternative labels"
        assert len(set(a.lower() for a in alts)) == len(alts), f"{where} [alt_labels]: repeated label"
        assert row.label.strip(), f"{where} [label]: empty"
        assert row.description.strip().endswith("."), f"{where} [description]: not a sentence"
        assert not (row.essential_skills or row.optional_skills or row.isco_group), (
            f"{where}: occupation fields set"
        )


def test_occupation_skills_exist_as_concepts(occupations: pd.DataFrame, concepts: pd.DataFrame) -> None:
    concept_ids = set(concepts["id"])
    assert len(occupations) >= 10
    for row in occupations.itertuples():
        where = f"taxonomy.csv, occupation {row.label!r}"
        essential, optional = split_list(row.essential_skills), split_list(row.optional_skills)
        assert 8 <= len(essential) <= 20, f"{where} [essential_skills]: {len(essential)} ids"
        assert 3 <= len(optional) <= 10, f"{where} [optional_skills]: {len(optional)} ids"
        unknown = [s for s in essential + optional if s not in concept_ids]
        assert not unknown, f"{where}: ids that are not skill/knowledge rows: {unknown}"
        assert not set(essential) & set(optional), f"{where}: skills both essential and optional"
        assert re.fullmatch(r"\d{4}", row.isco_group), f"{where} [isco_group]: {row.isco_group!r}"


# --- credentials --------------------------------------------------------------------------------------------


def test_credential_fields_are_valid(credentials: pd.DataFrame) -> None:
    for _, row in credentials.iterrows():
        where = f"credentials.jsonl, {row['id']}"
        for name in LIST_FIELDS:
            assert isinstance(row[name], list), f"{where} [{name}]: not a list"
            assert all(isinstance(x, str) and x.strip() for x in row[name]), f"{where} [{name}]: empty item"
        assert 3 <= len(row["learning_outcomes"]) <= 6, f"{where} [learning_outcomes]"
        assert row["level"] in {"beginner", "intermediate", "advanced"}, f"{where} [level]"
        assert row["mode"] in {"online", "physical", "hybrid"}, f"{where} [mode]"
        assert re.fullmatch(r"[a-z]{2}", row["language"]), f"{where} [language]"
        assert re.fullmatch(r"[A-Z]{2}", row["issuer_country"]), f"{where} [issuer_country]"
        assert row["currency"] in {"EUR", "USD", "GBP", "INR"}, f"{where} [currency]"
        assert row["credit_system"] in {"ECTS", "NCrF", None}, f"{where} [credit_system]"
        assert (row["credits"] is None) == (row["credit_system"] is None), f"{where} [credits]"
        assert row["eqf_level"] is None or 3 <= row["eqf_level"] <= 7, f"{where} [eqf_level]"
        assert row["nsqf_level"] is None or 3 <= row["nsqf_level"] <= 8, f"{where} [nsqf_level]"
        if row["issuer_country"] == "IN":
            assert row["nsqf_level"] is not None, f"{where} [nsqf_level]: Indian provider without NSQF level"
        assert 6 <= row["duration_hours"] <= 200, f"{where} [duration_hours]"
        assert row["cost"] >= 0, f"{where} [cost]"
        assert row["url"].startswith("https://example.org/"), f"{where} [url]"
        assert all(q.startswith("QUAL-") for q in row["stackable_into"]), f"{where} [stackable_into]"


def test_every_prerequisite_exists(credentials: pd.DataFrame) -> None:
    ids = set(credentials["id"])
    for _, row in credentials.iterrows():
        unknown = [p for p in row["prerequisites"] if p not in ids]
        assert not unknown, f"credentials.jsonl, {row['id']} [prerequisites]: unknown ids {unknown}"
        assert row["id"] not in row["prerequisites"], f"credentials.jsonl, {row['id']}: requires itself"


def test_prerequisites_have_no_cycles(credentials: pd.DataFrame) -> None:
    requires = dict(zip(credentials["id"], credentials["prerequisites"], strict=True))
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == "done":
            return
        assert state.get(node) != "active", f"credentials.jsonl [prerequisites]: cycle {[*path, node]}"
        state[node] = "active"
        for prerequisite in requires.get(node, []):
            visit(prerequisite, [*path, node])
        state[node] = "done"

    for credential_id in requires:
        visit(credential_id, [])


def test_catalogue_has_stackable_series(credentials: pd.DataFrame) -> None:
    requires = dict(zip(credentials["id"], credentials["prerequisites"], strict=True))
    # a series is a chain of at least three credentials: X requires Y requires Z
    chain_ends = {c for c, pre in requires.items() if any(requires.get(p) for p in pre)}
    assert len(chain_ends) >= 6, f"only {len(chain_ends)} three-step prerequisite series"


def test_catalogue_variety(credentials: pd.DataFrame) -> None:
    assert len(credentials) >= 60
    assert set(credentials["level"]) == {"beginner", "intermediate", "advanced"}
    assert set(credentials["mode"]) == {"online", "physical", "hybrid"}
    assert {"en", "de", "fr", "es", "hi"} <= set(credentials["language"])
    assert (credentials["cost"] == 0).any() and (credentials["cost"] > 0).any()
    untagged = (credentials["skills"].map(len) == 0).mean()
    assert 0.2 <= untagged <= 0.45, f"{untagged:.0%} of credentials have no explicit skills"


# --- postings -----------------------------------------------------------------------------------------------


def test_posting_fields_are_valid(postings: pd.DataFrame, occupations: pd.DataFrame) -> None:
    occupation_ids = set(occupations["id"])
    for row in postings.itertuples():
        where = f"postings.csv, {row.id}"
        assert row.title.strip() and row.location.strip(), f"{where}: empty title or location"
        sentences = len(re.findall(r"[.!?](?:\s|$)", row.description))
        assert 4 <= sentences <= 10, f"{where} [description]: {sentences} sentences"
        assert row.occupation == "" or row.occupation in occupation_ids, (
            f"{where} [occupation]: {row.occupation}"
        )
        assert re.fullmatch(r"202[56]-\d{2}-\d{2}", row.date), f"{where} [date]: {row.date!r}"
        pd.Timestamp(row.date)  # raises on impossible dates
        assert row.source == "demo", f"{where} [source]"
    linked = (postings["occupation"] != "").mean()
    assert 0.45 <= linked <= 0.75, f"{linked:.0%} of postings carry an occupation id"
    with_skills = (postings["skills"] != "").mean()
    assert 0.3 <= with_skills <= 0.7, f"{with_skills:.0%} of postings list explicit skills"


def test_counts(credentials: pd.DataFrame, postings: pd.DataFrame, occupations: pd.DataFrame) -> None:
    assert len(credentials) >= 60
    assert len(occupations) >= 8
    assert len(postings) >= 80


# --- the demo story: every role has postings and courses, with a few deliberate gaps ----------------------------


def test_each_role_has_postings_and_credentials_at_two_levels(
    occupations: pd.DataFrame,
    concepts: pd.DataFrame,
    credentials: pd.DataFrame,
    postings: pd.DataFrame,
    mentioned: dict[str, set[str]],
) -> None:
    posting_counts = Counter(postings["occupation"])
    level = dict(zip(credentials["id"], credentials["level"], strict=True))
    transversal = set(concepts.loc[concepts["parent"] == TRANSVERSAL_GROUP, "id"])
    for row in occupations.itertuples():
        assert posting_counts[row.id] >= 2, f"role {row.label!r}: {posting_counts[row.id]} linked postings"
        role_specific = set(split_list(row.essential_skills)) - transversal
        # a credential serves the role when its text covers at least two of the role's specific essential skills
        serving = [cid for cid, ids in mentioned.items() if len(ids & role_specific) >= 2]
        levels = {level[c] for c in serving}
        assert len(levels) >= 2, f"role {row.label!r}: credentials {serving} cover levels {levels}"


def test_only_a_few_essential_skills_are_taught_nowhere(
    occupations: pd.DataFrame, concepts: pd.DataFrame, mentioned: dict[str, set[str]]
) -> None:
    taught = set().union(*mentioned.values())
    essential = {s for row in occupations.itertuples() for s in split_list(row.essential_skills)}
    untaught = sorted(essential - taught)
    labels = dict(zip(concepts["id"], concepts["label"], strict=True))
    # the demo keeps 2-3 niche gaps so that "nothing in the catalogue teaches it" can be shown
    assert 2 <= len(untaught) <= 3, (
        f"essential skills taught by no credential: {[labels[u] for u in untaught]}"
    )


def test_some_postings_match_no_demo_role(postings: pd.DataFrame, occupations: pd.DataFrame) -> None:
    vocabulary = set()
    for row in occupations.itertuples():
        for term in [row.label, *split_list(row.alt_labels)]:
            vocabulary |= set(re.findall(r"[a-z]+", term.lower()))
    unlinked = postings[postings["occupation"] == ""]
    foreign = [t for t in unlinked["title"] if not set(re.findall(r"[a-z]+", t.lower())) & vocabulary]
    assert 6 <= len(foreign) <= 10, f"postings with titles unrelated to any demo role: {foreign}"


# --- against the real ESCO export ---------------------------------------------------------------------------


def test_esco_ids_exist_with_matching_kind(
    taxonomy: pd.DataFrame, esco: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    esco_skills, esco_occupations = esco
    skill_type = dict(zip(esco_skills["conceptUri"], esco_skills["skillType"], strict=True))
    isco = dict(zip(esco_occupations["conceptUri"], esco_occupations["iscoGroup"], strict=True))
    esco_rows = taxonomy[taxonomy["id"].str.startswith(ESCO_PREFIX)]
    assert len(esco_rows) >= 150, "most demo concepts should reuse ESCO URIs"
    for row in esco_rows.itertuples():
        where = f"taxonomy.csv, {row.id} ({row.label!r})"
        if row.type == "occupation":
            assert row.id in isco, f"{where}: not an ESCO v1.1.1 occupation"
            assert row.isco_group == isco[row.id], f"{where} [isco_group]: ESCO says {isco[row.id]}"
        else:
            assert row.id in skill_type, f"{where}: not an ESCO v1.1.1 skill/knowledge concept"
            expected = "knowledge" if skill_type[row.id] == "knowledge" else "skill"
            assert row.type == expected, f"{where} [type]: ESCO says {skill_type[row.id]}"


def test_no_description_is_copied_from_esco(
    taxonomy: pd.DataFrame, esco: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    esco_skills, esco_occupations = esco
    esco_descriptions = {
        normalise(d)
        for d in pd.concat([esco_skills["description"], esco_occupations["description"]])
        if d.strip()
    }
    copied = taxonomy[taxonomy["description"].map(normalise).isin(esco_descriptions)]
    assert copied.empty, f"taxonomy.csv [description]: copied from ESCO for {copied['id'].tolist()}"
