"""The text model registry: validate, copy in atomically, list, load by name, refuse the bad."""

from __future__ import annotations

from pathlib import Path

import pytest

from citysentinel.text.analyzer import TextAnalyzer, TextMessage
from citysentinel.text.registry import INFO_FILE, RegistryError, TextModelRegistry
from tests.text.test_analyzer import make_classifier


@pytest.fixture(scope="module")
def hazard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("src") / "hazard"
    make_classifier().save(out)
    return out


def test_register_list_and_load(hazard: Path, tmp_path: Path) -> None:
    reg = TextModelRegistry(tmp_path / "models" / "text")
    assert reg.list() == []
    got = reg.register(hazard, "hazard-v1")
    assert got.labels == ("fire", "flood") and got.encoder == "tfidf"
    assert got.path == tmp_path / "models" / "text" / "hazard-v1"
    assert (got.path / INFO_FILE).is_file() and got.source == str(hazard.resolve())
    assert [m.name for m in reg.list()] == ["hazard-v1"]
    models = reg.load(["hazard-v1"])
    assert list(models) == ["hazard-v1"]
    assert models["hazard-v1"].predict(["big fire at the market"]) == [("fire",)]
    assert reg.load(["hazard-v1"])["hazard-v1"] is models["hazard-v1"]  # loaded once
    assert not [p for p in reg.root.iterdir() if p.name.startswith(".")]  # no staging left


def test_replace_needs_to_be_asked_for(hazard: Path, tmp_path: Path) -> None:
    reg = TextModelRegistry(tmp_path)
    reg.register(hazard, "m")
    with pytest.raises(RegistryError, match="already registered"):
        reg.register(hazard, "m")
    first = reg.get("m").registered_at
    assert reg.register(hazard, "m", replace=True).name == "m" and first
    assert len(reg.list()) == 1


@pytest.mark.parametrize(
    ("name", "source", "message"),
    [
        ("Bad Name", None, "bad model name"),
        ("../escape", None, "bad model name"),
        ("ok", "missing", "not a directory"),
        ("ok", "empty", "cannot be loaded"),
    ],
)
def test_bad_registrations_are_refused(
    hazard: Path, tmp_path: Path, name: str, source: str | None, message: str
) -> None:
    (tmp_path / "empty").mkdir()
    reg = TextModelRegistry(tmp_path / "reg")
    with pytest.raises(RegistryError, match=message):
        reg.register(tmp_path / source if source else hazard, name)
    assert reg.list() == []


@pytest.mark.parametrize(
    ("names", "message"),
    [(["nope"], "no registered text model 'nope'"), (["m", "m"], "named twice")],
)
def test_loading_unknown_or_repeated_names_fails(
    hazard: Path, tmp_path: Path, names: list[str], message: str
) -> None:
    reg = TextModelRegistry(tmp_path)
    reg.register(hazard, "m")
    with pytest.raises(RegistryError, match=message):
        reg.load(names)


def test_swap_applies_to_the_next_batch(hazard: Path, tmp_path: Path) -> None:
    reg = TextModelRegistry(tmp_path)
    reg.register(hazard, "hazard")
    analyzer = TextAnalyzer("tips")
    [before] = analyzer.process(TextMessage("big fire at the market", id="1"))
    assert before.labels == []
    analyzer.swap_models(reg.load(["hazard"]))
    [after] = analyzer.process(TextMessage("big fire at the market", id="2"))
    assert after.labels[0] == "fire"
