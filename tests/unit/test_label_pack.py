"""Label-vector packs: written once per taxonomy version and model family, checked on reading, and used by builds
instead of encoding the labels again."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fakes import HashingEncoder, make_concepts
from typer.testing import CliRunner

from skillmatch.build import BuildInputs, build_bundle, label_texts, warm_label_pack
from skillmatch.bundle import open_bundle
from skillmatch.cli.commands import app
from skillmatch.config import Settings
from skillmatch.encoding.label_pack import PackedEncoder, PackError, find_pack, list_packs, read_pack
from skillmatch.schema import CREDENTIAL_COLUMNS, OCCUPATION_COLUMNS, POSTING_COLUMNS, Taxonomy


class PrecisionEncoder(HashingEncoder):
    """The hashing encoder under another fingerprint (another precision or another model)."""

    def __init__(self, fingerprint: str) -> None:
        super().__init__()
        self._fingerprint = fingerprint

    @property
    def fingerprint(self) -> str:
        return self._fingerprint


def taxonomy(version: str = "1") -> Taxonomy:
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
                "id": "o:a",
                "label": "data analyst",
                "alt_labels": ["SQL"],
                "description": "",
                "isco_group": "2511",
            }
        ],
        columns=OCCUPATION_COLUMNS,
    )
    relations = pd.DataFrame({"occupation_id": ["o:a"], "skill_id": ["c:sql"], "relation": ["essential"]})
    return Taxonomy(
        name="test", version=version, concepts=concepts, occupations=occupations, relations=relations
    )


def test_label_texts_are_every_label_once() -> None:
    texts = label_texts(taxonomy())
    assert texts[:2] == ["SQL", "structured query language"]
    assert "data analyst" in texts and texts.count("SQL") == 1  # an occupation's alt label equal to a skill's


def test_a_pack_round_trips_and_is_found_by_version_and_family(tmp_path: Path) -> None:
    enc = HashingEncoder()
    path, stats = warm_label_pack(taxonomy(), enc, tmp_path)
    assert stats["texts"] == len(label_texts(taxonomy()))
    pack = read_pack(path)
    np.testing.assert_array_equal(pack.vectors, enc.encode(pack.texts))
    assert pack.meta["taxonomy"] == "test" and pack.meta["version"] == "1"
    assert find_pack(tmp_path, enc, "test", "1") is not None
    assert find_pack(tmp_path, enc, "test", "2") is None  # another taxonomy version
    assert find_pack(tmp_path, PrecisionEncoder("other/model@1234"), "test", "1") is None  # another model
    # block-wise int8 stands in for float32: a float32 pack serves its builds too
    int8 = PrecisionEncoder(f"{enc.fingerprint}@hub+int8-block")
    float32 = PrecisionEncoder(f"{enc.fingerprint}@hub")
    warm_label_pack(taxonomy(), float32, tmp_path / "f")
    assert find_pack(tmp_path / "f", int8, "test", "1") is not None
    assert [p["taxonomy"] for p in list_packs(tmp_path)] == ["test"]


def test_a_damaged_pack_is_refused_and_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    enc = HashingEncoder()
    path, _ = warm_label_pack(taxonomy(), enc, tmp_path)
    npy = path.with_suffix(".npy")
    data = bytearray(npy.read_bytes())
    data[-1] ^= 0xFF
    npy.write_bytes(bytes(data))
    with pytest.raises(PackError, match="checksum"):
        read_pack(path)
    assert find_pack(tmp_path, enc, "test", "1") is None
    assert "label pack not used" in caplog.text
    npy.unlink()
    with pytest.raises(PackError, match="missing"):
        read_pack(path)
    path.write_text("{broken")
    with pytest.raises(PackError, match="not a readable label pack"):
        read_pack(path)


def test_the_packed_encoder_encodes_only_what_the_pack_lacks(tmp_path: Path) -> None:
    inner = HashingEncoder()
    path, _ = warm_label_pack(taxonomy(), inner, tmp_path)
    packed = PackedEncoder(inner, read_pack(path))
    inner.calls.clear()
    vectors = packed.encode(["SQL", "not a label", "excel"])
    assert inner.calls == [1] and packed.stats == {"from_pack": 2, "encoded": 1}
    np.testing.assert_allclose(vectors, inner.encode(["SQL", "not a label", "excel"]), atol=1e-6)


def test_a_build_takes_its_label_vectors_from_the_pack(tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path / "cache", use_cache=True, link_min_score=0.5)
    inputs = BuildInputs(
        taxonomy(),
        pd.DataFrame(columns=CREDENTIAL_COLUMNS),
        pd.DataFrame(columns=POSTING_COLUMNS),
    )
    cold_encoder = HashingEncoder()
    cold = build_bundle(inputs, tmp_path / "cold", encoder=cold_encoder, settings=settings)
    assert cold["label_vectors"] == {}
    assert {"encode labels", "index labels", "encode occupations", "index occupations"} <= set(
        cold["timings_s"]
    )
    warm_label_pack(taxonomy(), HashingEncoder(), settings.cache_dir / "labels")
    encoder = HashingEncoder()
    warm = build_bundle(inputs, tmp_path / "warm", encoder=encoder, settings=settings)
    assert warm["label_vectors"]["from_pack"] == 8 and warm["label_vectors"]["encoded"] == 0
    assert warm["label_vectors"]["fingerprint"] == encoder.fingerprint
    a, b = open_bundle(tmp_path / "cold"), open_bundle(tmp_path / "warm")
    np.testing.assert_allclose(a.label_index.reconstruct(), b.label_index.reconstruct(), atol=1e-6)
    no_cache = build_bundle(
        inputs,
        tmp_path / "off",
        encoder=HashingEncoder(),
        settings=settings.model_copy(update={"use_cache": False}),
    )
    assert no_cache["label_vectors"] == {}  # --no-cache: no pack either


def test_cache_warm_and_list_on_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "skillmatch.encoding.factory.make_encoder", lambda settings, *a, **k: HashingEncoder()
    )
    taxonomy_csv = tmp_path / "taxonomy.csv"
    taxonomy_csv.write_text("id,label,alt_labels\nc:1,SQL,structured query language\nc:2,Python,\n")
    result = CliRunner().invoke(
        app, ["cache", "warm", "--taxonomy", str(taxonomy_csv), "--dir", str(tmp_path / "p")]
    )
    assert result.exit_code == 0, result.output
    pack = read_pack(Path(result.stdout.strip()))
    assert sorted(pack.texts) == ["Python", "SQL", "structured query language"]
    listed = CliRunner().invoke(app, ["cache", "list", "--dir", str(tmp_path / "p"), "--json"])
    assert listed.exit_code == 0 and json.loads(listed.stdout.splitlines()[0])["count"] == 3
