"""Fine-tune the real encoder for a few steps on pairs built from ESCO, then load the result as an encoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from skillmatch.encoding.cached import CachedEncoder
from skillmatch.encoding.factory import load_encoder
from skillmatch.encoding.training import HOLDOUT_FILE, TRAINING_FILE, finetune_encoder
from skillmatch.evaluation.finetune import read_holdout, training_pairs

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ESCO = DATA / "esco" / "v1.1.1"


@pytest.fixture(scope="module")
def esco_concepts():
    if not (ESCO / "skills_en.csv").is_file():
        pytest.skip(f"ESCO v1.1.1 data not found at {ESCO} (../shared/data is absent)")
    from skillmatch.readers import load_taxonomy

    taxonomy, _ = load_taxonomy(ESCO)
    return taxonomy.concepts


def test_finetune_tiny_run_gives_a_loadable_different_encoder(
    esco_concepts, real_encoder: CachedEncoder, tmp_path: Path
) -> None:
    pairs = training_pairs(esco_concepts, max_alt_per_concept=2, holdout=0.05, seed=0)
    assert pairs.attrs["stats"]["held_out"] == round(0.05 * len(esco_concepts))
    out_dir = tmp_path / "esco-tiny"
    stats = finetune_encoder(
        "all-MiniLM-L6-v2", pairs, out_dir, max_pairs=192, batch_size=32, lr=1e-4, progress=False
    )

    assert stats["pairs_used"] == 192
    assert stats["pairs_trained"] == 192
    assert stats["steps"] >= 192 // 32
    assert stats["base_model"] == real_encoder.model_id
    assert stats["holdout"]["concepts"] == len(pairs.attrs["holdout_ids"])
    assert stats["pairs_per_second"] > 0
    written = json.loads((out_dir / TRAINING_FILE).read_text())
    assert written == stats
    assert (out_dir / HOLDOUT_FILE).is_file()
    assert read_holdout(out_dir) == pairs.attrs["holdout_ids"]

    tuned = load_encoder(str(out_dir), cache_dir=None)
    assert tuned.dim == real_encoder.dim == 384
    assert tuned.fingerprint != real_encoder.fingerprint
    texts = ["manage musical staff", "python programming", "bake bread"]
    before, after = real_encoder.encode(texts), tuned.encode(texts)
    assert after.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(after, axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(before, after, atol=1e-4), "training did not change the weights"
