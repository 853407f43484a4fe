"""``skillmatch link-postings``: the local and the Ray engine on the demo bundle (real encoder), resume, rejects,
empty input, and ``build --linked-postings``.

The Ray tests share one local Ray cluster (``ray.init(num_cpus=2)``) started and stopped by this module; they are
marked ``ray`` (``pytest -m "not ray"`` skips them) and run by default.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from skillmatch.batch import BatchError, BatchOptions, link_postings_batch, read_linked_postings
from skillmatch.build import demo_paths, read_inputs, run_build
from skillmatch.bundle import open_bundle
from skillmatch.cli.commands import app
from skillmatch.config import Settings

pytestmark = pytest.mark.integration

ROWS = 12  # demo postings per test input: small, so that the real encoder links them in seconds


@pytest.fixture(scope="module")
def postings() -> pd.DataFrame:
    """The first demo postings (as the demo file holds them)."""
    return pd.read_csv(demo_paths()[2], dtype=str, keep_default_na=False).head(ROWS)


@pytest.fixture(scope="module")
def parquet_folder(tmp_path_factory: pytest.TempPathFactory, postings: pd.DataFrame) -> Path:
    """The postings as a folder of two Parquet files."""
    folder = tmp_path_factory.mktemp("postings-parquet")
    half = len(postings) // 2
    postings.iloc[:half].to_parquet(folder / "a.parquet", index=False)
    postings.iloc[half:].to_parquet(folder / "b.parquet", index=False)
    return folder


@pytest.fixture(scope="module")
def local_output(
    tmp_path_factory: pytest.TempPathFactory, demo_bundle_path: Path, parquet_folder: Path
) -> Path:
    out = tmp_path_factory.mktemp("linked") / "local"
    link_postings_batch(
        demo_bundle_path, parquet_folder, out, options=BatchOptions(shard_rows=4, batch_size=3)
    )
    return out


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """A local 2-CPU Ray cluster for this module's Ray tests."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def frame(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "parts").sort_values("posting_id").reset_index(drop=True)


def assert_same_links(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Same postings, same skill ids (as sets: ties may come in either order), scores within 1e-4."""
    assert a["posting_id"].tolist() == b["posting_id"].tolist()
    for (_, x), (_, y) in zip(a.iterrows(), b.iterrows(), strict=True):
        left = dict(zip(x["skill_ids"], x["scores"], strict=True))
        right = dict(zip(y["skill_ids"], y["scores"], strict=True))
        assert set(left) == set(right), x["posting_id"]
        assert all(abs(left[k] - right[k]) <= 1e-4 for k in left), x["posting_id"]


def test_local_engine_links_every_posting_like_build(
    local_output: Path, demo_bundle_path: Path, postings: pd.DataFrame
) -> None:
    out = frame(local_output)
    run = json.loads((local_output / "batch.json").read_text())
    assert run["status"] == "complete" and run["counts"] == {"linked": ROWS, "rejected": 0, "shards": 4}
    assert sorted(out["posting_id"]) == sorted(postings["id"])
    manifest = json.loads((demo_bundle_path / "manifest.json").read_text())
    assert set(out["model_fingerprint"]) == {manifest["model"]["fingerprint"]}
    assert set(out["taxonomy_version"]) == {manifest["taxonomy"]["version"]}
    assert set(out["worker"]) == {f"{os.uname().nodename}:{os.getpid()}"}
    # the links are those the bundle's build made for the same postings
    built = open_bundle(demo_bundle_path).posting_skills
    for _, row in out.iterrows():
        want = set(built.loc[built["posting_id"] == row["posting_id"], "skill_id"])
        assert set(row["skill_ids"]) == want, row["posting_id"]
        assert len(row["labels"]) == len(row["scores"]) == len(row["evidence"]) == len(row["skill_ids"])
    assert not list(local_output.glob("_work"))  # the working folder goes once the run is complete


@pytest.mark.ray
def test_ray_engine_runs_in_two_actors_and_equals_local(
    ray_cluster: None, demo_bundle_path: Path, parquet_folder: Path, local_output: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ray"
    run = link_postings_batch(
        demo_bundle_path,
        parquet_folder,
        out,
        options=BatchOptions(engine="ray", workers=2, batch_size=1, shard_rows=4),
    )
    assert run["counts"]["linked"] == ROWS and run["engine_info"]["cpus_per_worker"] == 0.5
    result = frame(out)
    workers = set(result["worker"])
    actors = {w.split("/actor:")[1] for w in workers if "/actor:" in w}
    pids = {int(w.split("/")[0].rsplit(":", 1)[1]) for w in workers}
    assert len(actors) == 2 and len(workers) == 2, workers
    assert os.getpid() not in pids
    assert_same_links(result, frame(local_output))


@pytest.mark.ray
def test_ray_engine_through_the_cli(
    ray_cluster: None, demo_bundle_path: Path, postings: pd.DataFrame, tmp_path: Path
) -> None:
    source = tmp_path / "postings.jsonl"
    postings.head(4).to_json(source, orient="records", lines=True)
    out = tmp_path / "out"
    args = ["link-postings", "--bundle", str(demo_bundle_path), "--input", str(source), "--output", str(out)]
    result = CliRunner().invoke(app, [*args, "--engine", "ray", "--workers", "2", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    assert "4 posting(s) linked" in result.stderr and "rows/s" in result.stderr and "ETA" in result.stderr
    assert len(frame(out)) == 4


def test_interrupted_run_resumes_without_half_files(
    demo_bundle_path: Path, parquet_folder: Path, local_output: Path, tmp_path: Path
) -> None:
    out = tmp_path / "resumed"
    options = BatchOptions(shard_rows=4, batch_size=2)

    def interrupt(done: int, _total: int) -> None:
        if done > 4:  # after the first shard was committed, in the middle of the second
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        link_postings_batch(demo_bundle_path, parquet_folder, out, options=options, progress=interrupt)
    assert sorted(p.name for p in (out / "parts").iterdir()) == ["part-00000.parquet"]
    assert json.loads((out / "batch.json").read_text())["status"] == "running"
    # a half-written staged file of an interrupted Ray run is dropped, not committed
    staged = out / "_work" / "staging" / "_shard=2"
    staged.mkdir(parents=True)
    (staged / "half.parquet").write_bytes(b"PAR1 not a whole file")

    run = link_postings_batch(demo_bundle_path, parquet_folder, out, options=options)
    assert run["status"] == "complete" and run["skipped_shards"] == 1
    assert_same_links(frame(out), frame(local_output))
    # the same arguments again: nothing to do; other arguments: refused
    again = link_postings_batch(demo_bundle_path, parquet_folder, out, options=options)
    assert again["resumed"] is True
    with pytest.raises(BatchError, match="another run"):
        link_postings_batch(demo_bundle_path, parquet_folder, out, options=BatchOptions(shard_rows=5))


def test_malformed_rows_become_rejects(
    demo_bundle_path: Path, postings: pd.DataFrame, tmp_path: Path
) -> None:
    bad = pd.concat(
        [
            postings.head(2),
            pd.DataFrame(
                [
                    {"id": "", "title": "No id", "description": "x"},
                    {"id": "P-DATE", "title": "Analyst", "date": "04/03/2025"},
                    {"id": "P-EMPTY", "title": "", "description": ""},
                    {"id": postings["id"].iloc[0], "title": "Duplicate"},
                ]
            ),
        ],
        ignore_index=True,
    ).fillna("")
    source = tmp_path / "postings.csv"
    bad.to_csv(source, index=False)
    run = link_postings_batch(demo_bundle_path, source, tmp_path / "out")
    assert run["counts"]["linked"] == 2 and run["counts"]["rejected"] == 4
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv")
    assert list(rejects.columns) == ["file", "row", "field", "reason"]
    assert set(rejects["file"]) == {str(source)}
    assert rejects["row"].tolist() == [4, 5, 6, 7]  # spreadsheet rows: the header is row 1
    assert set(rejects["field"].dropna()) >= {"id", "date"}
    assert "duplicate id" in " ".join(rejects["reason"])


def test_empty_input_gives_an_empty_output(
    demo_bundle_path: Path, postings: pd.DataFrame, tmp_path: Path
) -> None:
    source = tmp_path / "empty.parquet"
    postings.head(0).to_parquet(source, index=False)
    out = tmp_path / "out"
    args = ["link-postings", "--bundle", str(demo_bundle_path), "--input", str(source), "--output", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "no postings in" in result.stderr
    assert len(pd.read_parquet(out / "parts")) == 0
    assert json.loads((out / "batch.json").read_text())["counts"]["linked"] == 0


def test_build_uses_linked_postings(
    local_output: Path, parquet_folder: Path, postings: pd.DataFrame, tmp_path: Path
) -> None:
    settings = Settings(cache_dir=tmp_path / "cache")
    taxonomy, credentials, _ = demo_paths()
    source = tmp_path / "postings.parquet"
    postings.to_parquet(source, index=False)
    run_build(read_inputs(taxonomy, credentials, source), tmp_path / "direct", settings=settings)
    result = CliRunner().invoke(
        app,
        [
            "build",
            "--taxonomy",
            str(taxonomy),
            "--credentials",
            str(credentials),
            "--linked-postings",
            str(local_output),
            "--out",
            str(tmp_path / "batched"),
        ],
    )
    assert result.exit_code == 0, result.output
    direct, batched = open_bundle(tmp_path / "direct"), open_bundle(tmp_path / "batched")
    pairs = ["posting_id", "skill_id"]
    assert set(map(tuple, direct.posting_skills[pairs].to_numpy())) == set(
        map(tuple, batched.posting_skills[pairs].to_numpy())
    )
    assert sorted(direct.roles["id"]) == sorted(batched.roles["id"])
    assert batched.manifest["sources"]["linked_postings"] == str(local_output)


def test_build_refuses_postings_linked_with_another_model(local_output: Path, tmp_path: Path) -> None:
    linked = read_linked_postings(local_output)
    linked.model_fingerprint = "another/model@0000"
    inputs = read_inputs(demo_paths()[0], demo_paths()[1], None)
    inputs.linked_postings = linked
    with pytest.raises(Exception, match="another/model@0000"):
        run_build(inputs, tmp_path / "b", settings=Settings(cache_dir=tmp_path / "cache"))
