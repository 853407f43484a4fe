"""Unit tests for skillmatch.evaluation.finetune: training pairs, hold-out, sampling, batching and the evaluations.

Fine-tuning itself needs the real model and is covered by tests/integration/test_finetune.py.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from fakes import HashingEncoder

from skillmatch.encoding.training import HOLDOUT_FILE, batch_plan, finetune_encoder, sample_pairs
from skillmatch.evaluation.finetune import (
    PAIR_COLUMNS,
    first_sentence,
    holdout_concepts,
    label_ranking_eval,
    normalisation_eval,
    read_holdout,
    training_pairs,
)
from skillmatch.schema import CONCEPT_COLUMNS


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
