"""Unit tests for skillmatch.evaluation.finetune: training pairs, hold-out, sampling, batching and the evaluations.

Fine-tuning itself needs the real model and is covered by tests/integration/test_finetune.py.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fakes import HashingEncoder

from skillmatch.encoding.training import (
    HOLDOUT_FILE,
    _PairDataset,
    batch_plan,
    finetune_encoder,
    sample_pairs,
)
from skillmatch.evaluation.finetune import (
    OCCUPATION_PAIR_KINDS,
    PAIR_COLUMNS,
    add_hard_negatives,
    concat_pairs,
    first_sentence,
    holdout_concepts,
    label_ranking_eval,
    normalisation_eval,
    occupation_pairs,
    read_holdout,
    sibling_groups,
    training_pairs,
)
from skillmatch.schema import CONCEPT_COLUMNS, OCCUPATION_COLUMNS, RELATION_COLUMNS


def concepts_frame(rows: list[tuple[str, str, list[str], str | None]]) -> pd.DataFrame:
    """A concepts table with CONCEPT_COLUMNS from (id, label, alt_labels, description) rows."""
    return pd.DataFrame(
        [
            {
                "id": concept_id,
                "label": label,
                "alt_labels": alts,
                "description": description,
                "type": "skill",
                "reuse_level": None,
                "broader": [],
                "group_path": "",
            }
            for concept_id, label, alts, description in rows
        ],
        columns=CONCEPT_COLUMNS,
    )


CONCEPTS = concepts_frame(
    [
        (
            "s:py",
            "Python (computer programming)",
            ["python", "Python  programming", "PYTHON (COMPUTER PROGRAMMING)", "python"],
            "Techniques of software development in Python, e.g. Django. Also covers tooling.",
        ),
        ("s:java", "Java (computer programming)", ["java", "java coding"], "Software development in Java."),
        ("s:team", "teamwork principles", ["work in teams", "team working", "collaboration"], None),
        ("s:lead", "lead a team", ["guide a team", "direct a team", "manage a team", "head a team"], ""),
        ("s:cook", "cook meals", [], "Prepare food by heating it!  Serve it."),
    ]
)


# --- training_pairs ------------------------------------------------------------------------------------------


def test_training_pairs_builds_alt_and_description_pairs() -> None:
    pairs = training_pairs(CONCEPTS, max_alt_per_concept=None, holdout=0.0)
    assert list(pairs.columns) == PAIR_COLUMNS
    py = pairs[pairs["concept_id"] == "s:py"]
    # whitespace collapsed, case-insensitive duplicates of each other and of the preferred label dropped
    assert sorted(py.loc[py["kind"] == "alt_label", "anchor"]) == ["Python programming", "python"]
    assert set(py["positive"]) == {"Python (computer programming)"}
    # "e.g." does not end the first sentence
    assert py.loc[py["kind"] == "description", "anchor"].tolist() == [
        "Techniques of software development in Python, e.g. Django."
    ]
    cook = pairs[pairs["concept_id"] == "s:cook"]
    assert cook[["anchor", "positive", "kind"]].values.tolist() == [
        ["Prepare food by heating it!", "cook meals", "description"]
    ]
    # no description (None / "") gives no description pair
    assert set(pairs.loc[pairs["concept_id"].isin(["s:team", "s:lead"]), "kind"]) == {"alt_label"}
    assert pairs.attrs["holdout_ids"] == []
    stats = pairs.attrs["stats"]
    assert stats["pairs"] == len(pairs) == 2 + 1 + 2 + 1 + 3 + 4 + 1
    assert stats["pairs_description"] == 3


def test_training_pairs_without_descriptions_and_capped() -> None:
    pairs = training_pairs(CONCEPTS, max_alt_per_concept=2, use_descriptions=False, holdout=0.0)
    assert set(pairs["kind"]) == {"alt_label"}
    counts = pairs.groupby("concept_id").size().to_dict()
    assert counts == {"s:py": 2, "s:java": 2, "s:team": 2, "s:lead": 2}
    assert pairs.attrs["stats"]["alt_labels_capped"] == 1 + 2
    lead = set(pairs.loc[pairs["concept_id"] == "s:lead", "anchor"])
    assert lead < {"guide a team", "direct a team", "manage a team", "head a team"}


def test_training_pairs_is_deterministic_and_seeded() -> None:
    first = training_pairs(CONCEPTS, max_alt_per_concept=1, holdout=0.4, seed=3)
    again = training_pairs(CONCEPTS, max_alt_per_concept=1, holdout=0.4, seed=3)
    pd.testing.assert_frame_equal(first, again)
    assert first.attrs == again.attrs
    samples = {
        tuple(training_pairs(CONCEPTS, max_alt_per_concept=1, holdout=0.4, seed=s).attrs["holdout_ids"])
        for s in range(10)
    }
    assert len(samples) > 1


def test_holdout_excludes_concepts_and_is_recorded() -> None:
    pairs = training_pairs(CONCEPTS, holdout=0.4, seed=1)
    held = pairs.attrs["holdout_ids"]
    assert len(held) == 2 and held == sorted(held)
    assert pairs.attrs["holdout"] == 0.4
    assert pairs.attrs["stats"]["held_out"] == 2
    assert not set(held) & set(pairs["concept_id"])
    assert set(pairs["concept_id"]) == set(CONCEPTS["id"]) - set(held)


def test_holdout_by_explicit_ids() -> None:
    pairs = training_pairs(CONCEPTS, holdout=["s:java", "s:cook"])
    assert pairs.attrs["holdout_ids"] == ["s:cook", "s:java"]
    assert pairs.attrs["holdout"] is None
    assert set(pairs["concept_id"]) == {"s:py", "s:team", "s:lead"}
    with pytest.raises(ValueError, match="unknown concept ids"):
        training_pairs(CONCEPTS, holdout=["s:nope"])


def test_holdout_concepts_ignores_order_and_checks_fraction() -> None:
    ids = [f"c{i:03d}" for i in range(200)]
    held = holdout_concepts(ids, 0.1, seed=7)
    assert len(held) == 20 and set(held) <= set(ids)
    assert holdout_concepts(list(reversed(ids)), 0.1, seed=7) == held
    assert holdout_concepts(ids, 0.1, seed=8) != held
    assert holdout_concepts(ids, 0.0) == []
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            holdout_concepts(ids, bad)


@pytest.mark.parametrize(
    ("row", "field", "value"),
    [
        (1, "label", "  "),
        (2, "alt_labels", "work in teams"),
        (3, "alt_labels", ["ok", ""]),
        (4, "id", None),
    ],
)
def test_training_pairs_names_the_bad_row_and_field(row: int, field: str, value: object) -> None:
    bad = CONCEPTS.copy()
    bad.at[row, field] = value
    with pytest.raises(ValueError, match=rf"row {row} \[{field}\]"):
        training_pairs(bad)


def test_training_pairs_rejects_missing_columns_and_duplicate_ids() -> None:
    with pytest.raises(ValueError, match="missing columns \\['description'\\]"):
        training_pairs(CONCEPTS.drop(columns=["description"]))
    dup = pd.concat([CONCEPTS, CONCEPTS.iloc[[0]]], ignore_index=True)
    with pytest.raises(ValueError, match=r"row 5 \[id\]: duplicate id 's:py'"):
        training_pairs(dup)
    with pytest.raises(ValueError, match="max_alt_per_concept"):
        training_pairs(CONCEPTS, max_alt_per_concept=-1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two.", "One."),
        ("Use tools, i.e. Hammers. Then stop.", "Use tools, i.e. Hammers."),
        ("No full stop", "No full stop"),
        ("  Spaced\n out.  Next", "Spaced out."),
        ("Version 2.0 of the tool. Next.", "Version 2.0 of the tool."),
    ],
)
def test_first_sentence(text: str, expected: str) -> None:
    assert first_sentence(text) == expected


# --- sample_pairs and batch_plan ----------------------------------------------------------------------------


def many_pairs() -> pd.DataFrame:
    rows = []
    for c in range(30):
        rows += [(f"alt {c}-{j}", f"label {c}", "alt_label", f"c{c}") for j in range(c % 4 + 1)]
        rows.append((f"The description of {c} in one longer sentence.", f"label {c}", "description", f"c{c}"))
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def test_sample_pairs_spreads_over_concepts() -> None:
    pairs = many_pairs()
    assert sample_pairs(pairs, None) is pairs
    assert sample_pairs(pairs, 10_000) is pairs
    picked = sample_pairs(pairs, 45, seed=1)
    assert len(picked) == 45
    counts = picked["concept_id"].value_counts()
    assert set(counts.index) == set(pairs["concept_id"])  # every concept got a pair
    assert counts.max() == 2  # ...before any got three
    assert list(picked.index) == sorted(picked.index)
    pd.testing.assert_frame_equal(picked, sample_pairs(pairs, 45, seed=1))
    assert not picked.equals(sample_pairs(pairs, 45, seed=2))
    with pytest.raises(ValueError, match="max_pairs"):
        sample_pairs(pairs, 0)


def test_batch_plan_has_no_duplicate_concepts_and_keeps_kinds_apart() -> None:
    pairs = many_pairs()
    plan = batch_plan(pairs, batch_size=8, epochs=2, seed=0)
    assert len(plan) == 2
    for batches in plan:
        flat = [i for batch in batches for i in batch]
        assert sorted(flat) == list(range(len(pairs)))  # every pair once per epoch
        for batch in batches:
            assert len(set(pairs["kind"].iloc[batch])) == 1
            positives = Counter(pairs["positive"].iloc[batch])
            assert max(positives.values()) == 1, "a concept appears twice in a batch"
    assert plan[0] != plan[1]
    assert batch_plan(pairs, batch_size=8, epochs=2, seed=0) == plan


# --- finetune_encoder argument checks (no model is loaded) -----------------------------------------------------


def test_finetune_encoder_rejects_bad_input(tmp_path: Path) -> None:
    pairs = many_pairs()
    with pytest.raises(ValueError, match="empty"):
        finetune_encoder("all-MiniLM-L6-v2", pairs.iloc[:0], tmp_path / "m")
    bad = pairs.copy()
    bad.loc[3, "anchor"] = " "
    with pytest.raises(ValueError, match=r"row 3 \[anchor\]"):
        finetune_encoder("all-MiniLM-L6-v2", bad, tmp_path / "m")
    with pytest.raises(ValueError, match="missing columns"):
        finetune_encoder("all-MiniLM-L6-v2", pairs.drop(columns=["positive"]), tmp_path / "m")
    with pytest.raises(ValueError, match="batch_size >= 2"):
        finetune_encoder("all-MiniLM-L6-v2", pairs, tmp_path / "m", batch_size=1)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(FileExistsError, match="not empty"):
        finetune_encoder("all-MiniLM-L6-v2", pairs, tmp_path / "full")


def test_read_holdout(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=HOLDOUT_FILE):
        read_holdout(tmp_path)
    (tmp_path / HOLDOUT_FILE).write_text("a\nb\n\n")
    assert read_holdout(tmp_path) == ["a", "b"]


# --- evaluations, with the hashing stand-in encoder --------------------------------------------------------------


EVAL_CONCEPTS = concepts_frame(
    [
        ("s:py", "python programming", ["python coding", "programming in python"], None),
        ("s:java", "java programming", ["java coding", "programming in java"], None),
        ("s:bake", "bake bread", ["baking bread", "bread baking"], None),
        ("s:drive", "drive trucks", ["truck driving", "driving lorries"], None),
    ]
)


def test_normalisation_eval_queries_held_out_alt_labels_only() -> None:
    encoder = HashingEncoder()
    result = normalisation_eval(encoder, EVAL_CONCEPTS, ["s:bake", "s:drive"])
    assert result["n"] == 4  # the alt labels of the two held-out concepts
    assert result["acc@1"] == 1.0 and result["mrr"] == 1.0
    # index: 4 preferred labels + the alt labels of the 2 other concepts; queries: 4 texts
    assert encoder.calls == [4 + 4, 4]
    with pytest.raises(ValueError, match="not in the concepts table"):
        normalisation_eval(encoder, EVAL_CONCEPTS, ["s:nope"])
    with pytest.raises(ValueError, match="no alternative labels"):
        normalisation_eval(encoder, EVAL_CONCEPTS.assign(alt_labels=[[]] * 4), ["s:py"])


def test_normalisation_eval_is_not_fooled_by_the_held_out_labels() -> None:
    # "programming in java" has exactly the words of "java programming"; holding out s:java removes
    # its alt labels from the index, and a word-order-blind match still finds the preferred label.
    result = normalisation_eval(HashingEncoder(), EVAL_CONCEPTS, ["s:java"])
    assert result["n"] == 2
    assert 0.5 <= result["mrr"] <= 1.0


def test_label_ranking_eval(tmp_path: Path) -> None:
    csv = tmp_path / "tech_validation.csv"
    pd.DataFrame(
        {
            "sentence": ["You will do python coding daily", "You will do python coding daily", "Bake bread"],
            "span": ["python coding", "daily", "bake bread"],
            "sub_span": ["", "", ""],
            "label": ["python programming", "LABEL NOT PRESENT", "bake bread"],
        }
    ).to_csv(csv, index=False)
    result = label_ranking_eval(HashingEncoder(), EVAL_CONCEPTS, csv)
    assert result["n"] == 2
    assert result["rp@5"] == 1.0
    assert result["acc@1"] == 1.0


# --- occupation pairs ------------------------------------------------------------------------------------------


def occupations_frame(rows: list[tuple[str, str, list[str], str | None, str | None]]) -> pd.DataFrame:
    """An occupations table with OCCUPATION_COLUMNS from (id, label, alt_labels, description, isco_group) rows."""
    return pd.DataFrame(
        [
            {"id": oid, "label": label, "alt_labels": alts, "description": description, "isco_group": isco}
            for oid, label, alts, description, isco in rows
        ],
        columns=OCCUPATION_COLUMNS,
    )


OCCUPATIONS = occupations_frame(
    [
        (
            "o:nurse",
            "nurse",
            ["staff nurse", "NURSE", "ward  nurse", "charge nurse"],
            "Nurses care for patients. They work in wards.",
            "2221",
        ),
        ("o:midwife", "midwife", ["birth attendant"], "", "2221"),
        ("o:paramedic", "paramedic", ["ambulance technician"], None, "3258"),
        ("o:cook", "cook", [], "Cooks prepare meals.", "5120"),
        ("o:chef", "chef", ["head chef"], None, "3434"),
    ]
)
SKILLS = pd.DataFrame(
    [
        {
            "id": "s:care",
            "label": "patient care",
            "alt_labels": ["care for patients"],
            "broader": ["g:health"],
        },
        {"id": "s:wound", "label": "wound  care", "alt_labels": [], "broader": ["g:health"]},
        {"id": "s:birth", "label": "assist births", "alt_labels": [], "broader": ["g:health", "g:maternity"]},
        {"id": "s:labour", "label": "monitor labour", "alt_labels": [], "broader": ["g:maternity"]},
        {"id": "s:fry", "label": "fry food", "alt_labels": [], "broader": []},
        {"id": "s:bake", "label": "bake bread", "alt_labels": [], "broader": np.array(["g:kitchen"])},
        {"id": "s:grill", "label": "grill meat", "alt_labels": [], "broader": np.array(["g:kitchen"])},
    ]
).assign(description="")
RELATIONS = pd.DataFrame(
    [
        ("o:nurse", "s:care", "essential"),
        ("o:nurse", "s:wound", "essential"),
        ("o:nurse", "s:birth", "optional"),
        ("o:midwife", "s:birth", "essential"),
        ("o:midwife", "s:labour", "essential"),
        ("o:midwife", "s:care", "essential"),
        ("o:cook", "s:fry", "essential"),
        ("o:cook", "s:unknown", "essential"),  # not in the skills table: does not count
        ("o:chef", "s:bake", "essential"),
        ("o:chef", "s:grill", "essential"),
        ("o:chef", "s:fry", "optional"),
    ],
    columns=RELATION_COLUMNS[:3],  # no weights: the type's default
)


def test_occupation_pairs_of_each_kind() -> None:
    pairs = occupation_pairs(OCCUPATIONS, RELATIONS, SKILLS, max_alt_per_occupation=None, holdout=0.0)
    assert list(pairs.columns) == PAIR_COLUMNS
    assert set(pairs["kind"]) == set(OCCUPATION_PAIR_KINDS)
    rows = {(a, p, k, c) for a, p, k, c in pairs.itertuples(index=False)}
    nurse = {(a, k) for a, p, k, c in rows if c == "o:nurse"}
    assert nurse == {
        ("staff nurse", "title_alt"),
        ("ward nurse", "title_alt"),  # whitespace collapsed; "NURSE" repeats the preferred label
        ("charge nurse", "title_alt"),
        ("Nurses care for patients.", "title_description"),
        ("patient care, wound care", "title_skills"),  # essential skills only, sorted, labels tidied
    }
    assert {p for a, p, k, c in rows if c == "o:nurse"} == {"nurse"}
    assert ("birth attendant", "midwife", "title_alt", "o:midwife") in rows
    assert ("Cooks prepare meals.", "cook", "title_description", "o:cook") in rows
    skills = pairs[pairs["kind"] == "title_skills"].set_index("concept_id")["anchor"].to_dict()
    # o:cook has a single known essential skill: no title_skills pair; o:paramedic has none
    assert skills == {
        "o:nurse": "patient care, wound care",
        "o:midwife": "assist births, monitor labour, patient care",
        "o:chef": "bake bread, grill meat",
    }
    stats = pairs.attrs["stats"]
    assert stats["pairs"] == len(pairs)
    assert stats["pairs_title_alt"] == 3 + 1 + 1 + 1
    assert stats["pairs_title_description"] == 2
    assert stats["pairs_title_skills"] == 3
    assert stats["concepts"] == len(OCCUPATIONS)


def test_occupation_pairs_caps_alt_titles_and_skills() -> None:
    pairs = occupation_pairs(
        OCCUPATIONS, RELATIONS, SKILLS, max_alt_per_occupation=1, skills_per_pair=2, holdout=0.0, seed=4
    )
    assert pairs[pairs["kind"] == "title_alt"].groupby("concept_id").size().max() == 1
    assert pairs.attrs["stats"]["alt_labels_capped"] == 2
    midwife = pairs.loc[(pairs["concept_id"] == "o:midwife") & (pairs["kind"] == "title_skills"), "anchor"]
    [anchor] = midwife.tolist()
    picked = anchor.split(", ")
    assert len(picked) == 2 and picked == sorted(picked)
    assert set(picked) < {"assist births", "monitor labour", "patient care"}
    no_skills = occupation_pairs(OCCUPATIONS, RELATIONS, SKILLS, skills_per_pair=0, holdout=0.0)
    assert "title_skills" not in set(no_skills["kind"])
    again = occupation_pairs(
        OCCUPATIONS, RELATIONS, SKILLS, max_alt_per_occupation=1, skills_per_pair=2, holdout=0.0, seed=4
    )
    pd.testing.assert_frame_equal(pairs, again)


def test_occupation_pairs_hold_out_gives_no_pairs_and_is_recorded() -> None:
    pairs = occupation_pairs(OCCUPATIONS, RELATIONS, SKILLS, holdout=["o:nurse", "o:chef"])
    assert pairs.attrs["holdout_ids"] == ["o:chef", "o:nurse"]
    assert pairs.attrs["holdout"] is None
    assert pairs.attrs["stats"]["held_out"] == 2
    assert set(pairs["concept_id"]) == {"o:midwife", "o:paramedic", "o:cook"}
    assert not {"nurse", "chef"} & set(pairs["positive"])
    by_fraction = occupation_pairs(OCCUPATIONS, RELATIONS, SKILLS, holdout=0.4, seed=2)
    held = by_fraction.attrs["holdout_ids"]
    assert len(held) == 2 and by_fraction.attrs["holdout"] == 0.4
    assert not set(held) & set(by_fraction["concept_id"])
    with pytest.raises(ValueError, match="unknown concept ids"):
        occupation_pairs(OCCUPATIONS, RELATIONS, SKILLS, holdout=["o:astronaut"])


def test_occupation_pairs_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="relations table is missing columns \\['relation'\\]"):
        occupation_pairs(OCCUPATIONS, RELATIONS.drop(columns=["relation"]), SKILLS)
    with pytest.raises(ValueError, match="skills_per_pair"):
        occupation_pairs(OCCUPATIONS, RELATIONS, SKILLS, skills_per_pair=-1)
    with pytest.raises(ValueError, match="max_alt_per_occupation"):
        occupation_pairs(OCCUPATIONS, RELATIONS, SKILLS, max_alt_per_occupation=-1)
    bad = OCCUPATIONS.copy()
    bad.at[2, "label"] = " "
    with pytest.raises(ValueError, match=r"row 2 \[label\]"):
        occupation_pairs(bad, RELATIONS, SKILLS)


# --- siblings and hard negatives ---------------------------------------------------------------------------------


def test_sibling_groups_by_broader_concept_or_isco_group() -> None:
    assert sibling_groups(SKILLS) == {
        "s:care": ["s:birth", "s:wound"],
        "s:wound": ["s:birth", "s:care"],
        "s:birth": ["s:care", "s:labour", "s:wound"],  # two broader concepts: siblings of both
        "s:labour": ["s:birth"],
        "s:fry": [],
        "s:bake": ["s:grill"],
        "s:grill": ["s:bake"],
    }
    assert sibling_groups(OCCUPATIONS) == {
        "o:nurse": ["o:midwife"],
        "o:midwife": ["o:nurse"],
        "o:paramedic": [],
        "o:cook": [],
        "o:chef": [],
    }
    assert sibling_groups(OCCUPATIONS.assign(isco_group=[None, "", "1", "1", None])) == {
        "o:nurse": [],
        "o:midwife": [],
        "o:paramedic": ["o:cook"],
        "o:cook": ["o:paramedic"],
        "o:chef": [],
    }


def test_add_hard_negatives_uses_a_sibling_label() -> None:
    pairs = occupation_pairs(OCCUPATIONS, RELATIONS, SKILLS, holdout=0.0)
    out = add_hard_negatives(pairs, [SKILLS, OCCUPATIONS], seed=0)
    assert "negative" not in pairs.columns  # a copy
    assert list(out.columns) == [*PAIR_COLUMNS, "negative"]
    pd.testing.assert_frame_equal(out[PAIR_COLUMNS], pairs)
    negative = dict(zip(out["concept_id"], out["negative"], strict=False))
    assert negative["o:nurse"] == "midwife" and negative["o:midwife"] == "nurse"
    # no sibling: no negative
    assert out.loc[out["concept_id"].isin(["o:paramedic", "o:cook", "o:chef"]), "negative"].isna().all()
    assert out.attrs["stats"]["hard_negatives"] == int(out["negative"].notna().sum()) == 5 + 2
    assert out.attrs["holdout_ids"] == pairs.attrs["holdout_ids"]
    assert out.attrs["stats"]["pairs"] == pairs.attrs["stats"]["pairs"]


def test_hard_negatives_are_never_the_anchor_positive_or_own_labels() -> None:
    skills = concepts_frame(
        [
            ("s:a", "manage staff", ["manage staff members", "lead staff"], None),
            ("s:b", "lead staff", [], None),  # an alternative label of s:a
            ("s:c", "supervise staff", [], None),
            ("s:d", "hire staff", [], None),
        ]
    ).assign(broader=[["g"]] * 4)
    pairs = pd.DataFrame(
        [
            ("manage staff members", "manage staff", "alt_label", "s:a"),
            ("supervise staff", "manage staff", "alt_label", "s:a"),  # anchor is a sibling's label
            ("Lead  Staff", "hire staff", "alt_label", "s:d"),  # anchor is a sibling's label, other case
            ("direct staff", "supervise staff", "alt_label", "s:c"),
        ],
        columns=PAIR_COLUMNS,
    )
    labels_of = {
        cid: {" ".join(t.split()).casefold() for t in [label, *alts]}
        for cid, label, alts in zip(skills["id"], skills["label"], skills["alt_labels"], strict=True)
    }
    for seed in range(20):
        out = add_hard_negatives(pairs, [skills], seed=seed)
        for anchor, positive, _, concept_id, negative in out.itertuples(index=False):
            assert isinstance(negative, str)
            norm = " ".join(negative.split()).casefold()
            assert norm not in {" ".join(anchor.split()).casefold(), positive.casefold()}
            assert norm not in labels_of[concept_id]
        # s:a: "lead staff" is its own label and "supervise staff" the anchor: only "hire staff" is left
        assert out["negative"].iloc[0] in {"supervise staff", "hire staff"}
        assert out["negative"].iloc[1] == "hire staff"
        assert out["negative"].iloc[2] in {"manage staff", "supervise staff"}
    seen = {add_hard_negatives(pairs, [skills], seed=s)["negative"].iloc[0] for s in range(20)}
    assert seen == {"supervise staff", "hire staff"}  # a seeded random choice among the usable siblings
    pd.testing.assert_frame_equal(
        add_hard_negatives(pairs, [skills], seed=3), add_hard_negatives(pairs, [skills], seed=3)
    )


def test_hard_negative_is_missing_when_no_sibling_is_usable() -> None:
    occupations = occupations_frame(
        [
            ("o:nurse", "nurse", ["midwife"], None, "2221"),  # the only sibling's label is its own alt label
            ("o:midwife", "midwife", [], None, "2221"),
            ("o:loner", "astronaut", [], None, "3155"),
        ]
    )
    pairs = pd.DataFrame(
        [
            ("midwife", "nurse", "title_alt", "o:nurse"),
            ("nursing staff", "midwife", "title_alt", "o:midwife"),  # "nurse" is usable here
            ("cosmonaut", "astronaut", "title_alt", "o:loner"),
            ("anything", "something", "title_alt", "o:unknown"),  # a concept of no table
        ],
        columns=PAIR_COLUMNS,
    )
    out = add_hard_negatives(pairs, [occupations])
    assert pd.isna(out["negative"].iloc[0])
    assert out["negative"].iloc[1] == "nurse"
    assert pd.isna(out["negative"].iloc[2]) and pd.isna(out["negative"].iloc[3])
    assert out.attrs["stats"] == {"hard_negatives": 1}


def test_concat_pairs_unites_hold_outs() -> None:
    skill_pairs = training_pairs(CONCEPTS, holdout=["s:java", "s:cook"])
    title_pairs = add_hard_negatives(
        occupation_pairs(OCCUPATIONS, RELATIONS, SKILLS, holdout=["o:chef", "o:cook"]), [OCCUPATIONS]
    )
    both = concat_pairs(skill_pairs, title_pairs)
    assert len(both) == len(skill_pairs) + len(title_pairs)
    assert list(both.index) == list(range(len(both)))
    assert both.attrs["holdout_ids"] == ["o:chef", "o:cook", "s:cook", "s:java"]
    assert both.attrs["holdout"] == [None, None]
    assert both.attrs["stats"]["pairs"] == len(both)
    assert both.attrs["stats"]["tables"] == [skill_pairs.attrs["stats"], title_pairs.attrs["stats"]]
    # the skill pairs have no negative column: missing there
    assert both["negative"].iloc[: len(skill_pairs)].isna().all()
    assert both["negative"].iloc[len(skill_pairs) :].notna().sum() == title_pairs["negative"].notna().sum()
    assert concat_pairs(skill_pairs).attrs["holdout_ids"] == ["s:cook", "s:java"]
    with pytest.raises(ValueError, match="at least one"):
        concat_pairs()


# --- triplets in batch_plan and the training dataset -------------------------------------------------------------


def test_pair_dataset_carries_negatives() -> None:
    plain = _PairDataset(["a1", "a2"], ["p1", "p2"])
    assert plain.column_names == ["anchor", "positive"]
    assert list(plain) == [{"anchor": "a1", "positive": "p1"}, {"anchor": "a2", "positive": "p2"}]
    triplets = _PairDataset(["a1", "a2"], ["p1", "p2"], ["n1", "n2"])
    assert triplets.column_names == ["anchor", "positive", "negative"]
    assert len(triplets) == 2
    assert triplets[1] == {"anchor": "a2", "positive": "p2", "negative": "n2"}
    assert list(triplets) == [triplets[0], triplets[1]]


def pairs_with_negatives() -> pd.DataFrame:
    """many_pairs() with negatives that are other pairs' positives (some padded with spaces); a third of the
    concepts get None and some get a blank negative, which counts as none."""
    pairs = many_pairs()
    label = {f"c{c}": f"label {c}" for c in range(30)}
    negatives: list[object] = []
    for concept_id in pairs["concept_id"]:
        number = int(concept_id[1:])
        if number % 3 == 0:
            negatives.append(None)
        elif number % 3 == 1:
            negatives.append(label[f"c{(number + 1) % 30}"])
        else:
            negatives.append(f"  label  {(number + 5) % 30} " if number % 2 else " ")
    return pairs.assign(negative=negatives)


def test_batch_plan_keeps_triplets_and_pairs_apart_without_duplicate_texts() -> None:
    pairs = pairs_with_negatives()
    has_negative = [isinstance(n, str) and bool(n.strip()) for n in pairs["negative"]]
    assert 0 < sum(has_negative) < len(pairs)
    plan = batch_plan(pairs, batch_size=8, epochs=2, seed=0)
    assert len(plan) == 2
    for batches in plan:
        flat = [i for batch in batches for i in batch]
        assert sorted(flat) == list(range(len(pairs)))  # every pair once per epoch
        for batch in batches:
            assert len({has_negative[i] for i in batch}) == 1, "a batch mixes triplets and pairs"
            assert len(set(pairs["kind"].iloc[batch])) == 1
            texts = [
                " ".join(pairs.at[i, column].split()) for i in batch for column in ("anchor", "positive")
            ]
            if has_negative[batch[0]]:
                texts += [" ".join(pairs.at[i, "negative"].split()) for i in batch]
            assert len(texts) == len(set(texts)), f"a text twice in a batch: {sorted(texts)}"
    assert batch_plan(pairs, batch_size=8, epochs=2, seed=0) == plan
