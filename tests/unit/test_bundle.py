"""Bundle build/save/load with the fake encoder: atomic replacement, manifest checks, link tables."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from fakes import HashingEncoder, make_concepts, posting_row

from skillmatch.build import BuildInputs, build_bundle
from skillmatch.bundle import FILES, BundleError, clean_stale, open_bundle
from skillmatch.config import Settings
from skillmatch.facade import load as load_service
from skillmatch.linking.linker import SkillLinker
from skillmatch.schema import (
    CREDENTIAL_COLUMNS,
    OCCUPATION_COLUMNS,
    POSTING_COLUMNS,
    Reject,
    Taxonomy,
    describe_rejects,
    rejected_rows,
    rejects_to_frame,
)


def credential(cid: str, outcomes: list[str], skills: list[str] | None = None) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(CREDENTIAL_COLUMNS)
    row.update(
        id=cid,
        title=cid,
        description="",
        learning_outcomes=outcomes,
        skills=skills or [],
        prerequisites=[],
        stackable_into=[],
    )
    return row


@pytest.fixture()
def inputs() -> BuildInputs:
    concepts = make_concepts(
        [
            ("c:sql", "SQL", ["structured query language"]),
            ("c:python", "Python", ["python programming"]),
            ("c:excel", "use spreadsheets software", ["excel"]),
        ]
    )
    occupations = pd.DataFrame(
        [
            {
                "id": "o:analyst",
                "label": "data analyst",
                "alt_labels": ["data analytics specialist"],
                "description": "",
                "isco_group": "2511",
            }
        ],
        columns=OCCUPATION_COLUMNS,
    )
    relations = pd.DataFrame(
        {"occupation_id": ["o:analyst"], "skill_id": ["c:sql"], "relation": ["essential"]}
    )
    tax = Taxonomy(name="test", version="1", concepts=concepts, occupations=occupations, relations=relations)
    creds = pd.DataFrame(
        [
            credential("C1", ["Query data with SQL", "Clean data with Excel"], ["Python programming"]),
            credential("C2", ["Automate reports with Python"]),
        ],
        columns=CREDENTIAL_COLUMNS,
    )
    posts = pd.DataFrame(
        [posting_row("P1", "Data analyst", "You know SQL and Excel.", skills=["python"])],
        columns=POSTING_COLUMNS,
    )
    return BuildInputs(tax, creds, posts, rejects=[Reject("x.csv", 3, "cost", "negative")])


def settings(tmp_path: Path) -> Settings:
    return Settings(cache_dir=tmp_path / "cache", use_cache=False, link_min_score=0.5)


def test_build_and_load_round_trip(tmp_path: Path, inputs: BuildInputs) -> None:
    enc = HashingEncoder()
    out = tmp_path / "bundle"
    manifest = build_bundle(inputs, out, encoder=enc, settings=settings(tmp_path))
    assert manifest["counts"]["concepts"] == 3
    assert manifest["counts"]["labels"] == 6
    assert manifest["rejects"] == {"total": 1, "rows": 1, "by_file": {"x.csv": 1}}
    assert manifest["model"] == {"id": enc.model_id, "fingerprint": enc.fingerprint, "dim": enc.dim}
    assert set(manifest["indexes"]) == {"labels", "occupations", "outcomes"}
    assert "sentence-transformers" in manifest["versions"]
    on_disk = json.loads((out / "manifest.json").read_text())
    assert set(on_disk["files"]) >= {"labels.faiss", "concepts.parquet", "rejects.csv"}

    loaded = load_service(out, settings=settings(tmp_path), encoder=enc)
    links = loaded.bundle.credential_skills
    c1 = set(links[links.credential_id == "C1"].skill_id)
    assert {"c:sql", "c:excel", "c:python"} <= c1
    explicit = links[(links.credential_id == "C1") & (links.skill_id == "c:python")]
    assert explicit["source"].tolist() == ["explicit"]
    p1 = loaded.bundle.posting_skills[loaded.bundle.posting_skills.posting_id == "P1"]
    assert {"c:sql", "c:excel", "c:python"} <= set(p1.skill_id)
    # a text link shows the posting's title and the segment that matched, not a copy of the whole text
    from_text = p1[p1.source == "text"]
    assert set(from_text["evidence"]) == {"Data analyst"}
    assert all(phrase in "Data analyst\nYou know SQL and Excel" for phrase in from_text["phrase"])
    assert loaded.bundle.credentials.loc[0, "learning_outcomes"] == [
        "Query data with SQL",
        "Clean data with Excel",
    ]
    assert loaded.bundle.rejects.to_dict("records") == [
        {"file": "x.csv", "row": 3, "field": "cost", "reason": "negative"}
    ]
    assert loaded.linker.link(["structured query language"])[0][0].id == "c:sql"
    # the outcome index is row-aligned with the outcomes table
    assert loaded.bundle.outcome_index.rows == len(loaded.bundle.outcomes) == 3


def test_role_tables_are_built_and_stored(tmp_path: Path, inputs: BuildInputs) -> None:
    out = tmp_path / "b"
    manifest = build_bundle(inputs, out, encoder=HashingEncoder(), settings=settings(tmp_path))
    loaded = load_service(out, settings=settings(tmp_path), encoder=HashingEncoder())
    for name in ("roles", "posting_roles", "role_profiles", "role_labels"):
        assert manifest["counts"][name] == len(getattr(loaded.bundle, name))
        assert FILES[name] in manifest["files"]  # listed, so verified on load
    # every taxonomy occupation is a role, and every posting is assigned to one
    assert set(inputs.taxonomy.occupations["id"]) <= set(loaded.bundle.roles["id"])
    assert set(loaded.bundle.posting_roles["posting_id"]) == set(inputs.postings["id"])


def test_failed_build_leaves_existing_bundle_intact(
    tmp_path: Path, inputs: BuildInputs, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "bundle"
    build_bundle(inputs, out, encoder=HashingEncoder(), settings=settings(tmp_path))
    before = (out / "manifest.json").read_text()

    def broken(*args: object, **kwargs: object) -> dict[str, pd.DataFrame]:
        raise RuntimeError("interrupted")

    monkeypatch.setattr("skillmatch.build.role_tables", broken)
    with pytest.raises(RuntimeError, match="interrupted"):
        build_bundle(inputs, out, encoder=HashingEncoder(), settings=settings(tmp_path))
    assert (out / "manifest.json").read_text() == before
    # nothing left behind but the version the bundle path links to
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [out.resolve().name]


def test_refuses_to_replace_a_folder_that_is_not_a_bundle(tmp_path: Path, inputs: BuildInputs) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.docx").write_text("do not delete")
    with pytest.raises(BundleError, match="not a skillmatch bundle"):
        build_bundle(inputs, out, encoder=HashingEncoder(), settings=settings(tmp_path))
    assert (out / "thesis.docx").exists()


def test_load_checks_encoder_and_checksums(tmp_path: Path, inputs: BuildInputs) -> None:
    out = tmp_path / "bundle"
    build_bundle(inputs, out, encoder=HashingEncoder(), settings=settings(tmp_path))

    class OtherEncoder(HashingEncoder):
        model_id = "test/other"

    with pytest.raises(BundleError, match="built with model test/hashing-encoder"):
        load_service(out, settings=settings(tmp_path), encoder=OtherEncoder())

    class WideEncoder(HashingEncoder):
        dim = 512

    with pytest.raises(BundleError, match="dimensions"):
        load_service(out, settings=settings(tmp_path), encoder=WideEncoder())

    (out / "labels.parquet").write_bytes(b"garbage")
    with pytest.raises(BundleError, match=r"labels\.parquet does not match its checksum"):
        load_service(out, settings=settings(tmp_path), encoder=HashingEncoder())
    with pytest.raises(BundleError, match=r"no manifest\.json"):
        load_service(tmp_path, settings=settings(tmp_path), encoder=HashingEncoder())


def test_warm_build_links_nothing_again_and_gives_the_same_bundle(
    tmp_path: Path, inputs: BuildInputs, monkeypatch: pytest.MonkeyPatch
) -> None:
    linked: list[int] = []
    link = SkillLinker.link

    def counting(self: SkillLinker, texts: list[str], **kwargs: object) -> object:
        linked.append(len(texts))
        return link(self, texts, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SkillLinker, "link", counting)
    cached = settings(tmp_path).model_copy(update={"use_cache": True})
    build_bundle(inputs, tmp_path / "a", encoder=HashingEncoder(), settings=cached)
    assert sum(linked) > 0
    linked.clear()
    build_bundle(inputs, tmp_path / "b", encoder=HashingEncoder(), settings=cached)
    assert linked == []  # every outcome and posting text came from the link cache
    assert list((tmp_path / "cache").glob("links-*.sqlite"))
    for table in ("posting_skills.parquet", "credential_skills.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "a" / table), pd.read_parquet(tmp_path / "b" / table)
        )
    # without the cache setting, everything is linked again
    build_bundle(inputs, tmp_path / "c", encoder=HashingEncoder(), settings=settings(tmp_path))
    assert sum(linked) > 0


@pytest.mark.parametrize(
    ("built", "querying", "accepted"),
    [
        ("m@0123", "m@0123", True),
        ("m@0123", "m@0123+int8-block", True),  # block-wise int8 stands in for float32 ...
        ("m@0123+int8-block", "m@0123", True),  # ... both ways
        ("m@0123", "m@0123+int8", False),  # dynamic int8 does not
        ("m@0123+int8", "m@0123+int8", True),
        ("m@0123", "m@4567", False),  # other weights
        ("m", "m@hub+int8-block", True),  # a hub model (no weights digest): the id and the precision decide
        ("m", "m@hub+int8", False),
        ("m@hub+int8", "m", False),
        ("m", "other", False),
    ],
)
def test_check_encoder_compares_weights_and_precision(built: str, querying: str, accepted: bool) -> None:
    from types import SimpleNamespace

    from skillmatch.bundle import check_encoder

    manifest = {"model": {"id": built.split("@")[0], "fingerprint": built, "dim": 8}}
    encoder = SimpleNamespace(model_id=querying.split("@")[0], fingerprint=querying, dim=8)
    if accepted:
        check_encoder(manifest, encoder, Path("bundle"))  # type: ignore[arg-type]
    else:
        with pytest.raises(BundleError, match="fingerprint"):
            check_encoder(manifest, encoder, Path("bundle"))  # type: ignore[arg-type]


# --- safety: the manifest stays inside the bundle, the swap is atomic ------------------------------------


@pytest.fixture()
def built(tmp_path: Path, inputs: BuildInputs) -> Path:
    out = tmp_path / "bundle"
    build_bundle(inputs, out, encoder=HashingEncoder(), settings=settings(tmp_path))
    return out


def _edit_manifest(
    bundle: Path, change: dict[str, object] | None = None, *, drop_files: bool = False
) -> None:
    path = bundle / "manifest.json"
    manifest = json.loads(path.read_text())
    if drop_files:
        manifest.pop("files")
    else:
        manifest["files"] = {**manifest["files"], **(change or {})}
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("/etc/hostname", "not a plain file name"),
        ("../bundle/manifest.json", "not a plain file name"),
        ("sub/table.parquet", "not a plain file name"),
        ("..", "not a plain file name"),
    ],
)
def test_manifest_entries_outside_the_bundle_are_refused(built: Path, name: str, message: str) -> None:
    _edit_manifest(built, {name: {"sha256": "0" * 64, "bytes": 1}})
    with pytest.raises(BundleError, match=message):
        open_bundle(built)


def test_a_fifo_or_link_in_the_manifest_is_refused_without_opening_it(built: Path, tmp_path: Path) -> None:
    os.mkfifo(built / "pipe")
    _edit_manifest(built, {"pipe": {"sha256": "0" * 64, "bytes": 0}})
    with pytest.raises(BundleError, match="pipe is not a regular file"):
        open_bundle(built)  # would block forever if the FIFO were opened
    (built / "pipe").unlink()
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    (built / "pipe").symlink_to(secret)
    with pytest.raises(BundleError, match="pipe is not a regular file"):
        open_bundle(built)


def test_a_manifest_without_files_and_unlisted_files_are_refused(built: Path) -> None:
    (built / "extra.parquet").write_bytes(b"not listed")
    with pytest.raises(BundleError, match=r"files not listed in the manifest: extra\.parquet"):
        open_bundle(built)
    (built / "extra.parquet").unlink()
    _edit_manifest(built, drop_files=True)
    with pytest.raises(BundleError, match="lists no files"):
        open_bundle(built)


class Killed(BaseException):
    """A kill: nothing after it runs, not even cleanup."""


STEPS = ["rename", "symlink", "replace"]


@pytest.mark.parametrize("step", STEPS)
def test_a_build_killed_at_any_step_leaves_a_loadable_bundle(
    tmp_path: Path,
    inputs: BuildInputs,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
) -> None:
    out = tmp_path / "bundle"
    build_bundle(inputs, out, encoder=HashingEncoder(), settings=settings(tmp_path))
    before = open_bundle(out).manifest["created"]
    real = {"rename": Path.rename, "symlink": os.symlink, "replace": os.replace}

    def kill_at(name: str):
        def patched(*args: object, **kwargs: object) -> object:
            raise Killed(name)

        return patched

    monkeypatch.setattr(shutil, "rmtree", lambda *a, **k: None)  # a killed process cleans nothing up
    if step == "rename":
        monkeypatch.setattr(Path, "rename", kill_at(step))
    else:
        monkeypatch.setattr(f"skillmatch.bundle.os.{step}", kill_at(step))
    with pytest.raises(Killed):
        build_bundle(inputs, out, encoder=HashingEncoder(), settings=settings(tmp_path))
    monkeypatch.undo()
    assert Path.rename is real["rename"] and os.symlink is real["symlink"] and os.replace is real["replace"]
    assert open_bundle(out).manifest["created"] == before  # the old bundle, whole
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".bundle.")]
    assert len(leftovers) >= 2  # the current version and what the killed build left

    build_bundle(inputs, out, encoder=HashingEncoder(), settings=settings(tmp_path))
    assert open_bundle(out).manifest["created"] >= before
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".bundle."))
    assert all(".v-" in name for name in left) and len(left) <= 2  # the current and the previous version
    assert out.resolve().name in left


def test_a_bundle_folder_of_an_earlier_version_is_replaced_by_a_link(
    tmp_path: Path,
    inputs: BuildInputs,
) -> None:
    out = tmp_path / "bundle"
    build_bundle(inputs, out, encoder=HashingEncoder(), settings=settings(tmp_path))
    real = out.resolve()
    out.unlink()
    shutil.copytree(real, out)  # the layout an earlier skillmatch wrote: a real folder
    build_bundle(inputs, out, encoder=HashingEncoder(), settings=settings(tmp_path))
    assert out.is_symlink() and open_bundle(out).manifest["files"]
    assert clean_stale(out) == []  # the build already cleaned up


def test_rejected_rows_counts_rows_not_rejects() -> None:
    rejects = rejects_to_frame(
        [
            Reject("a.csv", 3, "cost", "not a number"),
            Reject("a.csv", 3, "currency", "not ISO 4217"),  # the same row again: one row
            Reject("a.csv", 4, "id", "missing"),
            Reject("b.jsonl", 3, None, "malformed JSON line"),  # row 3 of another file: another row
            Reject("c.json", None, None, "not an array"),  # no row: the whole document counts as one
        ]
    )
    assert rejected_rows(rejects) == 4
    assert rejected_rows(rejects_to_frame([])) == 0
    assert describe_rejects(len(rejects), rejected_rows(rejects)) == "5 rejects in 4 rows"
    assert describe_rejects(1, 1) == "1 reject in 1 row" and describe_rejects(0, 0) == "none"


def test_the_manifest_counts_rejected_rows_apart_from_rejects(tmp_path: Path, inputs: BuildInputs) -> None:
    inputs.rejects = [
        Reject("x.csv", 2, "cost", "not a number"),
        Reject("x.csv", 2, "currency", "no exchange rate"),
        Reject("x.csv", 5, None, "row has only empty cells"),
    ]
    manifest = build_bundle(inputs, tmp_path / "b", encoder=HashingEncoder(), settings=settings(tmp_path))
    assert manifest["rejects"] == {"total": 3, "rows": 2, "by_file": {"x.csv": 3}}
    reloaded = open_bundle(tmp_path / "b")  # from rejects.csv, where empty rows are read back as NaN
    assert rejected_rows(reloaded.rejects) == 2
