"""Model resolution and load errors of the encoder (no model is loaded successfully here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from skillmatch.config import DEFAULT_MODEL
from skillmatch.encoding.base import ModelLoadError
from skillmatch.encoding.factory import load_encoder
from skillmatch.encoding.models import resolve_model


def test_default_model_resolves_to_the_packaged_copy() -> None:
    model_id, path = resolve_model(DEFAULT_MODEL)
    assert model_id == DEFAULT_MODEL
    assert (Path(path) / "modules.json").exists()
    assert resolve_model("all-MiniLM-L6-v2") == (model_id, path)


def test_local_folder_resolves_to_its_absolute_path(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    assert resolve_model(str(tmp_path)) == (str(tmp_path.resolve()), str(tmp_path.resolve()))


def test_folder_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not a sentence-transformers model folder"):
        load_encoder(str(tmp_path))


def test_unknown_hub_id_offline_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="SKILLMATCH_MODEL"):
        load_encoder("no-such-org/no-such-model-xyz")
