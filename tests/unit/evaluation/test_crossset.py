"""Cross-set evaluation of the linker options: the choice logic on synthetic scores, then end to end on a small
synthetic bundle (fake encoder) and synthetic benchmark files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fakes import HashingEncoder, write_benchmark

from skillmatch.build import BuildInputs, build_bundle
from skillmatch.config import Settings
from skillmatch.evaluation.crossset import (
    DEFAULT_GRID,
    PLAIN,
    GridPoint,
    PointScores,
    best_point,
    defaults_point,
    evaluate_cross_set,
    format_cross_set,
    option_checks,
    option_grid,
    threshold_transfer,
    transfer,
)
from skillmatch.evaluation.runner import (
    bundle_linker,
    calibrate_min_score,
    evaluate_skill_extraction,
    linker_ranker,
    linker_variants,
)
from skillmatch.facade import Skillmatch
from skillmatch.facade import load as load_service
from skillmatch.schema import (
    CONCEPT_COLUMNS,
    CREDENTIAL_COLUMNS,
    OCCUPATION_COLUMNS,
    POSTING_COLUMNS,
    Taxonomy,
)

# --- the choice logic on synthetic scores --------------------------------------------------------------------


def scores(values: dict[GridPoint, float]) -> PointScores:
    """Point -> metrics with ``rp@5`` as given and the other metrics equal (so they never break a tie)."""
    return {p: {"rp@5": v, "rp@10": 0.5, "mrr": 0.5, "n": 10} for p, v in values.items()}


P = GridPoint


def test_default_grid_has_every_combination() -> None:
    points = option_grid()
    assert len(points) == 4 * 4 * 3 == len(set(points))
    assert points == sorted(points) and points[0] == PLAIN
    assert P(0.2, 0.5, 12) in points and P(0.3, 0.65, 6) in points
    assert {p.lexical_weight for p in points} == set(DEFAULT_GRID["lexical_weight"])
    # an option left out of the grid stays off
    assert option_grid({"lexical_weight": [0.1, 0.0]}) == [P(0.0, 0.0, 0), P(0.1, 0.0, 0)]
    with pytest.raises(ValueError, match="unknown linker options"):
        option_grid({"lexical": [0.1]})
    with pytest.raises(ValueError, match="without values"):
        option_grid({"lexical_weight": []})


def test_grid_point_options_and_labels() -> None:
    point = P(0.2, 0.5, 12)
    assert point.options() == {"lexical_weight": 0.2, "context_weight": 0.5, "ngram_max_words": 12}
    assert point.with_option("ngram_max_words", 0) == P(0.2, 0.5, 0)
    assert point.with_option("context_weight", 0) == P(0.2, 0.0, 12)
    assert point.label() == "lex 0.2 / ctx 0.5 / ngram 12"


def test_best_point_maximises_the_metric_then_breaks_ties() -> None:
    table = scores({P(0.0, 0.0, 0): 0.5, P(0.1, 0.0, 0): 0.7, P(0.2, 0.0, 0): 0.6})
    assert best_point(table, "rp@5") == P(0.1, 0.0, 0)
    assert best_point(table, "rp@5", among=[P(0.0, 0.0, 0), P(0.2, 0.0, 0)]) == P(0.2, 0.0, 0)
    # a tie on the metric goes to the higher sum of the other metrics ...
    table[P(0.2, 0.0, 0)] = {"rp@5": 0.7, "rp@10": 0.9, "mrr": 0.5, "n": 10}
    assert best_point(table, "rp@5") == P(0.2, 0.0, 0)
    # ... and a full tie to the simplest point
    table[P(0.2, 0.0, 0)] = dict(table[P(0.1, 0.0, 0)])
    assert best_point(table, "rp@5") == P(0.1, 0.0, 0)
    with pytest.raises(ValueError, match="no grid point"):
        best_point(table, "rp@5", among=[])


def two_sets() -> dict[str, PointScores]:
    """A grid where A prefers lexical 0.2 and context 0.5 but B is best at lexical 0 (lexical over-fits A)."""
    a, b = {}, {}
    for point in option_grid({"lexical_weight": [0, 0.1, 0.2], "context_weight": [0, 0.5]}):
        lex, ctx = point.lexical_weight, point.context_weight
        a[point] = 0.5 + (0.2 if lex == 0.2 else 0.1 if lex == 0.1 else 0.0) + (0.05 if ctx else 0.0)
        b[point] = 0.4 - lex * 0.5 + (0.1 if ctx else 0.0)
    return {"a": scores(a), "b": scores(b)}


def test_transfer_chooses_on_the_tuning_set_and_reports_on_the_other() -> None:
    table = two_sets()
    result = transfer(table, "a", "b", metric="rp@5", defaults=P(0.1, 0.5, 0))
    chosen = P(0.2, 0.5, 0)
    assert result["chosen"] == chosen.options()
    assert result["tuned"]["rp@5"] == pytest.approx(0.75)  # A's own (optimistic) figure
    assert result["held_out"]["rp@5"] == pytest.approx(0.4)  # B at A's choice
    assert result["oracle"]["point"] == P(0.0, 0.5, 0).label()
    assert result["oracle"]["rp@5"] == pytest.approx(0.5)
    assert result["gap_to_oracle"] == pytest.approx(0.1)
    assert result["defaults"]["rp@5"] == pytest.approx(0.45)
    assert result["defaults_tuned"]["rp@5"] == pytest.approx(0.65)
    assert result["plain"]["rp@5"] == pytest.approx(0.4)
    assert result["gain_over_plain"] == pytest.approx(0.0)
    # the other way round the choice is B's best, reported on A
    back = transfer(table, "b", "a")
    assert back["chosen"] == P(0.0, 0.5, 0).options()
    assert back["held_out"]["rp@5"] == pytest.approx(0.55)
    assert "defaults" not in back  # not asked for


def test_transfer_chooses_only_grid_points() -> None:
    table = two_sets()
    grid = list(table["a"])
    outside = P(0.3, 0.5, 12)  # e.g. the defaults, scored beside a grid that lacks them
    table["a"].update(scores({outside: 0.99}))
    table["b"].update(scores({outside: 0.99}))
    result = transfer(table, "a", "b", defaults=outside, points=grid)
    assert result["chosen"] == P(0.2, 0.5, 0).options()
    assert result["oracle"]["point"] == P(0.0, 0.5, 0).label()
    assert result["defaults"]["rp@5"] == 0.99  # reported, not chosen
    assert all(row["value"] != 0.3 for row in result["profiles"])
    assert transfer(table, "a", "b")["chosen"] == outside.options()  # without a grid: every scored point


def test_option_checks_judge_each_option_on_the_held_out_set() -> None:
    table = two_sets()
    chosen = P(0.2, 0.5, 0)
    rows = {row["option"]: row for row in option_checks(table["a"], table["b"], chosen, "rp@5")}
    assert set(rows) == {"lexical_weight", "context_weight"}  # n-grams have no value but 0 in this grid
    lexical, context = rows["lexical_weight"], rows["context_weight"]
    assert lexical["on"] == 0.2 and lexical["chosen_on_tuning_set"]
    assert lexical["tuned_gain"] == pytest.approx(0.2)  # helps on A ...
    assert lexical["held_out_gain"] == pytest.approx(-0.1)  # ... hurts on B
    assert lexical["helps_held_out"] is False
    assert context["held_out_gain"] == pytest.approx(0.1) and context["helps_held_out"] is True
    # when A's choice has an option off, "on" is its best non-zero value on A (others held at A's choice)
    rows = {row["option"]: row for row in option_checks(table["a"], table["b"], P(0.0, 0.5, 0), "rp@5")}
    assert rows["lexical_weight"]["on"] == 0.2 and not rows["lexical_weight"]["chosen_on_tuning_set"]
    assert rows["lexical_weight"]["held_out_gain"] == pytest.approx(-0.1)


def test_threshold_transfer_applies_the_tuning_sets_threshold() -> None:
    def curve(best: float) -> list[dict[str, float]]:
        return [
            {"threshold": t, "precision": 0.5, "recall": 0.5, "f1": round(0.5 - abs(t - best), 2), "links": 1}
            for t in (0.5, 0.6, 0.62, 0.7)
        ]

    result = threshold_transfer({"a": curve(0.7), "b": curve(0.5)}, "a", "b", default=0.62)
    assert result["tuned"]["threshold"] == 0.7 and result["tuned"]["f1"] == 0.5
    assert result["held_out"]["threshold"] == 0.7 and result["held_out"]["f1"] == 0.3
    assert result["oracle"]["threshold"] == 0.5 and result["oracle"]["f1"] == 0.5
    assert result["default"]["threshold"] == 0.62 and result["default"]["f1"] == 0.38
    assert result["f1_loss"] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="not on the calibration grid"):
        threshold_transfer({"a": curve(0.7), "b": curve(0.5)}, "a", "b", default=0.65)


# --- end to end on a small synthetic bundle ------------------------------------------------------------------

SKILLS = [
    ("c:sql", "SQL", ["structured query language"]),
    ("c:python", "Python (computer programming)", ["python programming", "python scripting"]),
    ("c:excel", "use spreadsheets software", ["microsoft excel", "excel spreadsheets"]),
    ("c:nursing", "provide nursing care", ["nursing care", "patient care"]),
    ("c:java", "Java (computer programming)", ["java programming"]),
    ("c:team", "work in teams", ["teamwork", "team working"]),
    ("c:cook", "prepare meals", ["cook food", "meal preparation"]),
    ("c:drive", "drive vehicles", ["operate vehicles"]),
    # distractors: skills whose labels share words with the ones above
    ("c:sqlserver", "administer SQL Server databases", ["sql server administration"]),
    ("c:snake", "care for snakes and reptiles", ["python snake handling"]),
    ("c:coffee", "brew coffee", ["java coffee preparation"]),
    ("c:sport", "coach team sports", ["team sports coaching"]),
    ("c:sales", "drive sales growth", ["grow sales"]),
    ("c:books", "write cook books", ["cookbook writing"]),
    ("c:home", "manage a nursing home", ["nursing home management"]),
    ("c:service", "excel at customer service", ["provide customer service"]),
    ("c:guests", "welcome guests", ["greet guests"]),
    ("c:rooms", "clean rooms", ["room cleaning"]),
    ("c:lang", "query languages", ["use query languages"]),
    ("c:patients", "move patients", ["patient transport"]),
]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Skillmatch:
    concepts = pd.DataFrame(
        [
            {
                "id": cid,
                "label": label,
                "alt_labels": alts,
                "description": "",
                "type": "skill",
                "reuse_level": None,
                "broader": [],
                "group_path": "",
            }
            for cid, label, alts in SKILLS
        ],
        columns=CONCEPT_COLUMNS,
    )
    occupations = pd.DataFrame(
        [
            {
                "id": "o:dev",
                "label": "software developer",
                "alt_labels": [],
                "description": "",
                "isco_group": None,
            }
        ],
        columns=OCCUPATION_COLUMNS,
    )
    relations = pd.DataFrame(
        [("o:dev", "c:sql", "essential")], columns=["occupation_id", "skill_id", "relation"]
    )
    settings = Settings(use_cache=False, link_min_score=0.5)
    encoder = HashingEncoder()
    inputs = BuildInputs(
        Taxonomy("test", "1", concepts, occupations, relations),
        pd.DataFrame(columns=CREDENTIAL_COLUMNS),
        pd.DataFrame(columns=POSTING_COLUMNS),
    )
    out = tmp_path_factory.mktemp("b") / "bundle"
    build_bundle(inputs, out, encoder=encoder, settings=settings)
    return load_service(out, settings=settings, encoder=encoder)


@pytest.fixture()
def bench_files(tmp_path: Path) -> dict[str, Path]:
    # sentences full of phrases that match the distractor skills, so the options change the rankings
    tech = write_benchmark(
        tmp_path / "tech_validation.csv",
        [
            ("snake handling, coffee, sql server and sales: python", "Python (computer programming)"),
            ("we write query languages like SQL for the sales team", "SQL"),
            ("java and coffee in the team, sports on fridays", "Java (computer programming)"),
            ("spreadsheets for customer service reports", "use spreadsheets software"),
            (
                "python scripting, grow sales, room cleaning, greet guests, cookbook writing",
                "Python (computer programming)",
            ),
            ("we like kubernetes", "LABEL NOT PRESENT"),
        ],
    )
    house = write_benchmark(
        tmp_path / "house_validation.csv",
        [
            ("cook meals for guests in the nursing home", "prepare meals"),
            ("drive patients to the home and clean rooms", "drive vehicles"),
            ("patient care in a team: move patients, greet guests, sales", "provide nursing care"),
            ("teamwork with nurses, coaching sports teams", "work in teams"),
            ("operate vans and grow sales, write books", "drive vehicles"),
            ("clean the rooms", "UNDERSPECIFIED"),
        ],
    )
    return {"tech": tech, "house": house}


GRID = {"lexical_weight": [0.0, 0.3], "context_weight": [0.0, 0.5], "ngram_max_words": [0, 12]}


@pytest.fixture()
def result(bundle: Skillmatch, bench_files: dict[str, Path]) -> dict[str, object]:
    return evaluate_cross_set(bundle, bench_files, GRID, thresholds=[0.3, 0.5, 0.6, 0.62, 0.7, 0.8])


def test_cross_set_scores_every_point_on_every_set(bundle: Skillmatch, result: dict) -> None:
    assert result["points"] == 8
    assert result["defaults"] == defaults_point(bundle).options() == P(0.2, 0.5, 12).options()
    for name, queries in (("tech", 5), ("house", 5)):
        data = result["sets"][name]
        assert data["queries"] == queries and data["no_gold"] == 1
        # the grid plus the defaults, which the grid lacks
        assert len(data["grid"]) == 9
        assert {(r["lexical_weight"], r["context_weight"], r["ngram_max_words"]) for r in data["grid"]} >= {
            (0.2, 0.5, 12),
            (0.0, 0.0, 0),
        }


def test_cross_set_choice_is_best_on_the_tuning_set_and_measured_on_the_other(
    bundle: Skillmatch, bench_files: dict[str, Path], result: dict
) -> None:
    grid_points = set(option_grid(GRID))
    assert [(d["tune"], d["report"]) for d in result["directions"]] == [("tech", "house"), ("house", "tech")]
    for d in result["directions"]:
        rows = {
            P(r["lexical_weight"], r["context_weight"], r["ngram_max_words"]): r
            for r in result["sets"][d["tune"]]["grid"]
        }
        best = max(r["rp@5"] for p, r in rows.items() if p in grid_points)
        chosen = P(**d["chosen"])
        assert chosen in grid_points
        assert d["tuned"]["rp@5"] == rows[chosen]["rp@5"] == best
        # the held-out figure is the chosen linker measured anew on the other set
        linker = bundle_linker(bundle, **chosen.options())
        again = evaluate_skill_extraction(
            bundle, {d["report"]: bench_files[d["report"]]}, methods={"chosen": linker_ranker(linker)}
        )["sets"][d["report"]]["methods"]["chosen"]
        assert {m: d["held_out"][m] for m in ("rp@5", "rp@10", "mrr")} == {
            m: again[m] for m in ("rp@5", "rp@10", "mrr")
        }
        assert d["oracle"]["rp@5"] >= d["held_out"]["rp@5"]
        assert d["gap_to_oracle"] == pytest.approx(d["oracle"]["rp@5"] - d["held_out"]["rp@5"])
        # the defaults are not in the grid: scored apart, but never chosen
        assert "defaults" in d and "plain" in d
    # on these sets the choice does not transfer: each set's best point is worse on the other set
    for d in result["directions"]:
        assert d["held_out"]["rp@5"] < d["tuned"]["rp@5"] and d["gap_to_oracle"] > 0, d


def test_cross_set_option_checks_read_the_grid(result: dict) -> None:
    for d in result["directions"]:
        a, b = ({r["point"]: r for r in result["sets"][name]["grid"]} for name in (d["tune"], d["report"]))
        chosen = P(**d["chosen"])
        assert {row["option"] for row in d["options"]} == {
            "lexical_weight",
            "context_weight",
            "ngram_max_words",
        }
        for row in d["options"]:
            on, off = chosen.with_option(row["option"], row["on"]), chosen.with_option(row["option"], 0)
            assert row["chosen_on_tuning_set"] == (on == chosen)
            assert row["tuned_gain"] == pytest.approx(a[on.label()]["rp@5"] - a[off.label()]["rp@5"])
            assert row["held_out_gain"] == pytest.approx(b[on.label()]["rp@5"] - b[off.label()]["rp@5"])
            assert row["helps_held_out"] == (row["held_out_gain"] > 0)


def test_cross_set_threshold_transfer(bundle: Skillmatch, bench_files: dict[str, Path], result: dict) -> None:
    rows = result["thresholds"]
    assert [(r["tune"], r["report"], r["linker"]) for r in rows] == [
        ("tech", "house", "defaults"),
        ("tech", "house", "chosen on tech"),
        ("house", "tech", "defaults"),
        ("house", "tech", "chosen on house"),
    ]
    thresholds = [0.3, 0.5, 0.6, 0.62, 0.7, 0.8]
    for row in rows:
        assert row["default"]["threshold"] == 0.5  # the bundle's settings' link_min_score
        assert row["tuned"]["threshold"] in thresholds
        assert row["held_out"]["threshold"] == row["tuned"]["threshold"]
        assert row["oracle"]["f1"] >= row["held_out"]["f1"]
    # the defaults' threshold calibrated on tech alone is what calibrate_min_score finds on tech
    alone = calibrate_min_score(bundle, {"tech": bench_files["tech"]}, thresholds=thresholds)
    assert rows[0]["tuned"] == alone["best"]
    on_house = calibrate_min_score(bundle, {"house": bench_files["house"]}, thresholds=thresholds)
    assert rows[0]["oracle"] == on_house["best"]


def test_format_cross_set(result: dict) -> None:
    text = format_cross_set(result)
    assert "tech -> house" in text and "house -> tech" in text
    assert "(held out)" in text and "(tuned on it)" in text
    assert "helps B" in text and "precision" in text
    assert f"total {result['seconds']['total']} s" in text


def test_cross_set_argument_errors(bundle: Skillmatch, bench_files: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="metric"):
        evaluate_cross_set(bundle, bench_files, GRID, metric="acc@1")
    with pytest.raises(ValueError, match="at least two sets"):
        evaluate_cross_set(bundle, {"tech": bench_files["tech"]}, GRID)


def test_bundle_linker_shares_the_label_index(bundle: Skillmatch) -> None:
    linker = bundle_linker(bundle, lexical_weight=0.3, ngram_max_words=0)
    assert linker.index is bundle.bundle.label_index
    assert linker.options()["lexical_weight"] == 0.3 and linker.options()["ngram_max_words"] == 0
    assert linker.options()["context_weight"] == bundle.settings.link_context_weight
    assert linker_variants(bundle)["tuned"].options() == bundle_linker(bundle).options()
