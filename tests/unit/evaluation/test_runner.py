"""The evaluation runner on a small synthetic bundle (fake encoder) and synthetic benchmark files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fakes import HashingEncoder, write_benchmark

from skillmatch.build import BuildInputs, build_bundle
from skillmatch.config import Settings
from skillmatch.evaluation.runner import (
    calibrate_min_score,
    calibrate_threshold,
    dense_preferred_ranker,
    description_rows,
    evaluate_job_titles,
    evaluate_linker_ablation,
    evaluate_role_profiles,
    evaluate_skill_extraction,
    evaluate_skill_normalisation,
    format_table,
    held_out_labels,
    linker_ranker,
    linker_variants,
    rrf_ranker,
    run_all,
    score_rankings,
)
from skillmatch.facade import Skillmatch
from skillmatch.facade import load as load_service
from skillmatch.linking.linker import link_options
from skillmatch.schema import (
    CONCEPT_COLUMNS,
    CREDENTIAL_COLUMNS,
    OCCUPATION_COLUMNS,
    POSTING_COLUMNS,
    InputError,
    Taxonomy,
)

SKILLS = [
    ("c:sql", "SQL", ["structured query language"]),
    ("c:python", "Python (computer programming)", ["python programming", "python scripting"]),
    ("c:excel", "use spreadsheets software", ["microsoft excel", "excel spreadsheets"]),
    ("c:nursing", "provide nursing care", ["nursing care", "patient care"]),
    ("c:java", "Java (computer programming)", ["java programming"]),
    ("c:team", "work in teams", ["teamwork", "team working"]),
    ("c:cook", "prepare meals", ["cook food", "meal preparation"]),
    ("c:drive", "drive vehicles", ["operate vehicles"]),
]


DESCRIPTIONS = {"c:cook": "Cook and serve meals.", "c:drive": "Drive cars, vans and lorries."}


def concepts_frame() -> pd.DataFrame:
    rows = [
        {
            "id": cid,
            "label": label,
            "alt_labels": alts,
            "description": DESCRIPTIONS.get(cid, ""),
            "type": "skill",
            "reuse_level": None,
            "broader": [],
            "group_path": "",
        }
        for cid, label, alts in SKILLS
    ]
    return pd.DataFrame(rows, columns=CONCEPT_COLUMNS)


def occupations_frame() -> pd.DataFrame:
    rows = [
        ("o:dev", "software developer", ["programmer", "application developer"]),
        ("o:nurse", "nurse", ["registered nurse", "staff nurse"]),
        ("o:chef", "cook", ["chef", "kitchen cook"]),
    ]
    return pd.DataFrame(
        [
            {"id": i, "label": lab, "alt_labels": alts, "description": "", "isco_group": None}
            for i, lab, alts in rows
        ],
        columns=OCCUPATION_COLUMNS,
    )


def posting(pid: str, title: str, description: str, occupation: str | None) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(POSTING_COLUMNS)
    row.update(id=pid, title=title, description=description, skills=[], occupation=occupation)
    return row


def make_bundle(out: Path, postings: list[dict[str, object]]) -> Skillmatch:
    relations = pd.DataFrame(
        [
            ("o:dev", "c:python", "essential"),
            ("o:dev", "c:sql", "essential"),
            ("o:dev", "c:java", "essential"),
            ("o:dev", "c:team", "optional"),
            ("o:nurse", "c:nursing", "essential"),
            ("o:nurse", "c:team", "essential"),
            ("o:chef", "c:cook", "essential"),
        ],
        columns=["occupation_id", "skill_id", "relation"],
    )
    tax = Taxonomy("test", "1", concepts_frame(), occupations_frame(), relations)
    settings = Settings(use_cache=False, link_min_score=0.5)
    encoder = HashingEncoder()
    inputs = BuildInputs(
        tax, pd.DataFrame(columns=CREDENTIAL_COLUMNS), pd.DataFrame(postings, columns=POSTING_COLUMNS)
    )
    build_bundle(inputs, out, encoder=encoder, settings=settings)
    return load_service(out, settings=settings, encoder=encoder)


POSTINGS = [
    posting("P1", "software developer", "Python programming and SQL", "o:dev"),
    posting("P2", "developer", "java programming, teamwork", "o:dev"),
    posting("P3", "nurse", "patient care in a team", "o:nurse"),
]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Skillmatch:
    return make_bundle(tmp_path_factory.mktemp("b") / "bundle", POSTINGS)


@pytest.fixture(scope="module")
def bare_bundle(tmp_path_factory: pytest.TempPathFactory) -> Skillmatch:
    return make_bundle(tmp_path_factory.mktemp("b") / "bare", [])


@pytest.fixture()
def bench_files(tmp_path: Path) -> dict[str, Path]:
    tech = write_benchmark(
        tmp_path / "tech_validation.csv",
        [
            ("python programming and SQL", "Python (computer programming)"),
            ("python programming and SQL", "SQL"),
            ("structured query language", "SQL"),
            ("we like kubernetes", "LABEL NOT PRESENT"),
            ("java programming", "Java (computer programming)"),
        ],
    )
    house = write_benchmark(
        tmp_path / "house_validation.csv",
        [
            ("Cook food for guests, drive vehicles", "prepare meals"),
            ("Cook food for guests, drive vehicles", "drive vehicles"),
            ("team working with nurses", "work in teams"),
            ("team working with nurses", "an unknown skill"),
        ],
    )
    return {"tech": tech, "house": house}


def write_melo(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "usa_q_en_c_en_queries.tsv").write_text(
        "Q1\tSoftware Developers\nQ2\tRegistered Nurses\nQ3\tChefs\nQ4\tAstronauts\n", encoding="utf-8"
    )
    (folder / "usa_q_en_c_en_corpus_elements.tsv").write_text(
        "C1_en_000\tsoftware developer\nC1_en_001\tprogrammer\nC2_en_000\tnurse\nC3_en_000\tcook\n"
        "C4_en_000\tastronaut\n",
        encoding="utf-8",
    )
    (folder / "usa_q_en_c_en_annotations.tsv").write_text(
        "Q1\t0\tC1_en_000\t1\nQ2\t0\tC2_en_000\t1\nQ3\t0\tC3_en_000\t1\nQ4\t0\tC4_en_000\t1\n",
        encoding="utf-8",
    )
    return folder


# --- scoring --------------------------------------------------------------------------------------------------


def test_score_rankings_values() -> None:
    scores = score_rankings([["a", "x", "b"], ["y", "c"]], [{"a", "b"}, {"c"}], ks=(1, 2), extra=("acc@1",))
    assert scores["rp@1"] == pytest.approx(0.5)  # query 1 hits at 1; query 2 misses at 1
    assert scores["rp@2"] == pytest.approx((0.5 + 1.0) / 2)
    assert scores["mrr"] == pytest.approx((1.0 + 0.5) / 2)
    assert scores["acc@1"] == pytest.approx(0.5)
    assert scores["n"] == 2


# --- skill extraction ---------------------------------------------------------------------------------------


def test_skill_extraction_reports_sets_and_methods(bundle: Skillmatch, bench_files: dict[str, Path]) -> None:
    result = evaluate_skill_extraction(bundle, list(bench_files.values()), ks=(1, 5))
    assert result["task"] == "skill_extraction" and result["depth"] == 10
    assert set(result["sets"]) == {"tech", "house"}
    tech = result["sets"]["tech"]
    assert (tech["queries"], tech["sentences"], tech["no_gold"]) == (3, 4, 1)
    house = result["sets"]["house"]
    assert house["unmapped_labels"] == ["an unknown skill"] and house["mapping_rate"] == pytest.approx(3 / 4)
    for data in result["sets"].values():
        assert set(data["methods"]) == {"pipeline", "tfidf", "bm25", "dense_preferred"}
        for metrics in data["methods"].values():
            assert set(metrics) == {"rp@1", "rp@5", "mrr", "n", "seconds"}
            assert all(0.0 <= metrics[m] <= 1.0 for m in ("rp@1", "rp@5", "mrr"))
    # every gold skill here is named by one of its labels, so the pipeline finds all of them in its top 5
    assert tech["methods"]["pipeline"]["rp@5"] == 1.0
    assert house["methods"]["pipeline"]["rp@5"] == 1.0


def test_skill_extraction_with_custom_methods(bundle: Skillmatch, bench_files: dict[str, Path]) -> None:
    def oracle(texts: list[str], depth: int) -> list[list[str]]:
        gold = {"python programming and SQL": ["c:python", "c:sql"], "structured query language": ["c:sql"]}
        return [gold.get(t, ["c:java"])[:depth] for t in texts]

    def wrong(texts: list[str], depth: int) -> list[list[str]]:
        return [["c:drive"] for _ in texts]

    result = evaluate_skill_extraction(
        bundle, {"t": bench_files["tech"]}, ks=(5,), methods={"oracle": oracle, "wrong": wrong}
    )
    methods = result["sets"]["t"]["methods"]
    assert methods["oracle"]["rp@5"] == 1.0 and methods["oracle"]["mrr"] == 1.0
    assert methods["wrong"]["rp@5"] == 0.0 and methods["wrong"]["mrr"] == 0.0


def test_skill_extraction_errors(bundle: Skillmatch, tmp_path: Path, bench_files: dict[str, Path]) -> None:
    with pytest.raises(InputError, match=r"absent\.csv"):
        evaluate_skill_extraction(bundle, [tmp_path / "absent.csv"])
    with pytest.raises(ValueError, match="ks must be positive"):
        evaluate_skill_extraction(bundle, list(bench_files.values()), ks=(0,))
    with pytest.raises(ValueError, match="both named 'tech'"):
        evaluate_skill_extraction(bundle, [bench_files["tech"], bench_files["tech"]])


def test_dense_preferred_ranker_ignores_alternative_labels(bundle: Skillmatch) -> None:
    # "excel spreadsheets" is an alternative label of c:excel: the pipeline (which indexes alternative labels)
    # finds it first, the preferred-only baseline does not see that label at all
    [dense] = dense_preferred_ranker(bundle)(["excel spreadsheets"], 3)
    [pipeline] = linker_ranker(bundle.linker)(["excel spreadsheets"], 3)
    assert pipeline[0] == "c:excel"
    assert len(dense) == 3 and len(set(dense)) == 3
    preferred = set(bundle.bundle.labels.loc[bundle.bundle.labels["kind"] == "preferred", "concept_id"])
    assert set(dense) <= preferred


def test_calibrate_threshold_curve(bundle: Skillmatch) -> None:
    sets = {
        "a": (
            ["python programming and SQL", "structured query language"],
            [{"c:python", "c:sql"}, {"c:sql"}],
        ),
        "b": (["cook food"], [{"c:cook"}]),
    }
    result = calibrate_threshold(bundle.linker, sets, depth=5, thresholds=[0.0, 0.3, 0.6, 0.9, 1.01])
    curve = result["curve"]
    assert [row["threshold"] for row in curve] == [0.0, 0.3, 0.6, 0.9, 1.01]
    recalls = [row["recall"] for row in curve]
    assert recalls == sorted(recalls, reverse=True)  # a higher threshold never finds more gold links
    assert curve[-1]["links"] == 0 and curve[-1]["f1"] == 0.0
    assert curve[0]["recall"] == 1.0  # all 4 gold links are in the top 5
    assert result["best"]["f1"] == max(row["f1"] for row in curve)
    assert set(result["per_set"]) == {"a", "b"}
    with pytest.raises(ValueError, match="thresholds"):
        calibrate_threshold(bundle.linker, sets, thresholds=[])


def test_calibrate_min_score_counts_sentences_without_gold(
    bundle: Skillmatch, bench_files: dict[str, Path]
) -> None:
    result = calibrate_min_score(bundle, {"tech": bench_files["tech"]}, depth=3, thresholds=[-1.0])
    # 3 gold sentences + "we like kubernetes" (no gold): 4 texts, every link of the last one is wrong
    with_gold = calibrate_threshold(
        bundle.linker,
        {
            "tech": (
                ["python programming and SQL", "structured query language", "java programming"],
                [{"c:python", "c:sql"}, {"c:sql"}, {"c:java"}],
            )
        },
        depth=3,
        thresholds=[-1.0],
    )
    low = result["curve"][0]
    assert low["links"] == 4 * 3 and with_gold["curve"][0]["links"] == 3 * 3
    assert low["recall"] == with_gold["curve"][0]["recall"]
    assert (
        low["links"] > with_gold["curve"][0]["links"]
        and low["precision"] < with_gold["curve"][0]["precision"]
    )


def test_rrf_ranker_fuses_ranks() -> None:
    def first(texts: list[str], depth: int) -> list[list[str]]:
        return [["a", "b", "c"][:depth] for _ in texts]

    def second(texts: list[str], depth: int) -> list[list[str]]:
        return [["c", "b"][:depth] for _ in texts]

    # b: 1/62 + 1/62; a: 1/61; c: 1/63 + 1/61 -> c, b, a
    assert rrf_ranker([first, second])(["x"], 3) == [["c", "b", "a"]]
    assert rrf_ranker([first, second])(["x", "y"], 1) == [["c"], ["c"]]


def test_linker_variants_and_ablation(bundle: Skillmatch, bench_files: dict[str, Path]) -> None:
    variants = linker_variants(bundle, descriptions=True)
    tuned = link_options(bundle.settings)
    assert {k: v for k, v in variants["tuned"].options().items()} == tuned
    plain = variants["plain"].options()
    assert plain["lexical_weight"] == plain["context_weight"] == plain["ngram_max_words"] == 0
    assert variants["tuned - context"].options() == {**tuned, "context_weight": 0.0}
    assert variants["plain, preferred labels only"].index.rows == len(SKILLS)
    assert (
        variants["plain"].index is bundle.bundle.label_index
    )  # variants over the bundle's labels share its index
    assert variants["plain + descriptions"].index.rows == len(bundle.bundle.labels) + len(DESCRIPTIONS)
    rows, vectors = description_rows(bundle)
    assert rows["concept_id"].tolist() == ["c:cook", "c:drive"] and set(rows["kind"]) == {"description"}
    assert vectors.shape == (2, bundle.encoder.dim)

    result = evaluate_linker_ablation(bundle, {"tech": bench_files["tech"]}, ks=(5,))
    methods = result["sets"]["tech"]["methods"]
    assert {
        "plain",
        "tuned",
        "rrf(plain, tfidf)",
        "rrf(tuned - lexical, tfidf)",
        "dense_preferred",
        "bm25",
    } <= set(methods)
    assert "plain + descriptions" not in methods  # only when asked for


# --- job titles ---------------------------------------------------------------------------------------------


def test_job_titles(bundle: Skillmatch, tmp_path: Path) -> None:
    result = evaluate_job_titles(bundle, write_melo(tmp_path / "melo"))
    assert result["queries"] == 3 and result["queries_total"] == 4 and result["unmapped_queries"] == 1
    assert set(result["methods"]) == {"roles", "dense_labels", "tfidf"}
    for metrics in result["methods"].values():
        assert set(metrics) >= {"mrr", "acc@1", "acc@5", "n"}
        assert metrics["acc@1"] <= metrics["acc@5"]
    assert result["methods"]["roles"]["acc@5"] == 1.0


# --- skill normalisation ------------------------------------------------------------------------------------


def test_held_out_labels_are_unambiguous_alt_labels() -> None:
    labels = pd.DataFrame(
        {
            "concept_id": ["a", "a", "a", "b", "b", "c", "c"],
            "text": ["alpha", "first letter", "shared", "beta", "SHARED", "gamma", "third letter"],
            "kind": ["preferred", "alt", "alt", "preferred", "alt", "preferred", "alt"],
        }
    )
    held = held_out_labels(labels, sample=10, seed=0)
    assert held.to_dict() == {1: "first letter", 6: "third letter"}  # "shared" belongs to two concepts
    assert held_out_labels(labels, sample=1, seed=0).size == 1
    assert held_out_labels(labels, sample=1, seed=3).equals(held_out_labels(labels, sample=1, seed=3))
    with pytest.raises(ValueError, match="sample"):
        held_out_labels(labels, sample=0, seed=0)


def test_skill_normalisation_holds_labels_out(bundle: Skillmatch) -> None:
    before = len(bundle.bundle.labels)
    result = evaluate_skill_normalisation(bundle, sample=5, seed=1)
    assert result["queries"] == 5
    assert set(result["methods"]) == {"pipeline", "tfidf", "bm25"}
    for metrics in result["methods"].values():
        assert metrics["n"] == 5 and 0.0 <= metrics["acc@1"] <= metrics["acc@5"] <= 1.0
    assert (
        len(bundle.bundle.labels) == before and bundle.linker.index.rows == before
    )  # the bundle is untouched


def test_with_labels_drops_held_out_rows(bundle: Skillmatch) -> None:
    labels = bundle.bundle.labels
    keep = labels.index[labels["text"] != "structured query language"].to_numpy()
    vectors = bundle.bundle.label_index.index_.reconstruct_n(0, bundle.bundle.label_index.rows)[keep]
    linker = bundle.linker.with_labels(labels.iloc[keep].reset_index(drop=True), vectors)
    [found] = linker.normalise(["structured query language"], min_score=-1, top_k=3)
    assert all(s.matched_label != "structured query language" for s in found)
    [full] = bundle.linker.normalise(["structured query language"], min_score=-1, top_k=1)
    assert full[0].matched_label == "structured query language" and full[0].score == pytest.approx(
        1.0, abs=1e-3
    )


# --- role profiles ------------------------------------------------------------------------------------------


def test_role_profiles_recall(bundle: Skillmatch) -> None:
    result = evaluate_role_profiles(bundle, k=(1, 10))
    assert result["occupations"] == 2 and result["postings"] == 3  # o:dev and o:nurse have postings
    profile = result["methods"]["profile"]
    assert profile["recall@10"] == 1.0  # the taxonomy prior puts every essential skill in the profile
    postings = result["methods"]["postings_only"]
    assert 0.0 < postings["recall@10"] <= 1.0 and postings["recall@1"] <= postings["recall@10"]
    assert profile["n"] == postings["n"] == 2


def test_role_profiles_skipped_without_postings(bare_bundle: Skillmatch) -> None:
    result = evaluate_role_profiles(bare_bundle)
    assert "no postings" in result["skipped"]


# --- all together -------------------------------------------------------------------------------------------


def test_run_all_and_table(bundle: Skillmatch, tmp_path: Path, bench_files: dict[str, Path]) -> None:
    data = tmp_path / "data"
    (data / "benchmarks" / "skill-extraction").mkdir(parents=True)
    bench_files["tech"].rename(data / "benchmarks" / "skill-extraction" / "tech_validation.csv")
    results = run_all(bundle, data, normalisation_sample=4)
    assert set(results["skill_extraction"]["sets"]) == {"tech"}
    assert results["skill_extraction"]["missing"][0].endswith("house_validation.csv")
    assert "not found" in results["job_titles"]["skipped"]
    assert set(results["noisy_titles"]["sets"]) == {"noisy_esco"}  # no O*NET files under data/
    assert results["skill_normalisation"]["queries"] == 4
    assert (
        results["skill_normalisation"]["concepts"] == "all"
    )  # the training hold-out of a tiny taxonomy is empty
    table = format_table(results)
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["task", "set", "method"]
    assert any(line.startswith("skill_extraction") and " pipeline " in line for line in lines)
    assert any(line.startswith("skill_normalisation") for line in lines)
    assert any(line.startswith("job_titles: skipped") for line in lines)
    pipeline = results["skill_extraction"]["sets"]["tech"]["methods"]["pipeline"]
    assert f"{pipeline['rp@5']:.3f}" in next(line for line in lines if " pipeline " in line)


def test_noisy_titles_beat_plain_dense_search_on_the_test_bundle(bundle: Skillmatch) -> None:
    from skillmatch.evaluation.runner import evaluate_title_sets
    from skillmatch.evaluation.titles import NOISE_KINDS

    result = evaluate_title_sets(bundle, "/nonexistent")
    noisy = result["sets"]["noisy_esco"]
    assert noisy["queries"] == 6  # 3 occupations x (preferred label + one distinct alternative label)
    roles, dense = noisy["methods"]["roles"], noisy["methods"]["dense_labels"]
    assert roles["n"] == dense["n"] == 6
    assert 0.0 <= dense["acc@1"] <= roles["acc@1"] <= roles["acc@5"] <= 1.0
    assert set(noisy["by_noise"]) <= set(NOISE_KINDS)
    assert all(row["n"] >= 1 for row in noisy["by_noise"].values())


def test_skill_normalisation_can_be_restricted_to_some_concepts(bundle: Skillmatch) -> None:
    from skillmatch.evaluation.runner import evaluate_skill_normalisation

    labels = bundle.bundle.labels
    some = sorted(set(labels.loc[labels["kind"] == "alt", "concept_id"]))[:1]
    result = evaluate_skill_normalisation(bundle, sample=10, concepts=some)
    assert result["queries"] == 1 and result["concepts"] == 1


def test_format_table_of_one_part_and_of_nothing() -> None:
    part = {"task": "x", "methods": {"m": {"acc@1": 0.5, "n": 2, "seconds": 0.1}}}
    table = format_table(part)
    assert "acc@1" in table and "0.500" in table and "seconds" not in table
    assert format_table({"task": "y", "skipped": "no data"}) == "y: skipped (no data)"


def test_results_frame_is_long_and_skips_skipped_parts() -> None:
    from skillmatch.evaluation.runner import results_frame

    results = {
        "bundle": "x",
        "skill_extraction": {
            "task": "skill_extraction",
            "sets": {
                "tech": {
                    "methods": {
                        "pipeline": {"rp@5": 0.7, "mrr": 0.6, "n": 75, "seconds": 1.0},
                        "tfidf": {"rp@5": 0.6, "mrr": 0.5, "n": 75},
                    }
                }
            },
        },
        "job_titles": {"task": "job_titles", "skipped": "no data"},
    }
    frame = results_frame(results)
    assert len(frame) == 4
    assert set(frame["metric"]) == {"rp@5", "mrr"}
    assert frame.query("method == 'pipeline' and metric == 'rp@5'")["value"].item() == 0.7
