"""The evaluation runner on full ESCO v1.1.1 with the real encoder and the public benchmarks.

Uses the session's full-ESCO bundle (``esco_bundle_path`` in conftest.py, built once per session). Each
evaluation runs once per module; the tests read its result. About two minutes on 2 cores once the bundle exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from skillmatch.config import Settings
from skillmatch.evaluation.runner import (
    JOB_TITLES_DIR,
    SKILL_EXTRACTION_FILES,
    calibrate_min_score,
    evaluate_job_titles,
    evaluate_role_profiles,
    evaluate_skill_extraction,
    evaluate_skill_normalisation,
    evaluate_title_sets,
    format_table,
)
from skillmatch.facade import Skillmatch
from skillmatch.facade import load as load_service
from skillmatch.linking.linker import link_options

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared benchmark data not found at {path} (expected ../shared/data next to the repo)")
    return path


@pytest.fixture(scope="module")
def bundle(esco_bundle_path: Path, real_encoder: object) -> Skillmatch:
    return load_service(esco_bundle_path, settings=Settings(use_cache=False), encoder=real_encoder)


@pytest.fixture(scope="module")
def bench_paths() -> dict[str, Path]:
    return {name: _require(DATA / rel) for name, rel in SKILL_EXTRACTION_FILES.items()}


@pytest.fixture(scope="module")
def extraction(bundle: Skillmatch, bench_paths: dict[str, Path]) -> dict[str, Any]:
    return evaluate_skill_extraction(bundle, bench_paths)


def test_bundle_linker_has_the_tuned_options(bundle: Skillmatch) -> None:
    wanted = {k: v for k, v in link_options(Settings()).items() if k != "min_score"}
    got = {k: v for k, v in bundle.linker.options().items() if k != "min_score"}
    assert got == wanted, (
        "the bundle's linker must be made with skillmatch.linking.linker.link_options(settings)"
    )


def test_pipeline_beats_dense_preferred_baseline_by_ten_points(extraction: dict[str, Any]) -> None:
    sets = extraction["sets"]
    assert {name: data["queries"] for name, data in sets.items()} == {"tech": 75, "house": 61}
    for name, data in sets.items():
        methods = data["methods"]
        pipeline, dense = methods["pipeline"]["rp@5"], methods["dense_preferred"]["rp@5"]
        assert pipeline >= dense + 0.10, (
            f"{name}: pipeline RP@5 {pipeline:.3f} vs dense preferred-only {dense:.3f}"
        )
        # the pipeline also beats both lexical baselines on every reported metric
        for baseline in ("tfidf", "bm25"):
            for metric in ("rp@5", "rp@10", "mrr"):
                assert methods["pipeline"][metric] > methods[baseline][metric], (name, baseline, metric)
    table = format_table(extraction)
    assert sum(" pipeline " in line for line in table.splitlines()) == 2


def test_default_threshold_is_calibrated(bundle: Skillmatch, bench_paths: dict[str, Path]) -> None:
    result = calibrate_min_score(bundle, bench_paths)
    best = result["best"]
    at_default = next(
        row for row in result["curve"] if row["threshold"] == round(Settings().link_min_score, 2)
    )
    # the configured default sits at (or within 0.01 F1 of) the F1-best threshold on the validation sets
    assert at_default["f1"] >= best["f1"] - 0.01, (best, at_default)
    recalls = [row["recall"] for row in result["curve"]]
    assert recalls == sorted(recalls, reverse=True)


def test_job_titles(bundle: Skillmatch) -> None:
    result = evaluate_job_titles(bundle, _require(DATA / JOB_TITLES_DIR))
    assert result["queries"] >= 570
    roles, tfidf = result["methods"]["roles"], result["methods"]["tfidf"]
    assert roles["mrr"] > tfidf["mrr"] and roles["acc@5"] > 0.75
    # title cleaning, spelling correction and character n-grams must not cost anything on clean titles
    assert roles["acc@1"] >= result["methods"]["dense_labels"]["acc@1"]


def test_noisy_titles(bundle: Skillmatch) -> None:
    result = evaluate_title_sets(bundle, _require(DATA))
    noisy = result["sets"]["noisy_esco"]
    assert noisy["queries"] >= 550
    roles, dense = noisy["methods"]["roles"], noisy["methods"]["dense_labels"]
    assert roles["acc@1"] >= dense["acc@1"] + 0.15, (roles, dense)
    assert noisy["by_noise"]["typo"]["roles"] > noisy["by_noise"]["typo"]["dense_labels"]
    onet = result["sets"]["onet_alternate"]
    assert onet["queries"] == 1500
    # real O*NET titles: no worse than plain dense search beyond noise (1,500 titles: 0.02 is ~30 titles)
    assert onet["methods"]["roles"]["acc@1"] >= onet["methods"]["dense_labels"]["acc@1"] - 0.02


def test_skill_normalisation(bundle: Skillmatch) -> None:
    result = evaluate_skill_normalisation(bundle, sample=300, seed=0)
    assert result["queries"] == 300
    pipeline = result["methods"]["pipeline"]
    assert pipeline["acc@1"] > result["methods"]["tfidf"]["acc@1"]
    assert pipeline["acc@1"] > 0.75 and pipeline["acc@5"] > 0.9


def test_role_profiles(bundle: Skillmatch) -> None:
    result = evaluate_role_profiles(bundle, k=(10, 20))
    assert result["occupations"] > 0
    for method in ("profile", "postings_only"):
        scores = result["methods"][method]
        assert 0.0 <= scores["recall@10"] <= scores["recall@20"] <= 1.0
    # the taxonomy prior carries the essential skills the few postings do not mention
    assert result["methods"]["profile"]["recall@20"] >= result["methods"]["postings_only"]["recall@20"]
